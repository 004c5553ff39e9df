//! Which voxels are liver, tumour, Couinaud segments, remnant, ablation zone or
//! vessel: roles given by label value, label name or mask file, with the
//! TotalSegmentator defaults.
//!
//! A role is one of
//! * label values or names in the main label map: `5`, `liver`, `2,3`;
//! * a mask file: `liver.nii.gz` (every non-zero voxel);
//! * labels in another label map: `liver_vessels.nii.gz:liver_tumor` or `…:2`.
//!
//! When no role is given, the label names decide, and only they: a label
//! named `liver` (TotalSegmentator `total`, value 5), labels named
//! `liver_segment_1` … `liver_segment_8` (`liver_segments`, values 1–8) and a
//! label named `liver_tumor` (`liver_vessels`, value 2). Without names, roles
//! must be given; nothing is guessed from values alone.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ndarray::Array3;
use rayon::prelude::*;

use crate::error::{parameter_error, Error, Result, Warning};
use crate::grid::Grid;
use crate::io::dicom::SourceSeries;
use crate::io::nifti::NiftiTemplate;
use crate::io::ReadOptions;
use crate::volume::{LabelMap, LabelNames, Mask};
use crate::with_label_array;

/// A label named by value or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRef {
    /// A label value.
    Value(i64),
    /// A label name from the file's label table.
    Name(String),
}

/// Where a role's voxels are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleSpec {
    /// Labels of the main label map.
    Labels(Vec<LabelRef>),
    /// A file: every non-zero voxel (`labels: None`) or the given labels.
    File {
        /// The file.
        path: PathBuf,
        /// Labels within it, or all non-zero voxels.
        labels: Option<Vec<LabelRef>>,
    },
}

impl RoleSpec {
    /// Parses a role as written on the command line. A text that names an
    /// existing file (optionally followed by `:labels`) is a file role.
    ///
    /// # Errors
    /// `Parameter` (`role`) for an empty text.
    pub fn parse(role: &str, text: &str) -> Result<RoleSpec> {
        if text.trim().is_empty() {
            return Err(parameter_error(
                role,
                text,
                "label values, label names or a mask file",
            ));
        }
        // A file, or a directory (a DICOM series read as a mask).
        if Path::new(text).exists() {
            return Ok(RoleSpec::File {
                path: PathBuf::from(text),
                labels: None,
            });
        }
        if let Some((file, labels)) = text.rsplit_once(':') {
            if Path::new(file).exists() {
                return Ok(RoleSpec::File {
                    path: PathBuf::from(file),
                    labels: Some(parse_refs(labels)),
                });
            }
        }
        Ok(RoleSpec::Labels(parse_refs(text)))
    }
}

fn parse_refs(text: &str) -> Vec<LabelRef> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map(LabelRef::Value)
                .unwrap_or_else(|_| LabelRef::Name(s.to_string()))
        })
        .collect()
}

impl fmt::Display for RoleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refs = |r: &[LabelRef]| {
            r.iter()
                .map(|x| match x {
                    LabelRef::Value(v) => v.to_string(),
                    LabelRef::Name(n) => n.clone(),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            RoleSpec::Labels(r) => write!(f, "{}", refs(r)),
            RoleSpec::File { path, labels: None } => write!(f, "{}", path.display()),
            RoleSpec::File {
                path,
                labels: Some(r),
            } => write!(f, "{}:{}", path.display(), refs(r)),
        }
    }
}

/// The label maps of a case, read once each and all on one grid (checked as
/// each is read), from which roles are resolved into masks.
pub struct Files {
    options: ReadOptions,
    main: Option<(PathBuf, LabelMap)>,
    others: BTreeMap<PathBuf, LabelMap>,
    grid: Option<(String, Grid)>,
    /// The output header of each file read (see [`Files::output_template`]).
    templates: BTreeMap<PathBuf, NiftiTemplate>,
    /// The DICOM series each DICOM input lies on (see [`Files::any_dicom_source`]).
    sources: BTreeMap<PathBuf, SourceSeries>,
    /// Warnings of every file read.
    pub warnings: Vec<Warning>,
    /// Every file read, in order.
    pub inputs: Vec<PathBuf>,
}

