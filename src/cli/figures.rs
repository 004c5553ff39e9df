//! `--png DIR` and `--image FILE`, shared by the commands that draw their
//! case: slices through the point that matters, written as PNG files.

use std::path::PathBuf;

use clap::Args;

use liverkit::case::figures::{background, write_slices};
use liverkit::io::structure::Structure;
use liverkit::io::ReadOptions;
use liverkit::volume::Mask;

use super::Failure;

/// Figures of the case.
#[derive(Debug, Args)]
pub struct FigureArgs {
    /// Write axial, coronal and sagittal slices through the point that
    /// matters as axial.png, coronal.png and sagittal.png into DIR
    /// (radiological convention, R/L/A/P/S/I letters, a mm scale bar).
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// The CT (or MR) drawn behind the structures in the slices, in the
    /// liver window (W 150 / L 30 HU); it must lie on the scan's grid.
    #[arg(long, value_name = "FILE", requires = "png")]
    pub image: Option<PathBuf>,
}

impl FigureArgs {
    /// Writes the slices when asked: through `point_mm`, the structures in
    /// their colours. Returns the files written.
    pub fn write(
        &self,
        read: &ReadOptions,
        point_mm: [f64; 3],
        structures: &[(&Mask, Structure)],
    ) -> Result<Vec<PathBuf>, Failure> {
        let (Some(dir), Some((first, _))) = (&self.png, structures.first()) else {
            return Ok(Vec::new());
        };
        let grid = first.grid();
        let bg = match &self.image {
            Some(p) => Some(background(p, grid, read)?),
            None => None,
        };
        Ok(write_slices(dir, grid, point_mm, bg.as_ref(), structures)?)
    }
}
