//! `liverkit info`: what liverkit reads from a file's header.

use std::process::ExitCode;

use liverkit::grid::format_number as num;
use liverkit::io::info::ImageInfo;
use liverkit::io::nifti::NiftiFile;

use super::output;
use super::{Failure, InfoArgs};

pub fn run(args: &InfoArgs) -> Result<ExitCode, Failure> {
    let file = NiftiFile::open(&args.path)?;
    let info = ImageInfo::of_nifti(&file);
    let text = if args.json {
        output::json(&info)?
    } else {
        text(&info)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn text(i: &ImageInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("file", i.path.display().to_string()),
        (
            "format",
            format!(
                "{}{}, {}, voxels at byte {}{}",
                i.format,
                if i.compressed { " (gzip)" } else { "" },
                i.byte_order,
                i.vox_offset,
                if i.data_file != i.path {
                    format!(" of {}", i.data_file.display())
                } else {
                    String::new()
                }
            ),
        ),
        (
            "dims",
            i.dims
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" x "),
        ),
        (
            "datatype",
            format!("{} (code {}, bitpix {})", i.datatype, i.datatype_code, i.bitpix),
        ),
        (
            "spacing_mm",
            format!(
                "{} x {} x {}  (voxel {} mm3)",
                num(i.spacing_mm[0]),
                num(i.spacing_mm[1]),
                num(i.spacing_mm[2]),
                num(i.voxel_volume_mm3)
            ),
        ),
        (
            "pixdim",
            i.pixdim.iter().map(|v| num(*v)).collect::<Vec<_>>().join(" "),
        ),
        ("units", format!("space {}, time {}", i.units_space, i.units_time)),
        ("orientation", i.orientation.to_string()),
        (
            "geometry",
            format!(
                "{:?} (sform_code {} {}, qform_code {} {})",
                i.geometry_source, i.sform_code, i.sform_code_name, i.qform_code, i.qform_code_name
            )
            .to_lowercase(),
        ),
    ];
    for (n, r) in i.affine.iter().take(3).enumerate() {
        rows.push((
            if n == 0 { "affine" } else { "" },
            r.iter()
                .map(|v| format!("{:>11}", num(*v)))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    rows.push((
        "scaling",
        format!(
            "scl_slope {}, scl_inter {} (intensity images only)",
            num(i.scl_slope),
            num(i.scl_inter)
        ),
    ));
    if !i.description.is_empty() {
        rows.push(("description", i.description.clone()));
    }
    rows.push((
        "extensions",
        if i.extensions.is_empty() {
            "none".into()
        } else {
            i.extensions
                .iter()
                .map(|e| format!("ecode {} ({}, {} bytes)", e.code, e.content, e.bytes))
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    rows.push((
        "labels",
        if i.labels.is_empty() {
            "none named".into()
        } else {
            format!(
                "{} named: {}",
                i.labels.len(),
                i.labels
                    .iter()
                    .map(|l| format!("{} {}", l.label, l.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    ));
    for w in &i.warnings {
        rows.push(("warning", format!("{}: {}", w.field, w.message)));
    }
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<12} {v}\n"));
    }
    out
}
