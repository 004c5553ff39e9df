//! A DICOM image series read as a mask: the form in which many archives and
//! tools keep a segmentation — each structure its own 8-bit series (values
//! 0/1 or 0/255, modality CT or OT, often without a FrameOfReferenceUID),
//! one folder per structure, files named `image_0 … image_N`.
//!
//! A directory, or any one of the series' files, names the series (a file
//! stands for every file of its series in its folder). The slices are
//! ordered by position, never by file name, and checked as
//! any series is ([`super::read_series`]). The stored values are used, not
//! the rescaled ones, so stored 0 is the background whatever RescaleIntercept
//! says; every non-zero value is inside, with a warning when there are
//! several. With a reference series (`--reference`) the mask's geometry is
//! checked against it — orientation, positions and spacing, not UIDs, which
//! such series often lack — and the reference becomes the source that
//! derived DICOM outputs point to.

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::Array3;

use super::series::{read_series_values, series_key, Values};
use super::{read_series, DicomSeries, SourceSeries};
use crate::error::{Error, Result, Warning};
use crate::io::{Loaded, ReadOptions};
use crate::volume::{LabelArray, LabelMap, LabelNames};

/// Distinct stored values beyond which a series is an image, not a mask.
const MAX_MASK_VALUES: usize = 16;

/// A mask series read: the mask as a one-label map (label 1, named after
/// the series' folder), and the series the mask lies on — the reference
/// series when one was given, else the mask series itself.
#[derive(Debug, Clone)]
pub struct MaskSeries {
    /// Label 1 where the stored value is non-zero.
    pub map: Loaded<LabelMap>,
    /// The image series outputs derived from the mask refer to (its UIDs
    /// and grid; the voxels are not kept).
    pub source: SourceSeries,
}

/// Reads the DICOM image series at `path` (a directory or one of its files)
/// as a mask.
///
/// # Errors
/// As [`read_series`]; `Data` (`PixelData`) for values that are negative,
/// fractional or too many to be a mask (an image series); `GridMismatch`
/// when a reference series is given and the mask does not lie on its grid.
pub fn read_mask_series(path: &Path, options: &ReadOptions) -> Result<MaskSeries> {
    // One file names its whole series, read from its folder.
    let (inputs, key) = match path.parent().filter(|_| path.is_file()) {
        Some(folder) => (
            [folder.to_path_buf()],
            Some(options.series.clone().map_or_else(|| series_key(path), Ok)?),
        ),
        None => ([path.to_path_buf()], options.series.clone()),
    };
    let mut series = read_series_values(&inputs, key.as_deref(), options, Values::Stored)?;
    let mut warnings = std::mem::take(&mut series.warnings);
    let values = distinct_values(path, series.volume.data())?;
    let nonzero: Vec<i64> = values.iter().copied().filter(|&v| v != 0).collect();
    if nonzero.len() > 1 {
        warnings.push(Warning::new(
            Some(path),
            "voxel values",
            format!("mask series holds several non-zero values {nonzero:?}; all of them count as inside"),
        ));
    }
    if nonzero.is_empty() {
        warnings.push(Warning::new(
            Some(path),
            "voxel values",
            "mask series is empty (no non-zero voxel)",
        ));
    }
    let name = mask_series_name(&series);
    let labels = series.volume.data().mapv(|v| u8::from(v != 0.0));
    let names: LabelNames = [(1, name)].into_iter().collect();
    let map = LabelMap::new(series.volume.grid().clone(), LabelArray::U8(labels), names)?;
    let source = match &options.reference {
        Some(r) => {
            let reference = read_series(std::slice::from_ref(r), None, options)?;
            reference.volume.grid().ensure_same(
                map.grid(),
                &format!("{} (--reference)", r.display()),
                &path.display().to_string(),
            )?;
            warnings.extend(reference.warnings.iter().cloned());
            reference.source()
        }
        None => series.source(),
    };
    Ok(MaskSeries {
        map: Loaded { value: map, warnings },
        source,
    })
}

/// The name of a mask series: its folder's name (archives keep one folder
/// per structure), else its SeriesDescription, else `mask`.
fn mask_series_name(series: &DicomSeries) -> String {
    series
        .summary
        .folder
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| Some(series.summary.description.clone()).filter(|d| !d.is_empty()))
        .unwrap_or_else(|| "mask".to_string())
}

/// The distinct stored values, refusing what cannot be a mask.
fn distinct_values(path: &Path, data: &Array3<f32>) -> Result<BTreeSet<i64>> {
    let mut values = BTreeSet::new();
    let mut last = f32::NAN;
    for &v in data {
        if v == last {
            continue;
        }
        last = v;
        if !(v >= 0.0 && v.fract() == 0.0) {
            return Err(not_a_mask(path, format!("the stored value {v}")));
        }
        values.insert(v as i64);
        if values.len() > MAX_MASK_VALUES {
            return Err(not_a_mask(
                path,
                format!("more than {MAX_MASK_VALUES} distinct stored values (an image series)"),
            ));
        }
    }
    Ok(values)
}

fn not_a_mask(path: &Path, found: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        field: "PixelData".into(),
        expected: "a mask series: stored values 0 (outside) and non-zero (inside), whole and not negative"
            .into(),
        found,
    }
}
