//! `liverkit info`: what liverkit reads from a file's header.

use std::process::ExitCode;

use liverkit::grid::format_number as num;
use liverkit::io::info::{read_info, DicomInfo, ImageInfo, Info, NrrdInfo, SeriesList};
use liverkit::io::ReadOptions;

use super::output;
use super::{Failure, InfoArgs};

pub fn run(args: &InfoArgs, options: &ReadOptions) -> Result<ExitCode, Failure> {
    let mut paths = vec![args.path.clone()];
    paths.extend(args.more.iter().cloned());
    let info = read_info(&paths, options)?;
    let text = if args.json {
        output::json(&info)?
    } else {
        match &info {
            Info::Dicom(i) => dicom_text(i),
            Info::Nrrd(i) => nrrd_text(i),
            Info::Nifti(i) => text(i),
            Info::DicomSeriesList(l) => series_list_text(l),
        }
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
    push_affine(&mut rows, "affine", &i.affine);
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
    render(rows)
}

fn nrrd_text(i: &NrrdInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("file", i.path.display().to_string()),
        ("format", format!("{}, {} encoding", i.format, i.encoding)),
        (
            "dims",
            format!(
                "{} x {} x {}{}",
                i.dims[0],
                i.dims[1],
                i.dims[2],
                if i.layers > 1 {
                    format!(" in {} layers", i.layers)
                } else {
                    String::new()
                }
            ),
        ),
        ("datatype", i.datatype.to_string()),
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
        ("space", i.space.clone()),
        ("orientation", i.orientation.to_string()),
    ];
    push_affine(&mut rows, "affine (RAS)", &i.affine);
    for s in &i.segments {
        rows.push((
            "segment",
            format!(
                "{} {} (layer {}, value {}{})",
                s.label,
                s.name,
                s.layer,
                s.label_value,
                s.type_code().map(|t| format!(", type {t}")).unwrap_or_default()
            ),
        ));
    }
    for w in &i.warnings {
        rows.push(("warning", format!("{}: {}", w.field, w.message)));
    }
    render(rows)
}

fn series_list_text(l: &SeriesList) -> String {
    let mut rows: Vec<Vec<String>> = vec![["folder", "modality", "description", "files", "series"]
        .map(String::from)
        .to_vec()];
    for s in &l.series {
        rows.push(vec![
            s.folder.display().to_string(),
            s.modality.clone(),
            if s.description.is_empty() {
                "-".into()
            } else {
                s.description.clone()
            },
            s.files.to_string(),
            s.uid.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut o = format!(
        "# input: {} holds {} DICOM series\n",
        l.path.display(),
        l.series.len()
    );
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        o.push_str(cells.join("  ").trim_end());
        o.push('\n');
    }
    o.push_str(&format!(
        "# {}\n",
        liverkit::error::render_parameters(&l.hint, |n| super::flag_of(n, None))
    ));
    o
}

fn dicom_text(i: &DicomInfo) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("file", i.path.display().to_string()),
        (
            "format",
            format!("{}, {} ({})", i.format, i.transfer_syntax, i.transfer_syntax_uid),
        ),
        ("modality", i.modality.clone()),
    ];
    if !i.series_uid.is_empty() {
        rows.push(("series", i.series_uid.clone()));
    }
    if i.series.len() > 1 {
        for s in &i.series {
            rows.push((
                "in input",
                format!(
                    "{} ({} {}, {} files in {})",
                    s.uid,
                    s.modality,
                    s.description,
                    s.files,
                    s.folder.display()
                ),
            ));
        }
    }
    rows.push((
        if i.format == "DICOM SEG" {
            "frames"
        } else {
            "slices"
        },
        i.slices.to_string(),
    ));
    rows.push(("dims", format!("{} x {} x {}", i.dims[0], i.dims[1], i.dims[2])));
    rows.push((
        "spacing_mm",
        format!(
            "{} x {} x {} (slice step from the positions{})",
            num(i.spacing_mm[0]),
            num(i.spacing_mm[1]),
            num(i.spacing_mm[2]),
            i.slice_thickness_mm
                .map(|t| format!("; SliceThickness {}", num(t)))
                .unwrap_or_default()
        ),
    ));
    rows.push(("orientation", i.orientation.to_string()));
    push_affine(&mut rows, "affine (RAS)", &i.affine);
    if let Some(d) = &i.date {
        rows.push(("date", d.clone()));
    }
    if let Some(t) = &i.segmentation_type {
        rows.push(("seg type", t.clone()));
    }
    if let Some(r) = &i.referenced_series_uid {
        rows.push(("references", r.clone()));
    }
    for s in &i.segments {
        let code = s
            .property_type
            .as_ref()
            .map(|c| format!(", {}^{} {}", c.scheme, c.value, c.meaning))
            .unwrap_or_default();
        rows.push((
            "segment",
            format!("{} {} ({} voxels{code})", s.number, s.label, s.voxels),
        ));
    }
    for w in &i.warnings {
        rows.push(("warning", format!("{}: {}", w.field, w.message)));
    }
    render(rows)
}

/// The first three rows of an affine, under `title`.
fn push_affine(rows: &mut Vec<(&str, String)>, title: &'static str, affine: &[[f64; 4]; 4]) {
    for (n, r) in affine.iter().take(3).enumerate() {
        rows.push((
            if n == 0 { title } else { "" },
            r.iter()
                .map(|v| format!("{:>11}", num(*v)))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
}

/// Rows as aligned `name value` lines.
fn render(rows: Vec<(&str, String)>) -> String {
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<12} {v}\n"));
    }
    out
}
