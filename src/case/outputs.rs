//! Writing what a case derived — target, zones, remnant, shortfall — next to
//! its inputs: on the header of the input it came from (NIfTI), or joined to
//! the patient's DICOM series (SEG), in the format the output's name asks
//! for ([`crate::io::output`]).
//!
//! The DICOM series a SEG refers to is the case's own when it read one (a
//! mask series, or a SEG's reference), else the `reference` read option: a
//! NIfTI mask made from a CT becomes a SEG on that CT when the CT is given
//! as the reference, after checking that the two grids sample the same
//! points (the masks are carried onto the series' axis order exactly, as
//! when TotalSegmentator writes LAS from an LPS series). Without
//! either, the SEG stands alone (a new study and frame of reference) and a
//! warning says that PACS will not overlay it on the scan.

use std::path::Path;

use crate::case::roles::Files;
use crate::error::{Result, Warning};
use crate::io::dicom::{read_series, write_sr, SegReference, SourceSeries, SrReport};
use crate::io::nifti::NiftiTemplate;
use crate::io::output::{write_segments, MaskFormat};
use crate::io::structure::Segment;
use crate::volume::Mask;

/// What writing a case's structures gave: a warning for the user, and for
/// a DICOM SEG what a report written after it refers to.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// For example: the SEG stands alone.
    pub warning: Option<Warning>,
    /// The SEG written, when one was.
    pub seg: Option<SegReference>,
    /// The DICOM series it refers to (read once, reused by the SR).
    pub source: Option<SourceSeries>,
}

/// The DICOM series DICOM outputs of the case refer to: the case's own, else
/// the `reference` read option's; `None` (with a warning naming `path`)
/// when there is neither.
///
/// # Errors
/// Read errors of the reference series.
fn dicom_source(files: &Files, path: &Path, what: &str) -> Result<(Option<SourceSeries>, Option<Warning>)> {
    if let Some(s) = files.any_dicom_source() {
        return Ok((Some(s.clone()), None));
    }
    match &files.options().reference {
        Some(r) => {
            let series = read_series(
                std::slice::from_ref(r),
                files.options().series.as_deref(),
                files.options(),
            )?;
            Ok((Some(series.source()), None))
        }
        None => Ok((
            None,
            Some(Warning::new(
                Some(path),
                "source series",
                format!(
                    "the inputs are not DICOM: the {what} stands alone (a new study and frame of reference), \
                     so PACS will not file it with the scan; give the scan's DICOM series as `reference` to \
                     join it"
                ),
            )),
        )),
    }
}

/// Writes `segments` at `path` for the case: NIfTI on the header of input
/// `from` (or the first input), DICOM SEG joined to the case's DICOM
/// series, `.seg.nrrd` as is.
///
/// # Errors
/// Those of [`write_segments`]; read errors of the reference series;
/// `GridMismatch` when the reference series is not on the masks' grid.
pub fn write_structures(
    files: &Files,
    from: Option<&Path>,
    path: &Path,
    segments: &[Segment<'_>],
    description: &str,
) -> Result<Written> {
    let grid = match segments.first() {
        Some(s) => s.mask.grid().clone(),
        None => {
            write_segments(path, segments, None, None, description)?;
            return Ok(Written::default());
        }
    };
    let template = from
        .and_then(|p| files.output_template(p))
        .or_else(|| files.inputs.iter().find_map(|p| files.output_template(p)))
        .unwrap_or_else(|| NiftiTemplate::from_grid(&grid));
    let (reference, warning) = match MaskFormat::of(path) {
        MaskFormat::DicomSeg => dicom_source(files, path, "SEG")?,
        _ => (None, None),
    };
    let seg = match &reference {
        Some(src) if src.grid != grid => {
            // The source series' own grid: the masks carried onto it exactly
            // when it samples the same points in another axis order (a NIfTI
            // in LAS from a DICOM series in LPS); refused otherwise.
            let name = match &files.options().reference {
                Some(r) => format!("{} (reference series)", r.display()),
                None => "the DICOM source series".into(),
            };
            let moved: Vec<Mask> = segments
                .iter()
                .map(|s| s.mask.on_grid(&src.grid, &path.display().to_string(), &name))
                .collect::<Result<_>>()?;
            let moved: Vec<Segment<'_>> = moved
                .iter()
                .zip(segments)
                .map(|(m, s)| Segment {
                    mask: m,
                    structure: s.structure,
                })
                .collect();
            write_segments(path, &moved, Some(&template), Some(src), description)?
        }
        _ => write_segments(path, segments, Some(&template), reference.as_ref(), description)?,
    };
    Ok(Written {
        warning,
        seg,
        source: reference,
    })
}

/// Writes a command's numbers as a DICOM SR at `path`: in the study of the
/// case's DICOM series (or `reference`), or of the SEG written in the same
/// run (`written`), its groups pointing to that SEG's segments. Returns a
/// warning when the report stands alone.
///
/// # Errors
/// Read errors of the reference series; `Write` errors.
pub fn write_report_sr(
    files: &Files,
    path: &Path,
    report: &SrReport,
    written: Option<&Written>,
) -> Result<Option<Warning>> {
    match written.filter(|w| w.seg.is_some()) {
        // In the SEG's study, with the source the SEG was written on.
        Some(w) => {
            write_sr(path, report, w.source.as_ref(), w.seg.as_ref())?;
            Ok(None)
        }
        None => {
            let (source, warning) = dicom_source(files, path, "report")?;
            write_sr(path, report, source.as_ref(), None)?;
            Ok(warning)
        }
    }
}
