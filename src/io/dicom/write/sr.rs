//! Writing a command's numbers as a DICOM Structured Report: a TID 1500
//! "Imaging Measurement Report" [DICOM PS3.16 TID 1500, TID 1411 "Volumetric
//! ROI Measurements", TID 1501] in a Comprehensive SR document [DICOM PS3.3
//! A.35.3].
//!
//! * One measurement group per structure measured (liver, remnant, tumour
//!   n, ablation zone …): its tracking identifier and UID, the finding (the
//!   structure's SNOMED CT type), and its measurements as NUM items with
//!   UCUM units. When a SEG was written in the same run on a DICOM source
//!   series, the group also points to the segment it was measured on and to
//!   that series (TID 1411); a SEG from NIfTI inputs has no source series,
//!   and its groups are plain ones (TID 1501), the SEG listed as evidence.
//! * The verdict, in words, as the conclusion of a "Qualitative Evaluations"
//!   container.
//! * The device observer is liverkit; the SR joins the study of the source
//!   series, or of the SEG written with it.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::{ds, write_part10, Common, Dataset};
use crate::error::Result;
use crate::io::dicom::source::{new_uid, SourceSeries};
use crate::io::dicom::SEG_STORAGE;
use crate::io::structure::{Concept, Structure};
use dicom_core::VR;

/// Comprehensive SR Storage.
const COMPREHENSIVE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";

/// One number measured.
#[derive(Debug, Clone, Copy)]
pub struct SrMeasurement {
    /// What it is (ConceptNameCodeSequence).
    pub name: Concept,
    /// Its value.
    pub value: f64,
    /// Its unit (UCUM).
    pub unit: Concept,
}

/// The measurements of one structure.
#[derive(Debug, Clone)]
pub struct SrGroup {
    /// Human-readable tracking identifier (`liver remnant`, `tumour 2`).
    pub tracking_id: String,
    /// What was measured (the Finding's code).
    pub finding: Concept,
    /// The structure of the SEG segment it was measured on, when the SEG
    /// written with the report holds it.
    pub segment: Option<Structure>,
    /// The numbers.
    pub measurements: Vec<SrMeasurement>,
}

/// A report to write.
#[derive(Debug, Clone)]
pub struct SrReport {
    /// The series description (`liverkit remnant`).
    pub description: String,
    /// The measurement groups.
    pub groups: Vec<SrGroup>,
    /// The verdict in words.
    pub conclusion: Option<String>,
}

/// A SEG written in the same run, which the report's groups point to.
#[derive(Debug, Clone)]
pub struct SegReference {
    /// Its SOPInstanceUID.
    pub sop_instance_uid: String,
    /// Its SeriesInstanceUID.
    pub series_uid: String,
    /// Its StudyInstanceUID.
    pub study_uid: String,
    /// Its FrameOfReferenceUID.
    pub frame_of_reference_uid: String,
    /// The structure of each segment, in segment-number order (1, 2, …).
    pub segments: Vec<Structure>,
}

/// A content item with its relationship, value type and concept name.
fn item(relationship: &str, value_type: &str, name: Concept) -> Dataset {
    let mut d = Dataset::new();
    d.str(tags::RELATIONSHIP_TYPE, VR::CS, relationship)
        .str(tags::VALUE_TYPE, VR::CS, value_type)
        .code(tags::CONCEPT_NAME_CODE_SEQUENCE, name);
    d
}

fn text_item(relationship: &str, name: Concept, text: &str) -> InMemDicomObject {
    let mut d = item(relationship, "TEXT", name);
    d.str(tags::TEXT_VALUE, VR::UT, text);
    d.done()
}

fn code_item(relationship: &str, name: Concept, value: Concept) -> InMemDicomObject {
    let mut d = item(relationship, "CODE", name);
    d.code(tags::CONCEPT_CODE_SEQUENCE, value);
    d.done()
}

fn uid_item(relationship: &str, name: Concept, uid: &str) -> InMemDicomObject {
    let mut d = item(relationship, "UIDREF", name);
    d.str(tags::UID, VR::UI, uid);
    d.done()
}

