//! `liverkit volumes`: label volumetry as a table, JSON or CSV.

use std::process::ExitCode;

use liverkit::case::figures::Drawn;
use liverkit::case::pages::volumes_page;
use liverkit::case::volumes::{self, VolumeReport};
use liverkit::io::ReadOptions;
use liverkit::volumetry;

use super::figures::FigureSet;
use super::output::{self, Align};
use super::{Failure, VolumesArgs};

pub fn run(args: &VolumesArgs, options: &ReadOptions) -> Result<ExitCode, Failure> {
    let mut report = volumes::volumes_of_paths(&args.paths, args.masks, options)?;
    if let Some(sr) = &args.sr {
        let files = liverkit::case::roles::Files::new(None, options.clone())?;
        let note = liverkit::case::outputs::write_report_sr(
            &files,
            sr,
            &liverkit::case::report_sr::volumes_sr(&report),
            None,
        )?;
        report.warnings.extend(note);
    }
    if args.figures.wanted() {
        figures(args, &report, options)?;
    }
    let text = if args.json {
        output::json(&report)?
    } else if args.csv {
        output::warn(&report.warnings);
        csv(&report)?
    } else {
        output::warn(&report.warnings);
        table(&report)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The slices, report and 3D view of the largest labels, through the centre
/// of all of them.
fn figures(args: &VolumesArgs, report: &VolumeReport, options: &ReadOptions) -> Result<(), Failure> {
    let masks = volumes::largest_label_masks(report, options)?;
    let drawn: Vec<Drawn> = masks
        .iter()
        .enumerate()
        .map(|(i, (mask, name))| Drawn {
            mask,
            name,
            rgb: liverkit::render::label_rgb(i),
            fill: 0.35,
            structure: None,
            in_scene: true,
        })
        .collect();
    let point = volumes::drawn_centre_mm(report).unwrap_or_default();
    let grid = volumes::report_grid(report)?;
    let set = FigureSet {
        name: "",
        grid: Some(&grid),
        point_mm: point,
        drawn: &drawn,
        image: args.figures.image.as_deref(),
    };
    args.figures
        .write_sets(options, &[set], Default::default(), || volumes_page(report))?;
    Ok(())
}

fn edges(l: &volumetry::LabelVolume) -> String {
    if l.edge_faces.is_empty() {
        "no".into()
    } else {
        l.edge_faces
            .iter()
            .map(|f| f.direction)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn table(r: &VolumeReport) -> String {
    let s = r.spacing_mm;
    let mut out = String::new();
    let inputs: Vec<String> = r.input.iter().map(|p| p.display().to_string()).collect();
    out.push_str(&format!("# input: {}\n", inputs.join(" ")));
    out.push_str(&format!(
        "# grid: {} x {} x {} voxels of {:.4} x {:.4} x {:.4} mm ({:.4} mm3), orientation {}\n",
        r.dims[0], r.dims[1], r.dims[2], s[0], s[1], s[2], r.voxel_volume_mm3, r.orientation
    ));
    let rows: Vec<Vec<String>> = r
        .labels
        .iter()
        .map(|l| {
            vec![
                l.label.to_string(),
                l.name.clone().unwrap_or_default(),
                l.voxels.to_string(),
                format!("{:.3}", l.volume_ml),
                edges(l),
            ]
        })
        .collect();
    out.push_str(&output::table(
        &[
            ("label", Align::Right),
            ("name", Align::Left),
            ("voxels", Align::Right),
            ("volume_ml", Align::Right),
            ("touches_edge", Align::Left),
        ],
        &rows,
    ));
    out
}

fn csv(r: &VolumeReport) -> Result<String, Failure> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let to_err = |e: csv::Error| {
        Failure::Error(liverkit::Error::Write {
            path: "<stdout>".into(),
            source: std::io::Error::other(e),
        })
    };
    w.write_record([
        "label",
        "name",
        "voxels",
        "volume_ml",
        "bbox_min_i",
        "bbox_min_j",
        "bbox_min_k",
        "bbox_max_i",
        "bbox_max_j",
        "bbox_max_k",
        "centroid_x_mm",
        "centroid_y_mm",
        "centroid_z_mm",
        "touches_edge",
        "edge_faces",
        "source",
    ])
    .map_err(to_err)?;
    for l in &r.labels {
        let mut rec = vec![
            l.label.to_string(),
            l.name.clone().unwrap_or_default(),
            l.voxels.to_string(),
            l.volume_ml.to_string(),
        ];
        rec.extend(l.bbox_min.iter().chain(&l.bbox_max).map(|v| v.to_string()));
        rec.extend(l.centroid_mm.iter().map(|v| v.to_string()));
        rec.push(l.touches_edge.to_string());
        rec.push(
            l.edge_faces
                .iter()
                .map(|f| f.direction)
                .collect::<Vec<_>>()
                .join(";"),
        );
        rec.push(
            l.source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        w.write_record(&rec).map_err(to_err)?;
    }
    let bytes = w.into_inner().map_err(|e| to_err(e.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