impl Files {
    /// Starts a case, reading the main label map (the one label values and
    /// names refer to) when there is one.
    ///
    /// # Errors
    /// Read errors of the main map.
    pub fn new(main: Option<&Path>, options: ReadOptions) -> Result<Files> {
        let mut files = Files {
            options,
            main: None,
            others: BTreeMap::new(),
            grid: None,
            templates: BTreeMap::new(),
            sources: BTreeMap::new(),
            warnings: Vec::new(),
            inputs: Vec::new(),
        };
        if let Some(p) = main {
            let map = files.load(p)?;
            files.main = Some((p.to_path_buf(), map));
        }
        Ok(files)
    }

    /// Starts a case from a label map already in memory (named `name` in
    /// reports and errors, e.g. its file or `<array>`), without reading it
    /// again.
    pub fn with_map(name: impl Into<PathBuf>, map: LabelMap, options: ReadOptions) -> Files {
        let name = name.into();
        Files {
            options,
            grid: Some((name.display().to_string(), map.grid().clone())),
            main: Some((name.clone(), map)),
            others: BTreeMap::new(),
            templates: BTreeMap::new(),
            sources: BTreeMap::new(),
            warnings: Vec::new(),
            inputs: vec![name],
        }
    }

    /// Adds a label map already in memory under `name`: roles given as
    /// [`RoleSpec::File`] with that path resolve to it instead of a file.
    ///
    /// # Errors
    /// `GridMismatch` when it is not on the case's grid.
    pub fn insert(&mut self, name: impl Into<PathBuf>, map: LabelMap) -> Result<()> {
        let name = name.into();
        let shown = name.display().to_string();
        match &self.grid {
            Some((first, g)) => g.ensure_same(map.grid(), first, &shown)?,
            None => self.grid = Some((shown, map.grid().clone())),
        }
        self.inputs.push(name.clone());
        self.others.insert(name, map);
        Ok(())
    }

    fn load(&mut self, path: &Path) -> Result<LabelMap> {
        let read = read_file(path, &self.options)?;
        self.register(path, read)
    }

    /// Records a file read: its output header, DICOM source, grid (checked
    /// against the case's), warnings.
    fn register(&mut self, path: &Path, read: ReadFile) -> Result<LabelMap> {
        let (loaded, template, source) = read;
        self.templates.insert(path.to_path_buf(), template);
        if let Some(source) = source {
            self.sources.insert(path.to_path_buf(), source);
        }
        let name = path.display().to_string();
        match &self.grid {
            Some((first, g)) => g.ensure_same(loaded.value.grid(), first, &name)?,
            None => self.grid = Some((name, loaded.value.grid().clone())),
        }
        self.warnings.extend(loaded.warnings);
        self.inputs.push(path.to_path_buf());
        Ok(loaded.value)
    }

    /// Reads the files of `specs` not read yet, side by side (each file's
    /// decompression is serial, so two files take the time of one on two
    /// cores); they are then checked and kept as [`Files::resolve`] would.
    ///
    /// # Errors
    /// As [`Files::resolve`] for a new file.
    pub fn preload(&mut self, specs: &[Option<&RoleSpec>]) -> Result<()> {
        let mut paths: Vec<&Path> = Vec::new();
        for spec in specs.iter().flatten() {
            if let RoleSpec::File { path, .. } = spec {
                let known =
                    self.main.as_ref().is_some_and(|(p, _)| p == path) || self.others.contains_key(path);
                if !known && !paths.contains(&path.as_path()) {
                    paths.push(path);
                }
            }
        }
        if paths.len() < 2 {
            return Ok(());
        }
        let options = &self.options;
        let reads: Vec<Result<ReadFile>> = paths.par_iter().map(|p| read_file(p, options)).collect();
        for (path, read) in paths.into_iter().zip(reads) {
            let map = self.register(path, read?)?;
            self.others.insert(path.to_path_buf(), map);
        }
        Ok(())
    }

    /// The header that outputs on the grid of input `path` take (its own
    /// geometry fields for a NIfTI input), kept from when the case read it,
    /// so writing an output never opens an input again; `None` for a file
    /// the case did not read (an in-memory map).
    pub fn output_template(&self, path: &Path) -> Option<NiftiTemplate> {
        self.templates.get(path).cloned()
    }

    /// The DICOM image series the case's inputs lie on (a mask series, or a
    /// SEG's `--reference`), for DICOM outputs to refer to: that of the
    /// first input that has one.
    pub fn any_dicom_source(&self) -> Option<&SourceSeries> {
        self.inputs.iter().find_map(|p| self.sources.get(p))
    }

