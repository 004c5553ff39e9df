//! The structures liverkit writes as segmentations, each with its coded
//! concept, its name and its display colour: one list, used by every
//! segmentation writer (DICOM SEG, 3D Slicer `.seg.nrrd`) and by the
//! structured report that refers to them.
//!
//! Codes are SNOMED CT (`SCT`) concepts of DICOM's segmentation vocabulary
//! [DICOM PS3.16 CID 7150 "Segmentation Property Categories", CID 7151
//! "Segmentation Property Types", CID 7157 and the SCT concepts they draw
//! on]; the margin shortfall, which has no SNOMED concept, takes DICOM's own
//! "Region in Space" (DCM 130488). The remnant and the resected liver are
//! both the liver structure (SCT 10200004); their segment labels tell them
//! apart.

use crate::volume::Mask;

/// A mask to write, and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Its voxels.
    pub mask: &'a Mask,
    /// What it is.
    pub structure: Structure,
}

/// A coded concept: value, scheme, meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concept {
    /// CodeValue.
    pub value: &'static str,
    /// CodingSchemeDesignator.
    pub scheme: &'static str,
    /// CodeMeaning.
    pub meaning: &'static str,
}

impl Concept {
    /// A concept from its code value, scheme and meaning.
    pub const fn new(value: &'static str, scheme: &'static str, meaning: &'static str) -> Concept {
        Concept {
            value,
            scheme,
            meaning,
        }
    }
}

const ANATOMICAL_STRUCTURE: Concept = Concept::new("91723000", "SCT", "Anatomical Structure");
const MORPHOLOGICALLY_ABNORMAL: Concept =
    Concept::new("49755003", "SCT", "Morphologically Abnormal Structure");
const SPATIAL_CONCEPT: Concept = Concept::new("309825002", "SCT", "Spatial and Relational Concept");
const LIVER: Concept = Concept::new("10200004", "SCT", "Liver");
const NEOPLASM: Concept = Concept::new("108369006", "SCT", "Neoplasm");
const PLANNING_TARGET_VOLUME: Concept = Concept::new("228793007", "SCT", "Planning target volume");
const NECROSIS: Concept = Concept::new("6574001", "SCT", "Necrosis");
const REGION_IN_SPACE: Concept = Concept::new("130488", "DCM", "Region in Space");

/// A structure liverkit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Structure {
    /// The whole liver.
    Liver,
    /// The liver left after a resection.
    Remnant,
    /// The liver taken out.
    ResectedLiver,
    /// A tumour.
    Tumor,
    /// Tumour plus the safety margin: what an ablation must cover.
    AblationTarget,
    /// The predicted ablation zone (tissue reaching 70 °C).
    AblationZone,
    /// The predicted thermal damage (Arrhenius Ω ≥ 1).
    ThermalDamage,
    /// Where the ablation target is not covered: the margin shortfall.
    MarginShortfall,
}

impl Structure {
    /// The segment label shown in viewers.
    pub fn label(self) -> &'static str {
        match self {
            Structure::Liver => "Liver",
            Structure::Remnant => "Liver remnant",
            Structure::ResectedLiver => "Resected liver",
            Structure::Tumor => "Tumor",
            Structure::AblationTarget => "Ablation target (tumor + margin)",
            Structure::AblationZone => "Predicted ablation zone (70 C)",
            Structure::ThermalDamage => "Predicted thermal damage",
            Structure::MarginShortfall => "Margin shortfall",
        }
    }

    /// SegmentedPropertyCategoryCode.
    pub fn category(self) -> Concept {
        match self {
            Structure::Liver | Structure::Remnant | Structure::ResectedLiver => ANATOMICAL_STRUCTURE,
            Structure::Tumor | Structure::AblationZone | Structure::ThermalDamage => MORPHOLOGICALLY_ABNORMAL,
            Structure::AblationTarget | Structure::MarginShortfall => SPATIAL_CONCEPT,
        }
    }

    /// SegmentedPropertyTypeCode.
    pub fn property_type(self) -> Concept {
        match self {
            Structure::Liver | Structure::Remnant | Structure::ResectedLiver => LIVER,
            Structure::Tumor => NEOPLASM,
            Structure::AblationTarget => PLANNING_TARGET_VOLUME,
            Structure::AblationZone | Structure::ThermalDamage => NECROSIS,
            Structure::MarginShortfall => REGION_IN_SPACE,
        }
    }

    /// Display colour, sRGB 0–255: the liver as 3D Slicer's anatomical
    /// colour table shows it, the rest chosen to stand apart on a grey CT.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Structure::Liver => [221, 130, 101],
            Structure::Remnant => [128, 174, 128],
            Structure::ResectedLiver => [241, 214, 145],
            Structure::Tumor => [255, 255, 0],
            Structure::AblationTarget => [0, 151, 206],
            Structure::AblationZone => [216, 101, 79],
            Structure::ThermalDamage => [183, 156, 220],
            Structure::MarginShortfall => [255, 0, 255],
        }
    }

    /// The colour as DICOM's RecommendedDisplayCIELabValue: CIE L*a*b*
    /// (D65) scaled to 0–65535, L* from 0–100 and a*, b* from −128–127
    /// [DICOM PS3.3 C.10.7.1.1].
    pub fn cielab_scaled(self) -> [u16; 3] {
        let [l, a, b] = srgb_to_lab(self.rgb());
        let scale =
            |v: f64, lo: f64, hi: f64| ((v - lo) / (hi - lo) * 65535.0).round().clamp(0.0, 65535.0) as u16;
        [
            scale(l, 0.0, 100.0),
            scale(a, -128.0, 127.0),
            scale(b, -128.0, 127.0),
        ]
    }
}

/// sRGB (0–255) to CIE L*a*b* under D65 [IEC 61966-2-1 for the sRGB
/// transfer curve and primaries; CIE 15:2004 for L*a*b*].
fn srgb_to_lab(rgb: [u8; 3]) -> [f64; 3] {
    let lin = rgb.map(|c| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let x = 0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2];
    let y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    let z = 0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2];
    let white = [0.95047, 1.0, 1.08883];
    let f = |t: f64| {
        let d: f64 = 6.0 / 29.0;
        if t > d.powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * d * d) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / white[0]), f(y / white[1]), f(z / white[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_black_and_red_in_lab() {
        // Published sRGB → L*a*b* (D65) values: white (100, 0, 0), black
        // (0, 0, 0), pure red (53.24, 80.09, 67.20).
        let close = |a: [f64; 3], b: [f64; 3]| (0..3).all(|i| (a[i] - b[i]).abs() < 0.05);
        assert!(close(srgb_to_lab([255, 255, 255]), [100.0, 0.0, 0.0]));
        assert!(close(srgb_to_lab([0, 0, 0]), [0.0, 0.0, 0.0]));
        assert!(close(srgb_to_lab([255, 0, 0]), [53.24, 80.09, 67.20]));
    }
}