fn container(
    relationship: Option<&str>,
    name: Concept,
    template: Option<&str>,
    content: Vec<InMemDicomObject>,
) -> Dataset {
    let mut d = Dataset::new();
    if let Some(r) = relationship {
        d.str(tags::RELATIONSHIP_TYPE, VR::CS, r);
    }
    d.str(tags::VALUE_TYPE, VR::CS, "CONTAINER")
        .code(tags::CONCEPT_NAME_CODE_SEQUENCE, name)
        .str(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    if let Some(t) = template {
        let mut tid = Dataset::new();
        tid.str(tags::MAPPING_RESOURCE, VR::CS, "DCMR")
            .str(tags::TEMPLATE_IDENTIFIER, VR::CS, t);
        d.seq(tags::CONTENT_TEMPLATE_SEQUENCE, vec![tid.done()]);
    }
    if !content.is_empty() {
        d.seq(tags::CONTENT_SEQUENCE, content);
    }
    d
}

fn num_item(m: &SrMeasurement) -> InMemDicomObject {
    let mut value = Dataset::new();
    value
        .str(tags::NUMERIC_VALUE, VR::DS, ds(m.value))
        .code(tags::MEASUREMENT_UNITS_CODE_SEQUENCE, m.unit);
    value.0.put(dicom_core::DataElement::new(
        tags::FLOATING_POINT_VALUE,
        VR::FD,
        dicom_core::PrimitiveValue::F64([m.value].into_iter().collect()),
    ));
    let mut d = item("CONTAINS", "NUM", m.name);
    d.seq(tags::MEASURED_VALUE_SEQUENCE, vec![value.done()]);
    d.done()
}

fn group_item(g: &SrGroup, seg: Option<&SegReference>, source: Option<&SourceSeries>) -> InMemDicomObject {
    let mut content = vec![
        text_item(
            "HAS OBS CONTEXT",
            Concept::new("112039", "DCM", "Tracking Identifier"),
            &g.tracking_id,
        ),
        uid_item(
            "HAS OBS CONTEXT",
            Concept::new("112040", "DCM", "Tracking Unique Identifier"),
            &new_uid(),
        ),
        code_item("CONTAINS", Concept::new("121071", "DCM", "Finding"), g.finding),
    ];
    // A segment is pointed to with the image series it was made from (TID
    // 1411 needs both): a standalone SEG, from a NIfTI input, has none, and
    // its groups are plain measurement groups.
    let source_series = source.map(|s| s.series_uid.as_str()).filter(|u| !u.is_empty());
    let segment = seg
        .zip(g.segment)
        .zip(source_series)
        .and_then(|((s, want), series)| {
            s.segments
                .iter()
                .position(|&st| st == want)
                .map(|n| (s, n as u16 + 1, series))
        });
    if let Some((s, number, series)) = segment {
        let mut r = Dataset::new();
        r.str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, SEG_STORAGE)
            .str(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                s.sop_instance_uid.clone(),
            )
            .u16s(tags::REFERENCED_SEGMENT_NUMBER, &[number]);
        let mut image = item(
            "CONTAINS",
            "IMAGE",
            Concept::new("121191", "DCM", "Referenced Segment"),
        );
        image.seq(tags::REFERENCED_SOP_SEQUENCE, vec![r.done()]);
        content.push(image.done());
        content.push(uid_item(
            "CONTAINS",
            Concept::new("121232", "DCM", "Source series for segmentation"),
            series,
        ));
    }
    content.extend(g.measurements.iter().map(num_item));
    // Measurements on a segment are volumetric ROI measurements (TID 1411);
    // others are plain measurement groups (TID 1501).
    let template = if segment.is_some() { "1411" } else { "1501" };
    container(
        Some("CONTAINS"),
        Concept::new("125007", "DCM", "Measurement Group"),
        Some(template),
        content,
    )
    .done()
}