    fn file(&mut self, path: &Path) -> Result<&LabelMap> {
        if self.main.as_ref().is_some_and(|(p, _)| p == path) {
            return self
                .main
                .as_ref()
                .map(|(_, m)| m)
                .ok_or_else(|| parameter_error("file", path.display(), "a label map"));
        }
        if !self.others.contains_key(path) {
            let m = self.load(path)?;
            self.others.insert(path.to_path_buf(), m);
        }
        self.others
            .get(path)
            .ok_or_else(|| parameter_error("file", path.display(), "a readable label map"))
    }

    /// A label map of the case by path (read, and checked against the
    /// case's grid, on first use).
    ///
    /// # Errors
    /// As [`Files::resolve`] for a new file.
    pub fn label_map_of(&mut self, path: &Path) -> Result<&LabelMap> {
        self.file(path)
    }

    /// The grid of the case: that of the first label map read or added.
    pub fn main_path(&self) -> Option<&Path> {
        self.main.as_ref().map(|(p, _)| p.as_path())
    }

    /// The grid of the first file read.
    pub fn grid(&self) -> Option<&Grid> {
        self.grid.as_ref().map(|(_, g)| g)
    }

    /// The read options of the case.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// Label names of the main map.
    pub fn main_names(&self) -> Option<&LabelNames> {
        self.main.as_ref().map(|(_, m)| m.names())
    }

    /// The main label map.
    pub fn main_map(&self) -> Option<&LabelMap> {
        self.main.as_ref().map(|(_, m)| m)
    }

    /// The voxels of a role, with a description for the report.
    ///
    /// # Errors
    /// Read errors of a new file; `GridMismatch` when it is not on the case's
    /// grid; `Parameter` for a label absent from the file (listing those
    /// present) or labels given without a main map.
    pub fn resolve(&mut self, role: &str, spec: &RoleSpec) -> Result<(Mask, String)> {
        match spec {
            RoleSpec::Labels(refs) => {
                let Some((path, map)) = &self.main else {
                    return Err(parameter_error(
                        role,
                        spec,
                        "a mask file (no label map was given to look the labels up in)",
                    ));
                };
                let values = resolve_refs(role, path, map, refs)?;
                Ok((map.mask_of(&values), describe(&values, map.names(), None)))
            }
            RoleSpec::File { path, labels: None } => {
                let map = self.file(path)?;
                match single_structure(role, path, map)? {
                    None => Ok((nonzero(map), format!("non-zero voxels of {}", path.display()))),
                    Some((value, name)) => {
                        let mask = map.mask_of(&[value]);
                        self.warnings.push(Warning::new(
                            Some(path),
                            role,
                            format!(
                                "the file holds several labels; label {value} ({name}) is taken as the {role} \
                                 by its name (name the label as FILE:LABEL to choose another)"
                            ),
                        ));
                        Ok((mask, format!("label {value} ({name}) of {}", path.display())))
                    }
                }
            }
            RoleSpec::File {
                path,
                labels: Some(refs),
            } => {
                let map = self.file(path)?;
                let values = resolve_refs(role, path, map, refs)?;
                Ok((map.mask_of(&values), describe(&values, map.names(), Some(path))))
            }
        }
    }

    /// The liver: `spec` when given, else TotalSegmentator's names in the
    /// main map — a label named `liver`, or the union of `liver_segment_1..8`.
    ///
    /// # Errors
    /// As [`Files::resolve`]; `Parameter` (`liver`) when no role is given
    /// and the names show no liver.
    pub fn liver(&mut self, spec: Option<&RoleSpec>) -> Result<(Mask, String)> {
        if let Some(spec) = spec {
            return self.resolve("liver", spec);
        }
        let names = self.main_names().cloned().unwrap_or_default();
        if let Some(v) = value_named(&names, "liver") {
            let (m, d) = self.resolve("liver", &RoleSpec::Labels(vec![LabelRef::Value(v)]))?;
            Ok((m, format!("{d} (TotalSegmentator name)")))
        } else if let Some(seg) = segment_labels(&names) {
            let refs = seg.keys().map(|v| LabelRef::Value(*v)).collect();
            let (m, _) = self.resolve("liver", &RoleSpec::Labels(refs))?;
            Ok((
                m,
                "union of the segments liver_segment_1..8 (TotalSegmentator names)".to_string(),
            ))
        } else {
            Err(parameter_error(
                "liver",
                "nothing",
                "a liver role (`liver`: a label value, a label name or a mask file; the label names do not show a TotalSegmentator liver)",
            ))
        }
    }

