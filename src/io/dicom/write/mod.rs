//! Writing DICOM objects derived from a case: segmentations ([`seg`]) with
//! dicom-object's writer. What every written object shares is here: the
//! patient, study, series, frame of reference and equipment modules, coded
//! items, and the atomic write of the Part 10 file (explicit VR little
//! endian).

pub mod seg;
pub mod sr;

use std::path::Path;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;

use super::source::{new_uid, SourceSeries};
use crate::error::{Error, Result};
use crate::io::structure::Concept;

/// Explicit VR little endian.
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// liverkit's implementation class UID (a fixed 2.25 UUID-derived UID).
pub(crate) const IMPLEMENTATION_UID: &str = "2.25.80416885235796028638688517144839039632";

/// A dataset under construction.
pub(crate) struct Dataset(pub InMemDicomObject);

impl Dataset {
    pub fn new() -> Dataset {
        Dataset(InMemDicomObject::new_empty())
    }

    /// A text attribute (several values joined by `\`).
    pub fn str(&mut self, tag: Tag, vr: VR, value: impl Into<String>) -> &mut Self {
        self.0
            .put(DataElement::new(tag, vr, PrimitiveValue::from(value.into())));
        self
    }

    /// An unsigned 16-bit attribute.
    pub fn u16s(&mut self, tag: Tag, values: &[u16]) -> &mut Self {
        self.0.put(DataElement::new(
            tag,
            VR::US,
            PrimitiveValue::U16(values.iter().copied().collect()),
        ));
        self
    }

    /// An unsigned 32-bit attribute.
    pub fn u32s(&mut self, tag: Tag, values: &[u32]) -> &mut Self {
        self.0.put(DataElement::new(
            tag,
            VR::UL,
            PrimitiveValue::U32(values.iter().copied().collect()),
        ));
        self
    }

    /// An attribute-tag attribute.
    pub fn tags(&mut self, tag: Tag, values: &[Tag]) -> &mut Self {
        self.0.put(DataElement::new(
            tag,
            VR::AT,
            PrimitiveValue::Tags(values.iter().copied().collect()),
        ));
        self
    }

    /// A sequence.
    pub fn seq(&mut self, tag: Tag, items: Vec<InMemDicomObject>) -> &mut Self {
        self.0
            .put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
        self
    }

    /// A sequence of one coded item.
    pub fn code(&mut self, tag: Tag, c: Concept) -> &mut Self {
        self.seq(tag, vec![code_item(c)])
    }

    /// The Frame of Reference module [DICOM PS3.3 C.7.4.1] (images only:
    /// an SR has none).
    pub fn frame_of_reference(&mut self, uid: &str) -> &mut Self {
        self.str(tags::FRAME_OF_REFERENCE_UID, VR::UI, uid).str(
            tags::POSITION_REFERENCE_INDICATOR,
            VR::LO,
            "",
        )
    }

    pub fn done(self) -> InMemDicomObject {
        self.0
    }
}

/// A code sequence item [DICOM PS3.3 8.8].
pub(crate) fn code_item(c: Concept) -> InMemDicomObject {
    let mut d = Dataset::new();
    d.str(tags::CODE_VALUE, VR::SH, c.value)
        .str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, c.scheme)
        .str(tags::CODE_MEANING, VR::LO, c.meaning);
    d.done()
}

