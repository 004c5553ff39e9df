//! The request vocabulary's named choices: each option that takes one of a
//! few names (`bsa`, `telv`, `condition`, `applicator`) lists them here once,
//! as data, with the parameter they belong to. The command line builds its
//! possible values from [`Named::NAMES`] and Python parses with
//! [`std::str::FromStr`], so neither spells them again.

use crate::error::{parameter_error, Result};

/// A choice among names.
pub trait Named: Copy + PartialEq + 'static {
    /// The parameter the choice belongs to (`bsa`), as errors name it.
    const PARAMETER: &'static str;
    /// Every name a user may type, with its value, the default first.
    const NAMES: &'static [(&'static str, Self)];

    /// The name of this value.
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

/// Parses a name of `T` (case-insensitive, surrounding space ignored).
///
/// # Errors
/// `Parameter` (`T::PARAMETER`) listing the names, for any other text.
pub fn parse<T: Named>(text: &str) -> Result<T> {
    let key = text.trim().to_ascii_lowercase();
    T::NAMES
        .iter()
        .find(|(n, _)| *n == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = T::NAMES.iter().map(|(n, _)| *n).collect();
            parameter_error(T::PARAMETER, text, format!("one of {}", names.join(", ")))
        })
}

/// `FromStr` for a [`Named`] type.
macro_rules! from_str_by_name {
    ($t:ty) => {
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $crate::vocabulary::parse(s)
            }
        }
    };
}
pub(crate) use from_str_by_name;

/// A numeric option of a request, as data: the name errors and both front
/// ends use (`margin_mm`; the command line shows it as `--margin-mm`, Python
/// as `margin_mm=`), its unit, its default and the values it accepts. Each
/// numeric option is one constant below, and every check of it goes through
/// [`Quantity::check`], so the range and the default are written once.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Quantity {
    /// The parameter name, with its unit suffix.
    pub name: &'static str,
    /// The unit, as written after a value (`mm`, `%`, `GiB`; empty for a fraction).
    pub unit: &'static str,
    /// What the value is, as the start of an error's "expected …" text.
    pub what: &'static str,
    /// The value used when the option is not given (`None`: no default;
    /// the option is required, or its absence means something).
    pub default: Option<f64>,
    /// The smallest accepted value.
    pub min: f64,
    /// Whether `min` itself is accepted.
    pub min_inclusive: bool,
    /// The largest accepted value (inclusive; infinite: no upper bound).
    pub max: f64,
}

impl Quantity {
    /// Whether `v` is finite and in range.
    pub fn accepts(&self, v: f64) -> bool {
        let above = if self.min_inclusive {
            v >= self.min
        } else {
            v > self.min
        };
        v.is_finite() && above && v <= self.max
    }

    /// `v` when [`Quantity::accepts`] it.
    ///
    /// # Errors
    /// `Parameter` naming this option and its range.
    pub fn check(&self, v: f64) -> Result<f64> {
        if self.accepts(v) {
            Ok(v)
        } else {
            Err(parameter_error(self.name, v, self.expected()))
        }
    }

    /// The default value; NaN for an option without one, which
    /// [`Quantity::check`] refuses (the unit test of this module checks that
    /// the options the front ends give defaults for have them).
    pub const fn default_value(&self) -> f64 {
        match self.default {
            Some(v) => v,
            None => f64::NAN,
        }
    }

    /// The accepted range in words: "a margin > 0 mm", "a human height from
    /// 40 to 250 cm".
    pub fn expected(&self) -> String {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        match (self.max.is_finite(), self.min_inclusive) {
            (false, true) => format!("{} ≥ {}{unit}", self.what, self.min),
            (false, false) => format!("{} > {}{unit}", self.what, self.min),
            (true, true) => format!("{} from {} to {}{unit}", self.what, self.min, self.max),
            (true, false) => format!("{} > {} and ≤ {}{unit}", self.what, self.min, self.max),
        }
    }
}

/// The safety margin around a tumour that the ablation target adds and a
/// zone must cover, mm: 10 mm, the minimal margin that predicts local
/// control of colorectal liver metastases [Shady2018] (docs/references.md).
pub const MARGIN_MM: Quantity = Quantity {
    name: "margin_mm",
    unit: "mm",
    what: "a margin",
    default: Some(10.0),
    min: 0.0,
    min_inclusive: false,
    max: f64::INFINITY,
};

