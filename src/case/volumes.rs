//! The volumes case: what `liverkit volumes PATH...` measures, from files.
//! A NIfTI label map is streamed through the counting kernel of
//! [`crate::volumetry`] (never held whole in memory); other formats are read
//! whole; a list or a directory of masks counts one label per file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result, Warning};
use crate::grid::{Grid, Orientation};
use crate::io::info::LabelEntry;
use crate::io::nifti::NiftiFile;
use crate::io::ReadOptions;
use crate::volume::{LabelMap, LabelNames, Mask};
use crate::volumetry::stats::{self, Accumulator, BadVoxel, LabelAcc};
use crate::volumetry::{label_volumes, summarize, LabelVolume, MAX_LABELS, UNNAMED_LABELS_WARN};
use crate::with_chunk;

/// The volumetry of one input (a label map, or masks on one grid): what
/// `liverkit volumes --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeReport {
    /// The files read.
    pub input: Vec<PathBuf>,
    /// Voxels along `i`, `j`, `k`.
    pub dims: [usize; 3],
    /// Voxel spacing in mm.
    pub spacing_mm: [f64; 3],
    /// Volume of one voxel in mm³ (`|det|` of the affine).
    pub voxel_volume_mm3: f64,
    /// Directions of the `i`, `j`, `k` axes (nibabel's codes, e.g. `RAS`).
    pub orientation: Orientation,
    /// The frame of `centroid_mm` and `affine`.
    pub coordinate_system: &'static str,
    /// Voxel-index → world affine (rows).
    pub affine: [[f64; 4]; 4],
    /// Everything the user should know about the input and the result.
    pub warnings: Vec<Warning>,
    /// One entry per label with at least one voxel (label 0, background, excluded).
    pub labels: Vec<LabelVolume>,
    /// Labels named in the file's label table without any voxel.
    pub absent_labels: Vec<LabelEntry>,
}

/// Labels named in the file without any voxel.
fn absent(names: &crate::volume::LabelNames, labels: &[LabelVolume]) -> Vec<LabelEntry> {
    names
        .iter()
        .filter(|(l, _)| **l != 0 && !labels.iter().any(|v| v.label == **l))
        .map(|(l, n)| LabelEntry {
            label: *l,
            name: n.clone(),
        })
        .collect()
}

/// The volumetry report of a label map already in memory, as
/// [`volumes_of_label_file`] gives it for a file: `input` names where the
/// map came from, `warnings` are those of reading it.
///
/// # Errors
/// As [`label_volumes`].
pub fn volumes_of_map(map: &LabelMap, input: Vec<PathBuf>, warnings: Vec<Warning>) -> Result<VolumeReport> {
    let labels = label_volumes(map)?;
    let absent_labels = absent(map.names(), &labels);
    Ok(report(input, map.grid(), warnings, labels, absent_labels))
}

/// Volumetry of a label-map file, streamed (the volume is never held whole
/// in memory).
///
/// # Errors
/// Any error of [`crate::io::open`] or [`NiftiFile::stream_voxels`]; `Data`
/// for a float map with a value that is not a whole number.
pub fn volumes_of_label_file(path: &Path, options: &ReadOptions) -> Result<VolumeReport> {
    let opened = crate::io::open(path, options)?;
    let Some(file) = opened.nifti() else {
        // Other formats are read whole, then counted.
        let loaded = opened.read_label_map()?;
        let mut report = volumes_of_map(&loaded.value, vec![path.to_path_buf()], loaded.warnings)?;
        ensure_label_map(path, &report.labels)?;
        report.warnings.extend(unnamed_many_labels(
            path,
            report.labels.len(),
            loaded.value.names().is_empty(),
        ));
        return Ok(report);
    };
    let mut warnings = file.warnings().to_vec();
    warnings.extend(file.label_scaling_warning());
    let acc = stream_accumulate(file, options, &mut warnings)?;
    let names = file.label_names();
    let labels = summarize(acc.into_map(), file.grid(), names, None);
    ensure_label_map(path, &labels)?;
    warnings.extend(unnamed_many_labels(path, labels.len(), names.is_empty()));
    let absent_labels = absent(names, &labels);
    Ok(report(
        vec![path.to_path_buf()],
        file.grid(),
        warnings,
        labels,
        absent_labels,
    ))
}