    /// The tumours: `spec` when given, else the label named `liver_tumor`
    /// (TotalSegmentator's `liver_vessels` task) when the main map holds it.
    ///
    /// # Errors
    /// As [`Files::resolve`].
    pub fn tumor(&mut self, spec: Option<&RoleSpec>) -> Result<Option<(Mask, String)>> {
        if let Some(spec) = spec {
            return self.resolve("tumor", spec).map(Some);
        }
        let names = self.main_names().cloned().unwrap_or_default();
        match value_named(&names, "liver_tumor") {
            Some(v) if self.main_map().is_some_and(|m| m.contains_label(v)) => {
                let (m, d) = self.resolve("tumor", &RoleSpec::Labels(vec![LabelRef::Value(v)]))?;
                Ok(Some((m, format!("{d} (TotalSegmentator name)"))))
            }
            _ => Ok(None),
        }
    }

    /// Couinaud segment numbers (0: none) from a file or the main map. A label
    /// named `liver_segment_N` is segment N; without names, values 1–8 are
    /// the segments.
    ///
    /// # Errors
    /// Read and grid errors of the segments file.
    pub fn segments(&mut self, source: Option<&Path>) -> Result<Option<(Array3<u8>, String)>> {
        let (map, path) = match source {
            Some(p) => (self.file(p)?.clone(), p.to_path_buf()),
            None => match &self.main {
                Some((p, m)) if segment_labels(m.names()).is_some() => (m.clone(), p.clone()),
                _ => return Ok(None),
            },
        };
        let by_name = segment_labels(map.names());
        let mapping: BTreeMap<i64, u8> = match &by_name {
            Some(m) => m.clone(),
            None => (1..=8).map(|s| (s as i64, s as u8)).collect(),
        };
        let present = map.present_labels();
        let ignored: Vec<i64> = present
            .iter()
            .copied()
            .filter(|v| *v != 0 && !mapping.contains_key(v))
            .collect();
        // A separate segments file should hold segments only; the main map
        // naturally holds other structures too.
        if source.is_some() && !ignored.is_empty() {
            self.warnings.push(Warning::new(
                Some(&path),
                "segments",
                format!("labels {ignored:?} are not Couinaud segments 1-8 and are ignored"),
            ));
        }
        let seg = with_label_array!(map.labels(), a => a.mapv(|v| {
            use crate::volume::LabelValue;
            v.to_label().and_then(|l| mapping.get(&l).copied()).unwrap_or(0)
        }));
        let how = if by_name.is_some() {
            "labels named liver_segment_1..8"
        } else {
            "values 1-8"
        };
        Ok(Some((seg, format!("{how} of {}", path.display()))))
    }
}

/// Label names that mean a role, when a file with several labels is given
/// as that role without naming the label.
fn role_names(role: &str) -> &'static [&'static str] {
    match role {
        "tumor" => &["liver_tumor", "liver_tumour", "tumor", "tumour", "lesion"],
        "liver" => &["liver"],
        "zone" => &["ablation_zone", "zone", "ablation"],
        "remnant" => &["remnant", "future_liver_remnant", "flr"],
        _ => &[],
    }
}

/// Whether a file given as a whole for `role` is one structure. A file with
/// one non-zero value is (`None`: take every non-zero voxel); so is a liver
/// given as its eight Couinaud segments. With several labels, a label named
/// like the role is taken (`Some`); otherwise the file is refused, since
/// its union (a liver with its tumours and vessels, say) would be measured
/// as one "tumour".
fn single_structure(role: &str, path: &Path, map: &LabelMap) -> Result<Option<(i64, String)>> {
    let present: Vec<i64> = map.present_labels().into_iter().filter(|&v| v != 0).collect();
    if present.len() <= 1 {
        return Ok(None);
    }
    let names = map.names();
    if role == "liver" {
        // A liver given as its parts: Couinaud segments, and the tumours
        // inside it, all named as such (the whole liver with its tumours).
        let part = |v: &i64| {
            segment_labels(names).is_some_and(|s| s.contains_key(v))
                || names.get(v).is_some_and(|n| {
                    let n = n.to_ascii_lowercase();
                    n == "liver"
                        || n.starts_with("liver_segment_")
                        || role_names("tumor").contains(&n.as_str())
                })
        };
        if present.iter().all(part) {
            return Ok(None);
        }
    }
    for want in role_names(role) {
        if let Some((v, n)) = names
            .iter()
            .find(|(v, n)| n.eq_ignore_ascii_case(want) && present.contains(v))
        {
            return Ok(Some((*v, n.clone())));
        }
    }
    const LISTED: usize = 12;
    let mut listed: Vec<String> = present
        .iter()
        .take(LISTED)
        .map(|v| match names.get(v) {
            Some(n) => format!("{v} ({n})"),
            None => v.to_string(),
        })
        .collect();
    if present.len() > LISTED {
        listed.push(format!("and {} more", present.len() - LISTED));
    }
    Err(Error::Data {
        path: path.to_path_buf(),
        field: format!("{role} labels"),
        expected: format!(
            "a mask of one structure (one non-zero value), or the label named as FILE:LABEL for the {role}"
        ),
        found: format!("{} labels: {}", present.len(), listed.join(", ")),
    })
}

