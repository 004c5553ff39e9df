//! The clinical formulas of liver volumetry, each with its unit and source.
//! This is the one place where they are written; docs/formulas/remnant.md
//! derives nothing new and quotes these.

use serde::Serialize;

use crate::error::Result;
use crate::vocabulary::{from_str_by_name, Named, HEIGHT_CM, WEIGHT_KG};

/// Body-surface-area formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BsaFormula {
    /// `bsa_m2 = √(height_cm · weight_kg / 3600)` [Mosteller1987].
    Mosteller,
    /// `bsa_m2 = 0.007184 · weight_kg^0.425 · height_cm^0.725` [DuBois1916].
    DuBois,
}

/// Total-estimated-liver-volume formula (standard liver volume from BSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TelvFormula {
    /// `telv_ml = −794.41 + 1267.28 · bsa_m2` [Vauthey2002] (Western adults; the default).
    Vauthey,
    /// `telv_ml = 706.2 · bsa_m2 + 2.4` [Urata1995] (Japanese adults and children).
    Urata,
    /// `telv_ml = 1072.8 · bsa_m2 − 345.7` [Heinemann1999] (Caucasian autopsy series).
    Heinemann,
}

/// Checks height and weight against the human range.
///
/// # Errors
/// `Parameter` (`height_cm`, `weight_kg`) outside the ranges of
/// [`HEIGHT_CM`] and [`WEIGHT_KG`], or not finite.
pub fn check_body(height_cm: f64, weight_kg: f64) -> Result<()> {
    HEIGHT_CM.check(height_cm)?;
    WEIGHT_KG.check(weight_kg)?;
    Ok(())
}

/// Body surface area in m².
///
/// ```text
/// Mosteller: bsa_m2 = √(height_cm · weight_kg / 3600)            [Mosteller1987]
/// DuBois:    bsa_m2 = 0.007184 · weight_kg^0.425 · height_cm^0.725 [DuBois1916]
/// ```
/// # Validation
/// `tests/remnant.rs::clinical_worked_vector`: 175 cm, 75 kg → 1.9094 m²
/// (Mosteller), 1.9031 m² (DuBois), docs/references.md.
pub fn bsa_m2(height_cm: f64, weight_kg: f64, formula: BsaFormula) -> f64 {
    match formula {
        BsaFormula::Mosteller => (height_cm * weight_kg / 3600.0).sqrt(),
        BsaFormula::DuBois => 0.007184 * weight_kg.powf(0.425) * height_cm.powf(0.725),
    }
}

/// Total estimated liver volume (standard liver volume) in mL from BSA.
///
/// ```text
/// Vauthey:   telv_ml = −794.41 + 1267.28 · bsa_m2   [Vauthey2002]
/// Urata:     telv_ml = 706.2 · bsa_m2 + 2.4         [Urata1995]
/// Heinemann: telv_ml = 1072.8 · bsa_m2 − 345.7      [Heinemann1999]
/// ```
/// # Validation
/// 1.9094 m² → 1625.3 mL (Vauthey), 1350.8 mL (Urata), 1702.7 mL
/// (Heinemann), docs/references.md.
pub fn telv_ml(bsa_m2: f64, formula: TelvFormula) -> f64 {
    match formula {
        TelvFormula::Vauthey => -794.41 + 1267.28 * bsa_m2,
        TelvFormula::Urata => 706.2 * bsa_m2 + 2.4,
        TelvFormula::Heinemann => 1072.8 * bsa_m2 - 345.7,
    }
}

/// Measured future liver remnant in percent of the functional liver.
///
/// ```text
/// functional_liver_ml = total_liver_ml − tumor_ml          [Kubota1997], [Shoup2003]
/// flr_pct             = 100 · flr_ml / functional_liver_ml
/// ```
pub fn flr_pct(flr_ml: f64, functional_liver_ml: f64) -> f64 {
    100.0 * flr_ml / functional_liver_ml
}

/// Standardised future liver remnant in percent of the estimated total liver
/// volume.
///
/// ```text
/// sflr_pct = 100 · flr_ml / telv_ml     [Vauthey2002]
/// ```
/// # Validation
/// FLR 400 mL, TELV 1625.3 mL → 24.61 %, docs/references.md.
pub fn sflr_pct(flr_ml: f64, telv_ml: f64) -> f64 {
    100.0 * flr_ml / telv_ml
}