/// The warning for a file with more than [`UNNAMED_LABELS_WARN`] labels and
/// no names.
fn unnamed_many_labels(path: &Path, count: usize, unnamed: bool) -> Option<Warning> {
    (unnamed && count > UNNAMED_LABELS_WARN).then(|| {
        Warning::new(
            Some(path),
            "voxel values",
            format!(
                "{count} distinct values and no label table: is this an intensity image (CT or MR) rather than a \
                 segmentation? Its \"volumes\" would mean nothing"
            ),
        )
    })
}

/// Refuses a label map with more than [`MAX_LABELS`] labels: an intensity
/// image given where a segmentation is needed.
///
/// # Errors
/// `Data` (`voxel values`) naming the file, the count and the value range.
pub fn ensure_label_map(path: &Path, labels: &[LabelVolume]) -> Result<()> {
    if labels.len() <= MAX_LABELS {
        return Ok(());
    }
    let lo = labels.iter().map(|l| l.label).min().unwrap_or(0);
    let hi = labels.iter().map(|l| l.label).max().unwrap_or(0);
    Err(Error::Data {
        path: path.to_path_buf(),
        field: "voxel values".into(),
        expected: format!(
            "a label map (a segmentation: at most {MAX_LABELS} distinct labels); this looks like an \
             intensity image (CT or MR), which has no structures to measure"
        ),
        found: format!("{} distinct values from {lo} to {hi}", labels.len()),
    })
}

/// What `liverkit volumes PATH...` measures: a directory of masks (one
/// label per file), several mask files, one file as a mask (`as_masks`), or
/// one label map.
///
/// # Errors
/// `Parameter` for an empty list; errors of [`mask_files_in`],
/// [`volumes_of_masks`] and [`volumes_of_label_file`].
pub fn volumes_of_paths(paths: &[PathBuf], as_masks: bool, options: &ReadOptions) -> Result<VolumeReport> {
    match paths {
        [dir] if dir.is_dir() => {
            let files = match series_folders_in(dir)? {
                // A folder of DICOM mask series, one folder per structure.
                Some(folders) => folders,
                // A DICOM series itself: one label map or mask.
                None if crate::io::dicom::holds_dicom_files(dir) => {
                    return volumes_of_label_file(dir, options);
                }
                None => mask_files_in(dir)?,
            };
            let mut r = volumes_of_masks(&files, options)?;
            r.input = paths.to_vec();
            Ok(r)
        }
        [file] if !as_masks => volumes_of_label_file(file, options),
        _ => volumes_of_masks(paths, options),
    }
}

