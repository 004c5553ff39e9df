//! Named liver resections (Brisbane 2000 terminology) and the ways to define
//! the remnant.

use serde::Serialize;

use crate::error::{parameter_error, Result};

/// A named resection of Couinaud segments, Brisbane 2000 terminology
/// [Strasberg2005] (docs/references.md). Segment 1 (caudate) may be added to any
/// of them ("± 1").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Resection {
    RightHepatectomy,
    LeftHepatectomy,
    RightTrisectionectomy,
    LeftTrisectionectomy,
    RightAnteriorSectionectomy,
    RightPosteriorSectionectomy,
    LeftMedialSectionectomy,
    LeftLateralSectionectomy,
}

impl Resection {
    /// Every named resection, in the order of the Brisbane table.
    pub const ALL: [Resection; 8] = [
        Resection::RightHepatectomy,
        Resection::LeftHepatectomy,
        Resection::RightTrisectionectomy,
        Resection::LeftTrisectionectomy,
        Resection::RightAnteriorSectionectomy,
        Resection::RightPosteriorSectionectomy,
        Resection::LeftMedialSectionectomy,
        Resection::LeftLateralSectionectomy,
    ];

    /// The segments removed [Strasberg2005].
    pub fn removed_segments(self) -> &'static [u8] {
        match self {
            Resection::RightHepatectomy => &[5, 6, 7, 8],
            Resection::LeftHepatectomy => &[2, 3, 4],
            Resection::RightTrisectionectomy => &[4, 5, 6, 7, 8],
            Resection::LeftTrisectionectomy => &[2, 3, 4, 5, 8],
            Resection::RightAnteriorSectionectomy => &[5, 8],
            Resection::RightPosteriorSectionectomy => &[6, 7],
            Resection::LeftMedialSectionectomy => &[4],
            Resection::LeftLateralSectionectomy => &[2, 3],
        }
    }

    /// The command-line name (`right-hepatectomy`, …).
    pub fn name(self) -> &'static str {
        match self {
            Resection::RightHepatectomy => "right-hepatectomy",
            Resection::LeftHepatectomy => "left-hepatectomy",
            Resection::RightTrisectionectomy => "right-trisectionectomy",
            Resection::LeftTrisectionectomy => "left-trisectionectomy",
            Resection::RightAnteriorSectionectomy => "right-anterior-sectionectomy",
            Resection::RightPosteriorSectionectomy => "right-posterior-sectionectomy",
            Resection::LeftMedialSectionectomy => "left-medial-sectionectomy",
            Resection::LeftLateralSectionectomy => "left-lateral-sectionectomy",
        }
    }

    /// Parses a command-line name.
    ///
    /// # Errors
    /// `Parameter` (`resection`) listing the names.
    pub fn from_name(name: &str) -> Result<Resection> {
        Resection::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Resection::ALL.iter().map(|r| r.name()).collect();
                parameter_error("resection", name, format!("one of {}", names.join(", ")))
            })
    }

    /// Removed segments, with the caudate (segment 1) when asked.
    pub fn removed(self, with_caudate: bool) -> Vec<u8> {
        let mut v = self.removed_segments().to_vec();
        if with_caudate {
            v.insert(0, 1);
        }
        v
    }
}

/// How the remnant is defined.
#[derive(Debug, Clone, PartialEq)]
pub enum RemnantDefinition {
    /// An explicit region (a mask file or labels), already resolved by the caller.
    Region {
        /// How the user named it.
        description: String,
    },
    /// The liver in these Couinaud segments is kept.
    Keep(Vec<u8>),
    /// The liver in these Couinaud segments is removed; the rest is kept.
    Remove(Vec<u8>),
    /// A named resection.
    Resection {
        /// Which.
        resection: Resection,
        /// Segment 1 removed as well ("± 1").
        with_caudate: bool,
    },
    /// A cutting plane through `point_mm` (world RAS+ mm); the side the
    /// normal points to is removed.
    Plane {
        /// A point of the plane, mm.
        point_mm: [f64; 3],
        /// Normal towards the removed side (any length).
        normal: [f64; 3],
    },
}

impl RemnantDefinition {
    /// Which segments 1–8 are kept, for a segment-based definition.
    pub fn kept_segments(&self) -> Option<[bool; 9]> {
        let mut kept = [false; 9];
        match self {
            RemnantDefinition::Keep(s) => {
                for &n in s {
                    kept[n as usize] = true;
                }
            }
            RemnantDefinition::Remove(s) => {
                kept[1..].fill(true);
                for &n in s {
                    kept[n as usize] = false;
                }
            }
            RemnantDefinition::Resection {
                resection,
                with_caudate,
            } => {
                kept[1..].fill(true);
                for n in resection.removed(*with_caudate) {
                    kept[n as usize] = false;
                }
            }
            _ => return None,
        }
        Some(kept)
    }