/// Mask of the non-zero voxels of a map.
fn nonzero(map: &LabelMap) -> Mask {
    map.nonzero_mask()
}

/// Segment number of each label named `liver_segment_N` (all eight needed).
pub(crate) fn segment_labels(names: &LabelNames) -> Option<BTreeMap<i64, u8>> {
    let mut out = BTreeMap::new();
    for (v, n) in names {
        if let Some(s) = n
            .strip_prefix("liver_segment_")
            .and_then(|s| s.parse::<u8>().ok())
        {
            if (1..=8).contains(&s) {
                out.insert(*v, s);
            }
        }
    }
    (out.len() == 8).then_some(out)
}

/// The value of the label with this exact name.
pub(crate) fn value_named(names: &LabelNames, name: &str) -> Option<i64> {
    names.iter().find(|(_, n)| n.as_str() == name).map(|(v, _)| *v)
}

/// The label whose coded type is `code` (`SCT^10200004`, DICOM SEG).
fn value_coded(map: &LabelMap, code: &str) -> Option<i64> {
    map.codes()
        .iter()
        .find(|(_, c)| c.iter().any(|a| a.eq_ignore_ascii_case(code)))
        .map(|(v, _)| *v)
}

/// A label map read, its output header and its DICOM source series.
type ReadFile = (crate::io::Loaded<LabelMap>, NiftiTemplate, Option<SourceSeries>);

/// Reads one label map (nothing recorded yet: see [`Files::register`]).
fn read_file(path: &Path, options: &ReadOptions) -> Result<ReadFile> {
    let opened = crate::io::open(path, options)?;
    let loaded = opened.read_label_map()?;
    let template = opened.output_template(loaded.value.grid());
    let source = opened.dicom_source().cloned();
    Ok((loaded, template, source))
}

fn resolve_refs(role: &str, path: &Path, map: &LabelMap, refs: &[LabelRef]) -> Result<Vec<i64>> {
    // The full list of labels costs a pass over the volume: only for errors.
    let listing = || {
        let present = map.present_labels();
        let items: Vec<String> = present
            .iter()
            .filter(|&&v| v != 0)
            .map(|v| match map.names().get(v) {
                Some(n) => format!("{v} ({n})"),
                None => v.to_string(),
            })
            .collect();
        format!(
            "labels present in {}: {}",
            path.display(),
            if items.is_empty() {
                "none".into()
            } else {
                items.join(", ")
            }
        )
    };
    let mut out = Vec::new();
    for r in refs {
        let v = match r {
            LabelRef::Value(v) => *v,
            LabelRef::Name(n) => value_named(map.names(), n)
                .or_else(|| value_coded(map, n))
                .ok_or_else(|| Error::Parameter {
                    name: role.into(),
                    value: n.clone(),
                    expected: format!("a label name (or SCHEME^CODE) of the file; {}", listing()),
                })?,
        };
        out.push(v);
    }
    // One pass finds them all.
    let present = map.contains_labels(&out);
    if let Some((v, _)) = out.iter().zip(&present).find(|(_, &p)| !p) {
        return Err(Error::Parameter {
            name: role.into(),
            value: v.to_string(),
            expected: format!("a label present in the file; {}", listing()),
        });
    }
    Ok(out)
}

fn describe(values: &[i64], names: &LabelNames, file: Option<&Path>) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| match names.get(v) {
            Some(n) => format!("{v} ({n})"),
            None => v.to_string(),
        })
        .collect();
    let what = if values.len() == 1 { "label" } else { "labels" };
    match file {
        Some(p) => format!("{what} {} of {}", items.join(", "), p.display()),
        None => format!("{what} {}", items.join(", ")),
    }
}