/// Volumetry of mask files on one grid: every non-zero voxel of file `n`
/// (1-based) counts for label `n`, named after the file (`liver.nii.gz` →
/// `liver`). Masks may overlap.
///
/// # Errors
/// `Parameter` for an empty list; `GridMismatch` when a mask is not on the
/// first mask's grid (checked on the headers, before any voxel is read); any
/// read error.
pub fn volumes_of_masks(paths: &[PathBuf], options: &ReadOptions) -> Result<VolumeReport> {
    let Some(first) = paths.first() else {
        return Err(crate::error::parameter_error(
            "masks",
            "an empty list",
            "at least one mask file",
        ));
    };
    let files = paths
        .iter()
        .map(|p| crate::io::open(p, options))
        .collect::<Result<Vec<_>>>()?;
    // NIfTI grids are known from the headers: checked before any voxel is
    // read. Other formats are checked once read.
    let header_grids: Vec<Option<Grid>> = files
        .iter()
        .map(|f| f.nifti().map(|n| n.grid().clone()))
        .collect();
    if let Some((g0, p0)) = header_grids
        .iter()
        .zip(paths)
        .find_map(|(g, p)| g.as_ref().map(|g| (g, p)))
    {
        for (g, p) in header_grids.iter().zip(paths) {
            if let Some(g) = g {
                g0.ensure_same(g, &p0.display().to_string(), &p.display().to_string())?;
            }
        }
    }
    type Counted = (Grid, Accumulator, Vec<Warning>);
    let results: Vec<Counted> = files
        .par_iter()
        .map(|f| match f.nifti() {
            Some(n) => {
                let mut w = n.warnings().to_vec();
                let acc = stream_accumulate(n, options, &mut w)?;
                Ok((n.grid().clone(), acc, w))
            }
            None => {
                let loaded = f.read_label_map()?;
                let acc = crate::volumetry::label_accumulator(&loaded.value)?;
                Ok((loaded.value.grid().clone(), acc, loaded.warnings))
            }
        })
        .collect::<Result<_>>()?;
    let grid = results[0].0.clone();
    for ((g, _, _), p) in results.iter().zip(paths).skip(1) {
        grid.ensure_same(g, &first.display().to_string(), &p.display().to_string())?;
    }
    let results: Vec<(Accumulator, Vec<Warning>)> = results.into_iter().map(|(_, a, w)| (a, w)).collect();
    let mut warnings = Vec::new();
    let mut labels = Vec::new();
    for (n, (f, (acc, mut w))) in paths.iter().zip(results).enumerate() {
        warnings.append(&mut w);
        let per_value = acc.into_map();
        let nonzero: Vec<i64> = per_value.keys().copied().filter(|&v| v != 0).collect();
        if nonzero.len() > 1 {
            warnings.push(Warning::new(
                Some(f.as_path()),
                "voxel values",
                format!("mask holds several non-zero values {nonzero:?}; all of them count as inside"),
            ));
        }
        let mut merged: Option<LabelAcc> = None;
        for (_, a) in per_value.into_iter().filter(|(v, _)| *v != 0) {
            match &mut merged {
                Some(m) => m.merge(&a),
                None => merged = Some(a),
            }
        }
        let label = n as i64 + 1;
        let name = mask_name(f);
        match merged {
            Some(acc) => {
                let mut one = BTreeMap::new();
                one.insert(label, acc);
                let names: LabelNames = [(label, name)].into_iter().collect();
                labels.extend(summarize(one, &grid, &names, Some(f.as_path())));
            }
            None => {
                warnings.push(Warning::new(
                    Some(f.as_path()),
                    "voxel values",
                    "mask is empty (no non-zero voxel)",
                ));
                labels.push(empty_label(label, name, f.as_path()));
            }
        }
    }
    Ok(report(paths.to_vec(), &grid, warnings, labels, Vec::new()))
}