    /// A sentence for reports.
    pub fn describe(&self) -> String {
        let list = |s: &[u8]| s.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        match self {
            RemnantDefinition::Region { description } => format!("remnant = {description}"),
            RemnantDefinition::Keep(s) => format!("segments {} kept", list(s)),
            RemnantDefinition::Remove(s) => format!("segments {} removed", list(s)),
            RemnantDefinition::Resection { resection, with_caudate } => format!(
                "{}{}: segments {} removed",
                resection.name(),
                if *with_caudate { " with caudate" } else { "" },
                list(&resection.removed(*with_caudate))
            ),
            RemnantDefinition::Plane { point_mm: p, normal: n } => format!(
                "plane through ({:.1}, {:.1}, {:.1}) mm, normal ({:.3}, {:.3}, {:.3}) towards the removed side",
                p[0], p[1], p[2], n[0], n[1], n[2]
            ),
        }
    }

    /// Checks segment numbers (1–8) and the plane normal.
    ///
    /// # Errors
    /// `Parameter` for a segment outside 1–8, an empty list, or a zero or
    /// non-finite normal.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, s: &[u8]| {
            if s.is_empty() || s.iter().any(|n| !(1..=8).contains(n)) {
                return Err(parameter_error(
                    name,
                    format!("{s:?}"),
                    "Couinaud segments from 1 to 8",
                ));
            }
            Ok(())
        };
        match self {
            RemnantDefinition::Keep(s) => check("keep", s),
            RemnantDefinition::Remove(s) => check("remove", s),
            RemnantDefinition::Plane { point_mm, normal } => {
                let n2: f64 = normal.iter().map(|v| v * v).sum();
                if !(n2 > 0.0 && n2.is_finite()) || point_mm.iter().any(|v| !v.is_finite()) {
                    return Err(parameter_error(
                        "plane",
                        format!("{point_mm:?}:{normal:?}"),
                        "a finite point and a non-zero normal, X,Y,Z:NX,NY,NZ",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Parses `X,Y,Z:NX,NY,NZ` (world mm and normal).
///
/// # Errors
/// `Parameter` (`plane`) when the text is not six numbers in that form.
pub fn parse_plane(text: &str) -> Result<RemnantDefinition> {
    let bad = || {
        parameter_error(
            "plane",
            text,
            "X,Y,Z:NX,NY,NZ (a point in world mm and the normal towards the removed side)",
        )
    };
    let (p, n) = text.split_once(':').ok_or_else(bad)?;
    let nums = |s: &str| -> Result<[f64; 3]> {
        let v: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?;
        <[f64; 3]>::try_from(v).map_err(|_| bad())
    };
    let def = RemnantDefinition::Plane {
        point_mm: nums(p)?,
        normal: nums(n)?,
    };
    def.validate()?;
    Ok(def)
}

/// Parses a comma-separated list of segment numbers (`2,3` or `5-8`).
///
/// # Errors
/// `Parameter` naming `what` for anything but segments 1–8.
pub fn parse_segments(what: &str, text: &str) -> Result<Vec<u8>> {
    let bad = || parameter_error(what, text, "Couinaud segments from 1 to 8, such as 2,3 or 5-8");
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let a: u8 = a.trim().parse().map_err(|_| bad())?;
            let b: u8 = b.trim().parse().map_err(|_| bad())?;
            if a > b {
                return Err(bad());
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().map_err(|_| bad())?);
        }
    }
    if out.is_empty() || out.iter().any(|n| !(1..=8).contains(n)) {
        return Err(bad());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brisbane_table() {
        assert_eq!(
            Resection::from_name("right-hepatectomy").unwrap().removed(false),
            vec![5, 6, 7, 8]
        );
        assert_eq!(
            Resection::from_name("left-trisectionectomy")
                .unwrap()
                .removed(true),
            vec![1, 2, 3, 4, 5, 8]
        );
        let e = Resection::from_name("whipple").unwrap_err();
        assert!(e.to_string().contains("left-lateral-sectionectomy"), "{e}");
        for r in Resection::ALL {
            assert_eq!(Resection::from_name(r.name()).unwrap(), r);
        }
    }

    #[test]
    fn kept_segments() {
        let k = RemnantDefinition::Resection {
            resection: Resection::LeftLateralSectionectomy,
            with_caudate: false,
        }
        .kept_segments()
        .unwrap();
        assert_eq!(k, [false, true, false, false, true, true, true, true, true]);
        let k = RemnantDefinition::Keep(vec![2, 3]).kept_segments().unwrap();
        assert_eq!(k.iter().filter(|&&b| b).count(), 2);
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_segments("keep", "5-8").unwrap(), vec![5, 6, 7, 8]);
        assert_eq!(parse_segments("keep", "3, 2,2").unwrap(), vec![2, 3]);
        for text in ["9", ""] {
            let e = parse_segments("keep", text).unwrap_err();
            assert_eq!(
                (e.kind(), e.field()),
                (crate::ErrorKind::Parameter, Some("keep")),
                "{e}"
            );
        }
        assert!(parse_plane("1,2,3:0,0,1").is_ok());
        for text in ["1,2,3:0,0,0", "1,2:0,0,1", "1,2,3"] {
            let e = parse_plane(text).unwrap_err();
            assert_eq!(
                (e.kind(), e.field()),
                (crate::ErrorKind::Parameter, Some("plane")),
                "{e}"
            );
        }
    }
}
