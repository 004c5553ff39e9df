//! 3D Slicer's `.seg.nrrd` segments: the `Segment{N}_*` pairs.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Result, Warning};

use super::header_error;

/// A segment described by a `.seg.nrrd` header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentInfo {
    /// N of the `Segment{N}_` fields.
    pub index: usize,
    /// `Segment{N}_ID`.
    pub id: Option<String>,
    /// `Segment{N}_Name`.
    pub name: String,
    /// `Segment{N}_LabelValue`: the value of its voxels in its layer.
    pub label_value: i64,
    /// `Segment{N}_Layer`: the layer holding it.
    pub layer: usize,
    /// `Segment{N}_Tags` (terminology codes).
    pub tags: Option<String>,
    /// The label liverkit gives it (the label value, unless renumbered).
    pub label: i64,
}

impl SegmentInfo {
    /// The segment's property type code from its terminology tag
    /// (`SCT^113197003^Rib`), when it has one.
    pub fn type_code(&self) -> Option<&str> {
        let tags = self.tags.as_deref()?;
        let entry = tags
            .split('|')
            .find_map(|t| t.strip_prefix("TerminologyEntry:"))?;
        entry
            .split('~')
            .nth(2)
            .filter(|c| c.split('^').nth(1).is_some_and(|v| !v.is_empty()))
    }
}

/// The `Segment{N}_*` pairs of a `.seg.nrrd`.
pub(super) fn segments_of(
    path: &Path,
    pairs: &BTreeMap<String, String>,
    layers: usize,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<SegmentInfo>> {
    let mut out = Vec::new();
    for n in 0.. {
        let key = |f: &str| format!("Segment{n}_{f}");
        let Some(name) = pairs.get(&key("Name")) else {
            if n == 0 || !pairs.contains_key(&key("LabelValue")) {
                break;
            }
            return Err(header_error(path, &key("Name"), "a segment name", "no such key"));
        };
        let number = |f: &str, default: i64| -> Result<i64> {
            match pairs.get(&key(f)) {
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| header_error(path, &key(f), "a whole number", v)),
                None => Ok(default),
            }
        };
        let label_value = number("LabelValue", 1)?;
        let layer = number("Layer", 0)?;
        if layer < 0 || layer as usize >= layers {
            return Err(header_error(
                path,
                &key("Layer"),
                format!("0 to {}", layers - 1),
                layer,
            ));
        }
        out.push(SegmentInfo {
            index: n,
            id: pairs.get(&key("ID")).cloned(),
            name: name.clone(),
            label_value,
            layer: layer as usize,
            tags: pairs.get(&key("Tags")).cloned(),
            label: label_value,
        });
    }
    let mut values: Vec<i64> = out.iter().map(|s| s.label_value).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() < out.len() {
        for s in &mut out {
            s.label = s.index as i64 + 1;
        }
        warnings.push(Warning::new(
            Some(path),
            "Segment*_LabelValue",
            "segments in different layers share label values: labels are the segment numbers + 1 (Segment0 = 1, …)",
        ));
    }
    Ok(out)
}