/// The NIfTI files of a directory (such as TotalSegmentator's output
/// folder), sorted by name: `*.nii`, `*.nii.gz`, `*.hdr`, `*.hdr.gz`.
///
/// # Errors
/// `Read` when the directory cannot be listed; `Parameter` when it holds no
/// NIfTI file.
pub fn mask_files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Read {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    for e in entries {
        let p = e
            .map_err(|e| Error::Read {
                path: dir.to_path_buf(),
                source: e,
            })?
            .path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if p.is_file()
            && [".nii", ".nii.gz", ".hdr", ".hdr.gz"]
                .iter()
                .any(|s| name.ends_with(s))
        {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(crate::error::parameter_error(
            "mask directory",
            dir.display(),
            "a directory holding .nii or .nii.gz masks",
        ));
    }
    out.sort();
    Ok(out)
}

/// The sub-folders of `dir` that hold DICOM files directly, when `dir`
/// itself holds none and no NIfTI file (a folder of mask series, one folder
/// per structure), sorted by name; `None` otherwise.
///
/// # Errors
/// `Read` when a directory cannot be listed.
pub fn series_folders_in(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    if crate::io::dicom::holds_dicom_files(dir) {
        return Ok(None);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Read {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut folders = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && crate::io::dicom::holds_dicom_files(&p) {
            folders.push(p);
        } else if p.is_file()
            && mask_name(&p)
                != p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
        {
            // A NIfTI mask beside them: a folder of NIfTI masks.
            return Ok(None);
        }
    }
    folders.sort();
    Ok((!folders.is_empty()).then_some(folders))
}

/// A mask's name: its file name without the NIfTI suffix; for a file of a
/// DICOM mask series, its folder's name (one folder per structure).
pub fn mask_name(path: &Path) -> String {
    if path.is_file() && crate::io::format_of(path) == crate::io::Format::Dicom {
        if let Some(folder) = path.parent().and_then(Path::file_name) {
            return folder.to_string_lossy().to_string();
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for suffix in [".nii.gz", ".hdr.gz", ".img.gz", ".nii", ".hdr", ".img"] {
        if name.to_lowercase().ends_with(suffix) && name.len() > suffix.len() {
            return name[..name.len() - suffix.len()].to_string();
        }
    }
    name
}

fn stream_accumulate(
    file: &NiftiFile,
    options: &ReadOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Accumulator> {
    let dims = file.grid().dims();
    let nx = dims[0] as u64;
    let mut total = Accumulator::default();
    let mut w = file.stream_voxels(options, |chunk, first| {
        let acc = with_chunk!(chunk, s => stats::scan_rows_par(s, dims, first / nx));
        total.merge(&acc.map_err(|bad| bad_voxel_error(file.path(), &bad, dims))?);
        Ok(())
    })?;
    warnings.append(&mut w);
    Ok(total)
}

fn bad_voxel_error(path: &Path, bad: &BadVoxel, dims: [usize; 3]) -> Error {
    let n = bad.index as usize;
    let (i, j, k) = (n % dims[0], (n / dims[0]) % dims[1], n / (dims[0] * dims[1]));
    Error::Data {
        path: path.to_path_buf(),
        field: "voxel values".into(),
        expected: "whole-number labels within the 64-bit signed range".into(),
        found: format!("{} at voxel ({i}, {j}, {k})", bad.value),
    }
}

fn empty_label(label: i64, name: String, source: &Path) -> LabelVolume {
    LabelVolume {
        label,
        name: Some(name),
        voxels: 0,
        volume_ml: 0.0,
        bbox_min: [0; 3],
        bbox_max: [0; 3],
        centroid_mm: [f64::NAN; 3],
        touches_edge: false,
        edge_faces: Vec::new(),
        source: Some(source.to_path_buf()),
    }
}

fn report(
    input: Vec<PathBuf>,
    grid: &Grid,
    mut warnings: Vec<Warning>,
    labels: Vec<LabelVolume>,
    absent_labels: Vec<LabelEntry>,
) -> VolumeReport {
    // One warning for all labels cut by the field of view (each label says
    // which faces in `edge_faces`).
    let cut: Vec<String> = labels
        .iter()
        .filter(|l| l.touches_edge)
        .map(|l| {
            let sides: Vec<&str> = l.edge_faces.iter().map(|f| f.direction).collect();
            format!(
                "{} ({})",
                l.name.clone().unwrap_or_else(|| l.label.to_string()),
                sides.join(", ")
            )
        })
        .collect();
    if !cut.is_empty() {
        const LISTED: usize = 12;
        let more = if cut.len() > LISTED {
            format!("; and {} more", cut.len() - LISTED)
        } else {
            String::new()
        };
        warnings.push(Warning::new(
            None,
            "touches_edge",
            format!(
                "{} label(s) reach the edge of the scan, so their volumes are lower bounds: {}{more}",
                cut.len(),
                cut[..cut.len().min(LISTED)].join("; ")
            ),
        ));
    }
    // A "label map" with thousands of values is most likely an intensity image.
    if labels.len() > MAX_LABELS {
        warnings.push(Warning::new(
            input.first().map(PathBuf::as_path),
            "voxel values",
            format!(
                "{} distinct labels: this looks like an intensity image (CT/MR), not a segmentation",
                labels.len()
            ),
        ));
    }
    let a = grid.affine();
    VolumeReport {
        input,
        dims: grid.dims(),
        spacing_mm: grid.spacing_mm(),
        voxel_volume_mm3: grid.voxel_volume_mm3(),
        orientation: grid.orientation(),
        coordinate_system: "RAS+ mm",
        affine: [0, 1, 2, 3].map(|r| [a[(r, 0)], a[(r, 1)], a[(r, 2)], a[(r, 3)]]),
        warnings,
        labels,
        absent_labels,
    }
}

/// The most labels the figures of `volumes` draw: the largest ones. Each
/// drawn label is a mask of the whole grid, so this bounds the memory of the
/// report (12 bytes per voxel at most).
pub const MAX_DRAWN_LABELS: usize = 12;

/// The labels the figures of `volumes` draw, in the order they draw and
/// colour them: the [`MAX_DRAWN_LABELS`] largest, ties by label value.
pub fn largest_labels(report: &VolumeReport) -> Vec<&LabelVolume> {
    let mut order: Vec<&LabelVolume> = report.labels.iter().collect();
    order.sort_by(|a, b| b.voxels.cmp(&a.voxels).then(a.label.cmp(&b.label)));
    order.truncate(MAX_DRAWN_LABELS);
    order
}

/// The masks of the largest labels of a volumetry report (at most
/// [`MAX_DRAWN_LABELS`]), largest first, with their names, each cut to its
/// bounding box (a part of the scan's grid, [`Grid::crop`]) so that drawing
/// a dozen labels of a large scan costs a few of its voxels, not a dozen
/// copies: read from the label map (one input) or from each mask file.
///
/// # Errors
/// Read errors of the inputs.
pub fn largest_label_masks(report: &VolumeReport, options: &ReadOptions) -> Result<Vec<(Mask, String)>> {
    let order = largest_labels(report);
    let name = |l: &LabelVolume| l.name.clone().unwrap_or_else(|| format!("label {}", l.label));
    let box_of = |l: &LabelVolume| (l.bbox_min, l.bbox_max);
    match report.input.as_slice() {
        [one] if order.iter().all(|l| l.source.is_none()) => {
            let map = crate::io::read_label_map(one, options)?.value;
            order
                .iter()
                .map(|l| {
                    let (lo, hi) = box_of(l);
                    Ok((map.mask_of_within(&[l.label], lo, hi)?, name(l)))
                })
                .collect()
        }
        _ => order
            .iter()
            .map(|l| {
                let path = l.source.as_deref().unwrap_or_else(|| report.input[0].as_path());
                let map = crate::io::read_label_map(path, options)?.value;
                let present: Vec<i64> = map.present_labels().into_iter().filter(|&v| v != 0).collect();
                let (lo, hi) = box_of(l);
                Ok((map.mask_of_within(&present, lo, hi)?, name(l)))
            })
            .collect(),
    }
}

/// The scan's grid, as the report gives it.
///
/// # Errors
/// `Header` for an affine that is not a grid's (never one liverkit read).
pub fn report_grid(report: &VolumeReport) -> Result<Grid> {
    let a = nalgebra::Matrix4::from_fn(|r, c| report.affine[r][c]);
    Grid::new(report.dims, a)
}

/// The centre of the labels drawn ([`largest_labels`]), RAS+ mm: their centroids weighted by
/// their voxels (the centroid of their union when they do not overlap).
pub fn drawn_centre_mm(report: &VolumeReport) -> Option<[f64; 3]> {
    let shown = largest_labels(report);
    let total: f64 = shown.iter().map(|l| l.voxels as f64).sum();
    (total > 0.0).then(|| {
        [0, 1, 2].map(|a| {
            shown
                .iter()
                .map(|l| l.centroid_mm[a] * l.voxels as f64)
                .sum::<f64>()
                / total
        })
    })
}
