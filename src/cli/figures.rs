//! `--png DIR`, `--report FILE.html` and `--image FILE`, shared by the
//! commands that draw their case: slices through the point that matters,
//! written as PNG files and into the one-page HTML report.

use std::path::PathBuf;

use clap::Args;

use liverkit::case::figures::{background, render_pngs, write_pngs};
use liverkit::case::report_html::{write_page, Figure, Page};
use liverkit::io::structure::Structure;
use liverkit::io::ReadOptions;
use liverkit::render::Plane;
use liverkit::volume::Mask;

use super::Failure;

/// Figures of the case.
#[derive(Debug, Args)]
#[group(id = "figure_outputs", multiple = true)]
pub struct FigureArgs {
    /// Write axial, coronal and sagittal slices through the point that
    /// matters as axial.png, coronal.png and sagittal.png into DIR
    /// (radiological convention, R/L/A/P/S/I letters, a mm scale bar).
    #[arg(long, value_name = "DIR", group = "figure_outputs")]
    pub png: Option<PathBuf>,
    /// Write a one-page, self-contained HTML report: the verdict, the key
    /// numbers, the slices and the charts (opens offline, prints to A4).
    #[arg(long, value_name = "FILE.html", group = "figure_outputs")]
    pub report: Option<PathBuf>,
    /// The CT (or MR) drawn behind the structures in the slices, in the
    /// liver window (W 150 / L 30 HU); it must lie on the scan's grid.
    #[arg(long, value_name = "FILE", requires = "figure_outputs")]
    pub image: Option<PathBuf>,
}

impl FigureArgs {
    /// Whether any figure was asked for.
    pub fn wanted(&self) -> bool {
        self.png.is_some() || self.report.is_some()
    }

    /// Writes the slices through `point_mm` (the structures in their
    /// colours) as PNG files, and the report `page` with them, when asked.
    /// Returns the files written.
    pub fn write(
        &self,
        read: &ReadOptions,
        point_mm: [f64; 3],
        structures: &[(&Mask, Structure)],
        page: impl FnOnce() -> liverkit::Result<Page>,
    ) -> Result<Vec<PathBuf>, Failure> {
        let Some((first, _)) = structures.first().filter(|_| self.wanted()) else {
            return Ok(Vec::new());
        };
        let grid = first.grid();
        let bg = match &self.image {
            Some(p) => Some(background(p, grid, read)?),
            None => None,
        };
        let pngs = render_pngs(grid, point_mm, bg.as_ref(), structures)?;
        let mut written = match &self.png {
            Some(dir) => write_pngs(dir, &pngs)?,
            None => Vec::new(),
        };
        if let Some(path) = &self.report {
            let mut page = page()?;
            page.figures = pngs
                .into_iter()
                .map(|(plane, png)| Figure {
                    caption: caption(plane),
                    png,
                })
                .collect();
            for (_, s) in structures {
                if !page.legend.contains(s) {
                    page.legend.push(*s);
                }
            }
            if let Some(p) = &self.image {
                page.inputs.push(format!("{} (background)", p.display()));
            }
            write_page(path, &page)?;
            written.push(path.clone());
        }
        Ok(written)
    }
}

/// "Axial", "Coronal", "Sagittal": the plane's file name, capitalised.
fn caption(plane: Plane) -> String {
    let name = plane.name();
    name[..1].to_uppercase() + &name[1..]
}