/// Future-liver-remnant-to-body-weight ratio in percent (liver density taken
/// as 1 g/mL).
///
/// ```text
/// flr_bwr_pct = 100 · flr_ml / (weight_kg · 1000)     [Truant2007]
/// ```
/// A ratio ≤ [`FLR_BWR_LIMIT_PCT`] predicts morbidity.
pub fn flr_bwr_pct(flr_ml: f64, weight_kg: f64) -> f64 {
    100.0 * flr_ml / (weight_kg * 1000.0)
}

/// FLR-to-body-weight ratio at or below which morbidity rises, in % [Truant2007].
pub const FLR_BWR_LIMIT_PCT: f64 = 0.5;

/// Degree of hypertrophy after portal vein embolisation, in percentage points.
///
/// ```text
/// dh_points = sflr_post_pct − sflr_pre_pct     [Shindoh2013]
/// ```
pub fn dh_points(pre_pct: f64, post_pct: f64) -> f64 {
    post_pct - pre_pct
}

/// Kinetic growth rate in percentage points per week.
///
/// ```text
/// kgr_points_per_week = dh_points / weeks     [Shindoh2013]
/// ```
/// where `weeks` is the time from the embolisation to the post-PVE scan.
pub fn kgr_points_per_week(dh_points: f64, weeks: f64) -> f64 {
    dh_points / weeks
}

/// Kinetic growth rate below which hepatic insufficiency is predicted
/// (21.6 % against 0 %), in points per week [Shindoh2013].
pub const KGR_LIMIT_POINTS_PER_WEEK: f64 = 2.0;

/// The older rule for sufficient hypertrophy: DH ≥ 5 points [Ribero2007].
pub const DH_LIMIT_POINTS: f64 = 5.0;

/// Growth of the remnant volume in percent of the pre-PVE remnant.
///
/// ```text
/// flr_growth_pct = 100 · (flr_post_ml − flr_pre_ml) / flr_pre_ml
/// ```
pub fn growth_pct(pre_ml: f64, post_ml: f64) -> f64 {
    100.0 * (post_ml - pre_ml) / pre_ml
}

/// State of the liver, which sets the minimum remnant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiverCondition {
    /// Normal liver: 20 % [Kishi2009], [Schindl2005] (variants 25 %, 26.6 % exist).
    Normal,
    /// After more than 3 months of chemotherapy, or steatosis: 30 % [Shindoh2013].
    Chemotherapy,
    /// Cirrhosis or fibrosis: 40 % [Kubota1997], [Azoulay2000].
    Cirrhosis,
}

impl LiverCondition {
    /// Minimum remnant in % (the consensus "20 / 30 / 40").
    pub fn min_remnant_pct(self) -> f64 {
        match self {
            LiverCondition::Normal => 20.0,
            LiverCondition::Chemotherapy => 30.0,
            LiverCondition::Cirrhosis => 40.0,
        }
    }

    /// The source keys of the threshold.
    pub fn source(self) -> &'static str {
        match self {
            LiverCondition::Normal => "[Kishi2009], [Schindl2005]",
            LiverCondition::Chemotherapy => "[Shindoh2013]",
            LiverCondition::Cirrhosis => "[Kubota1997], [Azoulay2000]",
        }
    }

    /// `normal`, `chemotherapy`, `cirrhosis` (from [`Named::NAMES`]).
    pub fn name(self) -> &'static str {
        Named::name(self)
    }
}

/// A formula used in a result, named with its source (goes into JSON under
/// `formulas`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormulaUse {
    /// What it computes (`bsa_m2`, `telv_ml`, …).
    pub quantity: &'static str,
    /// The formula.
    pub formula: &'static str,
    /// Source keys in docs/references.md.
    pub source: &'static str,
}

impl Named for BsaFormula {
    const PARAMETER: &'static str = "bsa";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("mosteller", BsaFormula::Mosteller),
        ("dubois", BsaFormula::DuBois),
    ];
}
from_str_by_name!(BsaFormula);

impl Named for TelvFormula {
    const PARAMETER: &'static str = "telv";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("vauthey", TelvFormula::Vauthey),
        ("urata", TelvFormula::Urata),
        ("heinemann", TelvFormula::Heinemann),
    ];
}
from_str_by_name!(TelvFormula);

impl Named for LiverCondition {
    const PARAMETER: &'static str = "condition";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("normal", LiverCondition::Normal),
        ("chemotherapy", LiverCondition::Chemotherapy),
        ("cirrhosis", LiverCondition::Cirrhosis),
    ];
}
from_str_by_name!(LiverCondition);