/// Patient height, cm: the human range, neonate to the tallest recorded adults.
pub const HEIGHT_CM: Quantity = Quantity {
    name: "height_cm",
    unit: "cm",
    what: "a human height",
    default: None,
    min: 40.0,
    min_inclusive: true,
    max: 250.0,
};

/// Patient weight, kg: the human range.
pub const WEIGHT_KG: Quantity = Quantity {
    name: "weight_kg",
    unit: "kg",
    what: "a human weight",
    default: None,
    min: 2.0,
    min_inclusive: true,
    max: 350.0,
};

/// A remnant threshold chosen by the user instead of the liver condition's, %.
pub const MIN_FLR_PCT: Quantity = Quantity {
    name: "min_flr_pct",
    unit: "%",
    what: "a percentage",
    default: None,
    min: 0.0,
    min_inclusive: true,
    max: 100.0,
};

/// Days from portal vein embolisation to the post-PVE scan.
pub const DAYS: Quantity = Quantity {
    name: "days",
    unit: "days",
    what: "an interval from PVE to the post-PVE scan",
    default: None,
    min: 0.0,
    min_inclusive: false,
    max: f64::INFINITY,
};

/// The fraction at or above which a FRACTIONAL DICOM SEG voxel belongs to
/// its segment: 0.5, the midpoint of the stored probability or occupancy.
pub const SEG_THRESHOLD: Quantity = Quantity {
    name: "seg_threshold",
    unit: "",
    what: "a fraction",
    default: Some(0.5),
    min: 0.0,
    min_inclusive: false,
    max: 1.0,
};

/// The most voxel data a file may announce before it is refused, GiB: a
/// guard against headers that would allocate more than the machine holds
/// (16 GiB is a whole-body CT at 0.5 mm in f32 several times over).
pub const MAX_MEMORY_GIB: Quantity = Quantity {
    name: "max_memory_gib",
    unit: "GiB",
    what: "a memory bound",
    default: Some(16.0),
    min: 0.0,
    min_inclusive: false,
    max: f64::INFINITY,
};

/// The generator power of an ablation, W. The bound is not clinical but a
/// guard against typing errors: five times the top of the widest device
/// range in the library (200 W), refused even with `allow_outside`.
pub const POWER_W: Quantity = Quantity {
    name: "power_w",
    unit: "W",
    what: "a power",
    default: None,
    min: 0.0,
    min_inclusive: false,
    max: 1000.0,
};

/// The heating time of an ablation, s: at most two hours, four times the
/// longest single ablation protocol in the device library.
pub const TIME_S: Quantity = Quantity {
    name: "time_s",
    unit: "s",
    what: "a heating time",
    default: None,
    min: 0.0,
    min_inclusive: false,
    max: 7200.0,
};

/// Every numeric option, for the front ends (`liverkit.quantities()` in
/// Python) and the documentation.
pub const QUANTITIES: &[Quantity] = &[
    MARGIN_MM,
    HEIGHT_CM,
    WEIGHT_KG,
    MIN_FLR_PCT,
    DAYS,
    SEG_THRESHOLD,
    MAX_MEMORY_GIB,
    POWER_W,
    TIME_S,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_check_their_range_and_name_themselves() {
        for q in QUANTITIES {
            assert!(q.min < q.max, "{}", q.name);
            if let Some(d) = q.default {
                assert!(q.accepts(d), "{} default {d}", q.name);
            }
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, q.min - 1.0] {
                let e = q.check(bad).unwrap_err();
                assert_eq!(e.field(), Some(q.name));
            }
            assert_eq!(q.check(q.min).is_ok(), q.min_inclusive, "{}", q.name);
            if q.max.is_finite() {
                assert!(q.check(q.max).is_ok() && q.check(q.max * 1.001 + 1.0).is_err());
            }
        }
        let names: std::collections::BTreeSet<_> = QUANTITIES.iter().map(|q| q.name).collect();
        assert_eq!(names.len(), QUANTITIES.len(), "one constant per name");
        assert_eq!(HEIGHT_CM.expected(), "a human height from 40 to 250 cm");
        assert_eq!(MARGIN_MM.expected(), "a margin > 0 mm");
        for q in [MARGIN_MM, SEG_THRESHOLD, MAX_MEMORY_GIB] {
            assert!(q.accepts(q.default_value()), "{} has a default", q.name);
        }
        assert!(HEIGHT_CM.check(HEIGHT_CM.default_value()).is_err());
    }
}
