//! What a DICOM object liverkit writes (SEG, SR) takes from the series it
//! was derived from: the patient and study, the frame of reference, and the
//! image of every slice, so that PACS files it with the patient's CT and
//! overlays it there. Without a source (a NIfTI input) the object stands
//! alone: new study and frame of reference UIDs, the patient left empty.

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::{text, DicomSeries};
use crate::grid::Grid;

/// The patient and study attributes carried over [DICOM PS3.3 C.7.1.1
/// Patient Module, C.7.2.1 General Study Module], with their VRs.
const CARRIED: [(Tag, VR); 10] = [
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_INSTANCE_UID, VR::UI),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
];

/// The carried-over attributes of a dataset, as text.
pub(crate) fn patient_study(obj: &InMemDicomObject) -> InMemDicomObject {
    let mut out = InMemDicomObject::new_empty();
    for (tag, vr) in CARRIED {
        let v = text(obj, tag);
        if !v.is_empty() {
            out.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        }
    }
    out
}

/// The series a derived object refers to.
#[derive(Debug, Clone)]
pub struct SourceSeries {
    /// Its grid (a derived mask must lie on it).
    pub grid: Grid,
    /// FrameOfReferenceUID (empty when the series has none).
    pub frame_of_reference_uid: String,
    /// SeriesInstanceUID (empty when the series has none).
    pub series_uid: String,
    /// SOPClassUID of its images.
    pub sop_class_uid: String,
    /// Per slice (in grid order): the image's SOPInstanceUID and, for a
    /// multi-frame image, the frame number.
    pub instances: Vec<(String, Option<u32>)>,
    pub(crate) patient_study: InMemDicomObject,
}

impl DicomSeries {
    /// What objects derived from this series refer to (no voxels kept).
    pub fn source(&self) -> SourceSeries {
        let instances = self
            .instance_uids
            .iter()
            .map(|u| match u.split_once(" frame ") {
                Some((uid, n)) => (uid.to_string(), n.parse().ok()),
                None => (u.clone(), None),
            })
            .collect();
        SourceSeries {
            grid: self.volume.grid().clone(),
            frame_of_reference_uid: self.frame_of_reference_uid.clone(),
            series_uid: self.series_uid.clone(),
            sop_class_uid: self.sop_class_uid.clone(),
            instances,
            patient_study: self.patient_study.clone(),
        }
    }
}

impl SourceSeries {
    /// A carried-over attribute, empty when the source had none.
    pub(crate) fn carried(&self, tag: Tag) -> String {
        text(&self.patient_study, tag)
    }

    /// Whether every slice names its image, so derived frames can point to
    /// them.
    pub(crate) fn references_images(&self) -> bool {
        !self.series_uid.is_empty()
            && !self.sop_class_uid.is_empty()
            && self.instances.len() == self.grid.dims()[2]
            && self.instances.iter().all(|(u, _)| !u.is_empty())
    }
}

/// A new UID: `2.25.` and a random 128-bit number, the form DICOM allows
/// without a registered root [DICOM PS3.5 B.2; ITU-T X.667].
pub fn new_uid() -> String {
    format!("2.25.{}", uuid::Uuid::new_v4().as_u128())
}