/// Writes `report` as a TID 1500 Comprehensive SR at `path`, in the study of
/// `source` (or of `seg`), its groups pointing to the segments of `seg`.
///
/// # Errors
/// `Write` when the file cannot be written (nothing is left at `path`).
pub fn write_sr(
    path: &Path,
    report: &SrReport,
    source: Option<&SourceSeries>,
    seg: Option<&SegReference>,
) -> Result<()> {
    let mut d = Dataset::new();
    let study = seg.map(|s| (s.study_uid.clone(), s.frame_of_reference_uid.clone()));
    let common = Common::put(&mut d, source, study, COMPREHENSIVE_SR, "SR", &report.description);
    // liverkit's own codes (`99LIVERKIT`) are declared [DICOM PS3.3 C.12.1.1.1].
    let mut scheme = Dataset::new();
    scheme
        .str(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "99LIVERKIT")
        .str(tags::CODING_SCHEME_NAME, VR::ST, "liverkit quantities")
        .str(tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION, VR::ST, "liverkit");
    d.seq(tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE, vec![scheme.done()]);
    d.str(tags::COMPLETION_FLAG, VR::CS, "COMPLETE")
        .str(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED")
        .seq(tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE, Vec::new())
        .seq(tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, Vec::new());
    if let Some(s) = seg {
        // The SEG the groups refer to is evidence of this report.
        let mut instance = Dataset::new();
        instance
            .str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, SEG_STORAGE)
            .str(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                s.sop_instance_uid.clone(),
            );
        let mut series = Dataset::new();
        series
            .str(tags::SERIES_INSTANCE_UID, VR::UI, s.series_uid.clone())
            .seq(tags::REFERENCED_SOP_SEQUENCE, vec![instance.done()]);
        let mut study = Dataset::new();
        study
            .str(tags::STUDY_INSTANCE_UID, VR::UI, s.study_uid.clone())
            .seq(tags::REFERENCED_SERIES_SEQUENCE, vec![series.done()]);
        d.seq(
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![study.done()],
        );
    }
    let mut content = vec![
        code_item(
            "HAS CONCEPT MOD",
            Concept::new("121049", "DCM", "Language of Content Item and Descendants"),
            Concept::new("eng", "RFC5646", "English"),
        ),
        code_item(
            "HAS OBS CONTEXT",
            Concept::new("121005", "DCM", "Observer Type"),
            Concept::new("121007", "DCM", "Device"),
        ),
        uid_item(
            "HAS OBS CONTEXT",
            Concept::new("121012", "DCM", "Device Observer UID"),
            super::IMPLEMENTATION_UID,
        ),
        text_item(
            "HAS OBS CONTEXT",
            Concept::new("121013", "DCM", "Device Observer Name"),
            "liverkit",
        ),
        code_item(
            "HAS CONCEPT MOD",
            Concept::new("121058", "DCM", "Procedure reported"),
            Concept::new("363679005", "SCT", "Imaging procedure"),
        ),
        container(
            Some("CONTAINS"),
            Concept::new("111028", "DCM", "Image Library"),
            None,
            Vec::new(),
        )
        .done(),
    ];
    let groups = report.groups.iter().map(|g| group_item(g, seg, source)).collect();
    content.push(
        container(
            Some("CONTAINS"),
            Concept::new("126010", "DCM", "Imaging Measurements"),
            None,
            groups,
        )
        .done(),
    );
    if let Some(c) = &report.conclusion {
        content.push(
            container(
                Some("CONTAINS"),
                Concept::new("C0034375", "UMLS", "Qualitative Evaluations"),
                None,
                vec![text_item(
                    "CONTAINS",
                    Concept::new("121077", "DCM", "Conclusion"),
                    c,
                )],
            )
            .done(),
        );
    }
    let root = container(
        None,
        Concept::new("126000", "DCM", "Imaging Measurement Report"),
        Some("1500"),
        content,
    );
    for e in root.done() {
        d.0.put(e);
    }
    write_part10(path, d, COMPREHENSIVE_SR, &common.sop_instance_uid)
}