/// Decimal string of a number, at most 16 characters [DICOM PS3.5 6.2].
pub(crate) fn ds(v: f64) -> String {
    for digits in (0..=10).rev() {
        let s = format!("{v:.digits$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    format!("{v:.3e}")
}

/// Several decimal strings joined by `\`.
pub(crate) fn ds_list(v: &[f64]) -> String {
    v.iter().map(|&x| ds(x)).collect::<Vec<_>>().join("\\")
}

/// The UIDs and modules shared by every object written from one source:
/// the patient and study (carried over, or new), a new series, the frame of
/// reference, equipment, and the content date and time.
pub(crate) struct Common {
    pub sop_instance_uid: String,
    pub series_uid: String,
    pub study_uid: String,
    pub frame_of_reference_uid: String,
}

impl Common {
    /// The modules common to every liverkit object, put in `d`. The study
    /// and frame of reference are the source's, else `study` (those of an
    /// object written in the same run: study UID, frame of reference UID),
    /// else new.
    pub fn put(
        d: &mut Dataset,
        source: Option<&SourceSeries>,
        study: Option<(String, String)>,
        sop_class: &str,
        modality: &str,
        description: &str,
    ) -> Common {
        let carried = |tag| source.map(|s| s.carried(tag)).unwrap_or_default();
        let (fallback_study, fallback_frame) = study.unzip();
        let study_uid = Some(carried(tags::STUDY_INSTANCE_UID))
            .filter(|u| !u.is_empty())
            .or(fallback_study)
            .unwrap_or_else(new_uid);
        let frame_of_reference_uid = source
            .map(|s| s.frame_of_reference_uid.clone())
            .filter(|u| !u.is_empty())
            .or(fallback_frame)
            .unwrap_or_else(new_uid);
        let common = Common {
            sop_instance_uid: new_uid(),
            series_uid: new_uid(),
            study_uid: study_uid.clone(),
            frame_of_reference_uid,
        };
        let now = chrono::Utc::now();
        let (date, time) = (now.format("%Y%m%d").to_string(), now.format("%H%M%S").to_string());
        d.str(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192")
            .str(tags::SOP_CLASS_UID, VR::UI, sop_class)
            .str(tags::SOP_INSTANCE_UID, VR::UI, common.sop_instance_uid.clone())
            .str(tags::PATIENT_NAME, VR::PN, carried(tags::PATIENT_NAME))
            .str(tags::PATIENT_ID, VR::LO, carried(tags::PATIENT_ID))
            .str(
                tags::PATIENT_BIRTH_DATE,
                VR::DA,
                carried(tags::PATIENT_BIRTH_DATE),
            )
            .str(tags::PATIENT_SEX, VR::CS, carried(tags::PATIENT_SEX))
            .str(tags::STUDY_INSTANCE_UID, VR::UI, study_uid)
            .str(tags::STUDY_DATE, VR::DA, carried(tags::STUDY_DATE))
            .str(tags::STUDY_TIME, VR::TM, carried(tags::STUDY_TIME))
            .str(
                tags::REFERRING_PHYSICIAN_NAME,
                VR::PN,
                carried(tags::REFERRING_PHYSICIAN_NAME),
            )
            .str(tags::STUDY_ID, VR::SH, carried(tags::STUDY_ID))
            .str(tags::ACCESSION_NUMBER, VR::SH, carried(tags::ACCESSION_NUMBER))
            .str(tags::MODALITY, VR::CS, modality)
            .str(tags::SERIES_INSTANCE_UID, VR::UI, common.series_uid.clone())
            .str(tags::SERIES_NUMBER, VR::IS, "900")
            .str(tags::SERIES_DESCRIPTION, VR::LO, description)
            .str(tags::MANUFACTURER, VR::LO, "liverkit")
            .str(tags::MANUFACTURER_MODEL_NAME, VR::LO, "liverkit")
            .str(tags::DEVICE_SERIAL_NUMBER, VR::LO, "liverkit")
            .str(tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION"))
            .str(tags::INSTANCE_NUMBER, VR::IS, "1")
            .str(tags::CONTENT_DATE, VR::DA, date.clone())
            .str(tags::CONTENT_TIME, VR::TM, time.clone())
            .str(tags::SERIES_DATE, VR::DA, date)
            .str(tags::SERIES_TIME, VR::TM, time);
        common
    }
}

/// Writes `d` as a Part 10 file at `path`, through a temporary file renamed
/// over `path` only when complete.
///
/// # Errors
/// `Write` when the file cannot be written (nothing is left at `path`).
pub(crate) fn write_part10(path: &Path, d: Dataset, sop_class: &str, sop_instance: &str) -> Result<()> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .transfer_syntax(EXPLICIT_LE)
        .implementation_class_uid(IMPLEMENTATION_UID)
        .implementation_version_name(format!("LIVERKIT_{}", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| write_error(path, e.to_string()))?;
    let file = d.done().with_exact_meta(meta);
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| write_error(path, e.to_string()))?;
    crate::io::atomic::write_file(path, &bytes)
}

fn write_error(path: &Path, text: String) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(text),
    }
}
