//! Coded concepts of a SEG's segments, and the SNOMED-RT to SNOMED CT
//! mapping that lets a user name a segment by either scheme.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use crate::io::dicom::text;

/// Legacy SNOMED-RT codes and the SNOMED CT codes of the same structure, as
/// DICOM's mapping of the two schemes gives them [DICOM PS3.16, the SNOMED
/// "SRT" to "SCT" code mapping table].
pub const SRT_TO_SCT: [(&str, &str, &str); 8] = [
    ("T-62000", "10200004", "Liver"),
    ("T-48810", "32764006", "Portal vein"),
    ("T-48720", "8993003", "Hepatic vein"),
    ("T-48610", "64131007", "Inferior vena cava"),
    ("M-80000", "108369006", "Neoplasm"),
    ("M-80003", "86049000", "Malignant neoplasm, primary"),
    ("T-D0050", "85756007", "Tissue"),
    ("T-62600", "28231008", "Gallbladder"),
];

/// A coded concept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// CodeValue.
    pub value: String,
    /// CodingSchemeDesignator (SCT, SRT, DCM, …).
    pub scheme: String,
    /// CodeMeaning.
    pub meaning: String,
}

impl Code {
    pub(super) fn of(item: Option<&InMemDicomObject>) -> Option<Code> {
        let i = item?;
        let mut value = text(i, tags::CODE_VALUE);
        if value.is_empty() {
            value = text(i, tags::LONG_CODE_VALUE);
        }
        if value.is_empty() {
            return None;
        }
        Some(Code {
            value,
            scheme: text(i, tags::CODING_SCHEME_DESIGNATOR),
            meaning: text(i, tags::CODE_MEANING),
        })
    }

    /// The ways a user may name this code: `SCHEME^VALUE`, and the same
    /// concept in the other SNOMED scheme.
    pub fn aliases(&self) -> Vec<String> {
        let mut out = vec![format!("{}^{}", self.scheme, self.value)];
        for (srt, sct, _) in SRT_TO_SCT {
            if self.scheme == "SRT" && self.value == srt {
                out.push(format!("SCT^{sct}"));
            }
            if self.scheme == "SCT" && self.value == sct {
                out.push(format!("SRT^{srt}"));
            }
        }
        out
    }
}
