//! The margin case: the tumour, zone and liver roles resolved from files,
//! the margins assessed ([`crate::margin::assess_margins`]) and judged.

use std::path::PathBuf;

use serde::Serialize;

use crate::case::roles::{Files, RoleSpec};
use crate::error::{parameter_error, Result, Warning};
use crate::grid::ras_lps_text;
use crate::io::structure::{Segment, Structure};
use crate::io::ReadOptions;
use crate::margin::{assess_margins, MarginOptions, TumorMargin, SURFACE_SAMPLING};
use crate::volume::{Mask, Volume};

/// What `liverkit margin --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarginReport {
    /// Files read.
    pub input: Vec<PathBuf>,
    /// The margin required everywhere, mm.
    pub margin_mm: f64,
    /// Whether the verdict ignores the capsule-adjacent surface.
    pub exclude_capsule: bool,
    /// How surfaces are sampled.
    pub surface_sampling: &'static str,
    /// One entry per tumour.
    pub tumors: Vec<TumorMargin>,
    /// Whether every tumour has the required margin everywhere.
    pub sufficient: bool,
    /// The verdict in words.
    pub verdict: String,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

/// Reads the masks and assesses the margins (see [`assess_margins`]).
///
/// # Errors
/// Read errors; `GridMismatch`; `Parameter` for a missing label (listing
/// the labels present), an empty tumour or zone, or capsule exclusion
/// without a liver.
pub fn assess_margin_files(
    tumor: &RoleSpec,
    zone: &RoleSpec,
    liver: Option<&RoleSpec>,
    options: &MarginOptions,
    read: &ReadOptions,
) -> Result<(MarginReport, Option<Volume<f32>>)> {
    let mut files = Files::new(None, read.clone())?;
    margin_report(&mut files, tumor, zone, liver, options)
}

/// Resolves the tumour, zone and liver roles of a case and assesses the
/// margins (see [`assess_margins`]); the signed margin map comes with the
/// report when `options.margin_map` asks for it.
///
/// # Errors
/// As [`assess_margin_files`].
pub fn margin_report(
    files: &mut Files,
    tumor: &RoleSpec,
    zone: &RoleSpec,
    liver: Option<&RoleSpec>,
    options: &MarginOptions,
) -> Result<(MarginReport, Option<Volume<f32>>)> {
    if options.exclude_capsule && liver.is_none() {
        return Err(parameter_error(
            "exclude_capsule",
            "true",
            "a liver mask (`liver`) to find the capsule",
        ));
    }
    files.preload(&[Some(tumor), Some(zone), liver])?;
    let (t, _) = files.resolve("tumor", tumor)?;
    let (z, _) = files.resolve("zone", zone)?;
    let l = match liver {
        Some(spec) => Some(files.resolve("liver", spec)?.0),
        None => None,
    };
    let a = assess_margins(&t, &z, l.as_ref(), options)?;
    let mut warnings = files.warnings.clone();
    warnings.extend(a.warnings);
    let judged = |t: &TumorMargin| {
        if options.exclude_capsule {
            t.capsule_excluded
                .as_ref()
                .and_then(|c| c.margins.as_ref())
                .is_none_or(|m| m.sufficient)
        } else {
            t.margins.sufficient
        }
    };
    let sufficient = a.tumors.iter().all(judged);
    let worst = a
        .tumors
        .iter()
        .min_by(|x, y| x.margins.min_margin_mm.total_cmp(&y.margins.min_margin_mm))
        .map(|t| t.margins.min_margin_mm)
        .unwrap_or(f64::NAN);
    let verdict = if sufficient {
        format!(
            "SUFFICIENT: every tumour has at least {} mm of margin (minimum {worst:.1} mm)",
            options.margin_mm
        )
    } else {
        let short: Vec<String> = a
            .tumors
            .iter()
            .filter(|t| !judged(t))
            .map(|t| {
                let regions = if t.shortfalls.is_empty() {
                    String::new()
                } else {
                    let area: f64 = t.shortfalls.iter().map(|s| s.area_mm2).sum();
                    format!(" ({} short region(s), {area:.0} mm2)", t.shortfalls.len())
                };
                format!(
                    "tumour {} minimum {:.1} mm at {}{regions}",
                    t.tumor,
                    t.margins.min_margin_mm,
                    ras_lps_text(t.margins.min_margin_at_mm),
                )
            })
            .collect();
        format!(
            "INSUFFICIENT: margin below {} mm: {}",
            options.margin_mm,
            short.join("; ")
        )
    };
    Ok((
        MarginReport {
            input: files.inputs.clone(),
            margin_mm: options.margin_mm,
            exclude_capsule: options.exclude_capsule,
            surface_sampling: SURFACE_SAMPLING,
            tumors: a.tumors,
            sufficient,
            verdict,
            warnings,
        },
        a.margin_map,
    ))
}

/// The structures of a margin check, for a segmentation output: the
/// tumour, its target (every voxel centre within `margin_mm` of it) and the
/// shortfall — the target voxels the zone does not hold, where the ablation
/// fell short. The shortfall is empty when the zone covers the target.
///
/// # Errors
/// As [`Files::resolve`]; those of [`crate::morphology::dilate_mm`].
pub fn margin_structures(
    files: &mut Files,
    tumor: &RoleSpec,
    zone: &RoleSpec,
    margin_mm: f64,
) -> Result<MarginStructures> {
    let (tumor, _) = files.resolve("tumor", tumor)?;
    let (zone, _) = files.resolve("zone", zone)?;
    let (target, shortfall) = target_and_shortfall(&tumor, &zone, margin_mm)?;
    Ok(MarginStructures {
        tumor,
        target,
        shortfall,
    })
}

/// The ablation target of `tumor` (every voxel centre within `margin_mm`
/// of it) and its shortfall: the target voxels `zone` does not hold.
///
/// # Errors
/// `GridMismatch` when the masks are not on one grid; those of
/// [`crate::morphology::dilate_mm`].
pub fn target_and_shortfall(tumor: &Mask, zone: &Mask, margin_mm: f64) -> Result<(Mask, Mask)> {
    tumor.grid().ensure_same(zone.grid(), "tumor", "zone")?;
    let target = crate::morphology::dilate_mm(tumor, margin_mm)?;
    let mut shortfall = target.clone();
    ndarray::Zip::from(shortfall.data_mut())
        .and(zone.data())
        .for_each(|s, &z| *s &= !z);
    Ok((target, shortfall))
}

/// See [`margin_structures`].
pub struct MarginStructures {
    /// The tumour.
    pub tumor: Mask,
    /// Tumour plus margin.
    pub target: Mask,
    /// The target outside the zone.
    pub shortfall: Mask,
}

impl MarginStructures {
    /// As segments to write; the shortfall left out when empty.
    pub fn segments(&self) -> Vec<Segment<'_>> {
        let mut out = vec![
            Segment {
                mask: &self.tumor,
                structure: Structure::Tumor,
            },
            Segment {
                mask: &self.target,
                structure: Structure::AblationTarget,
            },
        ];
        if self.shortfall.any() {
            out.push(Segment {
                mask: &self.shortfall,
                structure: Structure::MarginShortfall,
            });
        }
        out
    }
}
