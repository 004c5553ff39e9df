//! `--png DIR`, `--report FILE.html` and `--image FILE`, shared by the
//! commands that draw their case: slices through the point that matters,
//! written as PNG files and into the one-page HTML report.

use std::path::PathBuf;

use clap::Args;

use liverkit::case::figures::{background, render_pngs, write_pngs, Drawn};
use liverkit::case::report3d::{Scene, SceneExtras};
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
    /// colours) as PNG files, and the report `page` with them and the 3D
    /// view of the structures (with `extras`), when asked. Returns the files
    /// written.
    pub fn write(
        &self,
        read: &ReadOptions,
        point_mm: [f64; 3],
        structures: &[(&Mask, Structure)],
        extras: SceneExtras<'_>,
        page: impl FnOnce() -> liverkit::Result<Page>,
    ) -> Result<Vec<PathBuf>, Failure> {
        let drawn = Drawn::all(structures);
        let set = FigureSet {
            name: "",
            grid: None,
            point_mm,
            drawn: &drawn,
            image: self.image.as_deref(),
        };
        self.write_sets(read, &[set], extras, page)
    }

    /// As [`FigureArgs::write`] for several scans (before and after PVE):
    /// each set's slices, named and captioned by the set; the 3D view of the
    /// last set.
    pub fn write_sets(
        &self,
        read: &ReadOptions,
        sets: &[FigureSet<'_>],
        extras: SceneExtras<'_>,
        page: impl FnOnce() -> liverkit::Result<Page>,
    ) -> Result<Vec<PathBuf>, Failure> {
        if !self.wanted() {
            return Ok(Vec::new());
        }
        let mut written = Vec::new();
        let mut figures = Vec::new();
        let mut legend: Vec<(String, [u8; 3])> = Vec::new();
        for set in sets {
            let Some(grid) = set.grid.or_else(|| set.drawn.first().map(|d| d.mask.grid())) else {
                continue;
            };
            let bg = match set.image {
                Some(p) => Some(background(p, grid, read)?),
                None => None,
            };
            let pngs = render_pngs(grid, set.point_mm, bg.as_ref(), set.drawn, &extras)?;
            if let Some(dir) = &self.png {
                written.extend(write_pngs(dir, set.name, &pngs)?);
            }
            figures.extend(pngs.into_iter().map(|(plane, png)| Figure {
                caption: caption(set.name, plane),
                png,
            }));
            for d in set.drawn {
                let entry = (d.name.to_string(), d.rgb);
                if !legend.contains(&entry) {
                    legend.push(entry);
                }
            }
        }
        if let Some(path) = &self.report {
            let mut page = page()?;
            page.figures = figures;
            page.legend = legend;
            if let Some(last) = sets.last() {
                page.scene = Some(Scene::build(last.drawn, extras));
            }
            for p in sets.iter().filter_map(|s| s.image) {
                page.inputs.push(format!("{} (background)", p.display()));
            }
            write_page(path, &page)?;
            written.push(path.clone());
        }
        Ok(written)
    }
}

/// One scan's figures: a name for its files and captions (empty for a
/// single scan), the point the planes go through, the structures and the
/// background image.
#[derive(Debug, Clone, Copy)]
pub struct FigureSet<'a> {
    /// `pre`, `post` or empty.
    pub name: &'a str,
    /// The scan's grid, when the structures are cut to their boxes (else
    /// the first structure's).
    pub grid: Option<&'a liverkit::grid::Grid>,
    /// The point the three planes go through, RAS+ mm.
    pub point_mm: [f64; 3],
    /// What is drawn, in its colours.
    pub drawn: &'a [Drawn<'a>],
    /// The CT (or MR) behind the structures.
    pub image: Option<&'a std::path::Path>,
}

/// "Axial", "Coronal", "Sagittal": the plane's file name, capitalised;
/// after the set's name ("pre · axial") when it has one.
fn caption(set: &str, plane: Plane) -> String {
    let name = plane.name();
    if set.is_empty() {
        name[..1].to_uppercase() + &name[1..]
    } else {
        format!("{}-PVE · {name}", set[..1].to_uppercase() + &set[1..])
    }
}