impl BsaFormula {
    pub(crate) fn usage(self) -> FormulaUse {
        match self {
            BsaFormula::Mosteller => FormulaUse {
                quantity: "bsa_m2",
                formula: "sqrt(height_cm * weight_kg / 3600)",
                source: "[Mosteller1987]",
            },
            BsaFormula::DuBois => FormulaUse {
                quantity: "bsa_m2",
                formula: "0.007184 * weight_kg^0.425 * height_cm^0.725",
                source: "[DuBois1916]",
            },
        }
    }
}

impl TelvFormula {
    pub(crate) fn usage(self) -> FormulaUse {
        match self {
            TelvFormula::Vauthey => FormulaUse {
                quantity: "telv_ml",
                formula: "-794.41 + 1267.28 * bsa_m2",
                source: "[Vauthey2002]",
            },
            TelvFormula::Urata => FormulaUse {
                quantity: "telv_ml",
                formula: "706.2 * bsa_m2 + 2.4",
                source: "[Urata1995]",
            },
            TelvFormula::Heinemann => FormulaUse {
                quantity: "telv_ml",
                formula: "1072.8 * bsa_m2 - 345.7",
                source: "[Heinemann1999]",
            },
        }
    }
}

pub(crate) const FUNCTIONAL_LIVER: FormulaUse = FormulaUse {
    quantity: "functional_liver_ml",
    formula: "total_liver_ml - tumor_ml",
    source: "[Kubota1997], [Shoup2003]",
};
pub(crate) const FLR_PCT: FormulaUse = FormulaUse {
    quantity: "flr_pct",
    formula: "100 * remnant_ml / functional_liver_ml",
    source: "[Kubota1997], [Shoup2003]",
};
pub(crate) const SFLR_PCT: FormulaUse = FormulaUse {
    quantity: "sflr_pct",
    formula: "100 * remnant_ml / telv_ml",
    source: "[Vauthey2002]",
};
pub(crate) const FLR_BWR: FormulaUse = FormulaUse {
    quantity: "flr_bwr_pct",
    formula: "100 * remnant_ml / (weight_kg * 1000); <= 0.5 predicts morbidity",
    source: "[Truant2007]",
};
pub(crate) const VOLUME: FormulaUse = FormulaUse {
    quantity: "volume_ml",
    formula: "voxels * |det(affine 3x3)| / 1000",
    source: "[NIfTI1]",
};
pub(crate) const DH: FormulaUse = FormulaUse {
    quantity: "dh_points",
    formula: "pct_post - pct_pre",
    source: "[Shindoh2013]",
};
pub(crate) const KGR: FormulaUse = FormulaUse {
    quantity: "kgr_points_per_week",
    formula: "dh_points / weeks; >= 2 points/week needed",
    source: "[Shindoh2013]",
};
pub(crate) const GROWTH: FormulaUse = FormulaUse {
    quantity: "flr_growth_pct",
    formula: "100 * (remnant_post_ml - remnant_pre_ml) / remnant_pre_ml",
    source: "docs/references.md",
};

/// Relative uncertainty of a CT-measured liver part volume: semi-automated
/// CT volumetry of hemihepatectomy specimens disagreed with the measured
/// specimens by 6.3 % on average (mean absolute relative disagreement, 24
/// patients) [CTtoSpecimen2019]. A remnant within this fraction of its
/// threshold cannot be told above or below it by the measurement.
pub const VOLUMETRY_UNCERTAINTY_FRAC: f64 = 0.063;

/// The band, in percentage points, around a remnant percentage `pct` that
/// the volumetry cannot resolve: `pct · 0.063` [CTtoSpecimen2019].
pub fn uncertainty_points(pct: f64) -> f64 {
    pct * VOLUMETRY_UNCERTAINTY_FRAC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_range_is_checked() {
        assert!(check_body(175.0, 75.0).is_ok());
        assert_eq!(check_body(17.5, 75.0).unwrap_err().field(), Some("height_cm"));
        assert_eq!(check_body(175.0, 750.0).unwrap_err().field(), Some("weight_kg"));
        let e = check_body(f64::NAN, 75.0).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (crate::ErrorKind::Parameter, Some("height_cm")),
            "{e}"
        );
    }

    #[test]
    fn thresholds() {
        assert_eq!(LiverCondition::Normal.min_remnant_pct(), 20.0);
        assert_eq!(LiverCondition::Chemotherapy.min_remnant_pct(), 30.0);
        assert_eq!(LiverCondition::Cirrhosis.min_remnant_pct(), 40.0);
    }
}
