//! Reading parameter overrides (a TOML or JSON file, or JSON text) into
//! [`Parameters`], and reporting every value with its source. The keys,
//! ranges and sources are the rows of [`super::param_table`]; the tissue
//! table's module doc shows the file layout.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{header_error, Error, Result};

use super::param_table::{table, RF_SIGMA, VELOCITY};
use super::tissue::{ParameterValue, Parameters, Walls};
use super::vessels::VesselClass;

impl Parameters {
    /// The defaults overridden by a parameter file (`.toml` or `.json`).
    ///
    /// # Errors
    /// `Read` when the file cannot be read; `Header` (field = the key) for a
    /// syntax error, an unknown key, a value of the wrong type or one outside
    /// its accepted range.
    pub fn from_file(path: &Path) -> Result<Parameters> {
        let mut p = Parameters::default();
        p.apply_file(path)?;
        Ok(p)
    }

    /// Overrides values from a parameter file (`.toml` or `.json`).
    ///
    /// # Errors
    /// As [`Parameters::from_file`].
    pub fn apply_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let value: Value = match ext.as_str() {
            "toml" => toml::from_str(&text).map_err(|e| {
                header_error(
                    path,
                    "TOML",
                    "a valid TOML parameter file",
                    e.message().to_string(),
                )
            })?,
            "json" => serde_json::from_str(&text)
                .map_err(|e| header_error(path, "JSON", "a valid JSON parameter file", e.to_string()))?,
            _ => {
                return Err(header_error(
                    path,
                    "file name",
                    "a parameter file ending in .toml or .json",
                    format!("extension {:?}", ext),
                ))
            }
        };
        let source = format!("parameter file {}", path.display());
        self.apply_value(&value, &source)
            .map_err(|(field, expected, found)| header_error(path, field, expected, found))
    }

    /// Overrides values from JSON text in the parameter-file layout
    /// (`{"liver": {"perfusion_1_s": 0.0}}`); `source` says where it came
    /// from in the report.
    ///
    /// # Errors
    /// `Parameter` (name = the key) for invalid JSON, an unknown key, a value
    /// of the wrong type or one outside its accepted range.
    pub fn apply_json(&mut self, text: &str, source: &str) -> Result<()> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| crate::error::parameter_error("params", e.to_string(), "valid JSON parameters"))?;
        self.apply_value(&value, source)
            .map_err(|(field, expected, found)| crate::error::parameter_error(field, found, expected))
    }

    /// Applies a parsed parameter tree; the error names the key.
    pub(super) fn apply_value(
        &mut self,
        root: &Value,
        source: &str,
    ) -> std::result::Result<(), (String, String, String)> {
        let Value::Object(groups) = root else {
            return Err((
                "(top level)".into(),
                "tables of parameters".into(),
                kind(root).into(),
            ));
        };
        let descriptors = table();
        for (group, body) in groups {
            let Value::Object(fields) = body else {
                return Err((group.clone(), "a table of parameters".into(), kind(body).into()));
            };
            if group == "vessels" {
                for (label, wall) in fields {
                    let key = format!("vessels.{label}");
                    let Value::Object(wall) = wall else {
                        return Err((key, "a table with heat_transfer_w_m2k".into(), kind(wall).into()));
                    };
                    let mut w = self.vessel;
                    for (f, v) in wall {
                        let key = format!("vessels.{label}.{f}");
                        match f.as_str() {
                            "heat_transfer_w_m2k" => w.heat_transfer_w_m2k = heat_transfer(&key, v)?,
                            "rf_conductivity_s_m" => w.rf_conductivity_s_m = number(&key, v, RF_SIGMA)?,
                            "velocity_m_s" => w.velocity_m_s = Some(number(&key, v, VELOCITY)?),
                            "class" => {
                                let names: Vec<&str> = VesselClass::ALL.iter().map(|(_, k)| *k).collect();
                                w.class = Some(v.as_str().and_then(VesselClass::parse).ok_or_else(|| {
                                    (key.clone(), format!("one of {}", names.join(", ")), v.to_string())
                                })?)
                            }
                            _ => return Err((
                                key,
                                "a known key (class, velocity_m_s, heat_transfer_w_m2k, rf_conductivity_s_m)"
                                    .into(),
                                "an unknown key".into(),
                            )),
                        }
                        self.sources.insert(key, source.to_string());
                    }
                    self.vessels.insert(label.clone(), w);
                }
                continue;
            }
            for (field, v) in fields {
                let key = format!("{group}.{field}");
                if key == "vessel.heat_transfer_w_m2k" {
                    self.vessel.heat_transfer_w_m2k = heat_transfer(&key, v)?;
                } else if key == "rf.generator" {
                    self.rf.impedance_control = match v.as_str() {
                        Some("impedance") => true,
                        Some("power") => false,
                        _ => return Err((key, "\"power\" or \"impedance\"".into(), v.to_string())),
                    };
                } else if key == "rf.electrode" {
                    self.rf.cooled = match v.as_str() {
                        Some("cooled") => true,
                        Some("bare") => false,
                        _ => return Err((key, "\"cooled\" or \"bare\"".into(), v.to_string())),
                    };
                } else if key == "solver.walls" {
                    self.solver.walls = match v.as_str() {
                        Some("body_temperature") => Walls::BodyTemperature,
                        Some("insulated") => Walls::Insulated,
                        _ => {
                            return Err((key, "\"body_temperature\" or \"insulated\"".into(), v.to_string()))
                        }
                    };
                } else if let Some(d) = descriptors.iter().find(|d| d.key == key) {
                    *(d.get)(self) = number(&key, v, (d.min, d.max))?;
                } else {
                    let known: Vec<&str> = descriptors
                        .iter()
                        .filter(|d| d.key.starts_with(&format!("{group}.")))
                        .map(|d| d.key)
                        .collect();
                    let expected = if known.is_empty() {
                        "a known table (liver, tumor, soft_tissue, blood, flow, water, vessel, vessels, damage, \
                         microwave, rf, solver)"
                            .to_string()
                    } else {
                        format!("one of {}", known.join(", "))
                    };
                    return Err((key, expected, "an unknown key".into()));
                }
                self.sources.insert(key, source.to_string());
            }
        }
        Ok(())
    }

    /// Every value with its source, keyed as in a parameter file.
    pub fn report(&self) -> BTreeMap<String, ParameterValue> {
        let mut copy = self.clone();
        let mut out = BTreeMap::new();
        let src = |k: &str| self.sources.get(k).cloned().unwrap_or_else(|| "default".into());
        for d in table() {
            let v = *(d.get)(&mut copy);
            out.insert(
                d.key.to_string(),
                ParameterValue {
                    value: json_number(v),
                    source: src(d.key),
                },
            );
        }
        out.insert(
            "vessel.heat_transfer_w_m2k".into(),
            ParameterValue {
                value: wall_value(self.vessel.heat_transfer_w_m2k),
                source: src("vessel.heat_transfer_w_m2k"),
            },
        );
        for (label, w) in &self.vessels {
            let k = format!("vessels.{label}.heat_transfer_w_m2k");
            out.insert(
                k.clone(),
                ParameterValue {
                    value: wall_value(w.heat_transfer_w_m2k),
                    source: src(&k),
                },
            );
            let k = format!("vessels.{label}.rf_conductivity_s_m");
            out.insert(
                k.clone(),
                ParameterValue {
                    value: json_number(w.rf_conductivity_s_m),
                    source: src(&k),
                },
            );
            if let Some(c) = w.class {
                let k = format!("vessels.{label}.class");
                let value = Value::String(c.key().into());
                out.insert(
                    k.clone(),
                    ParameterValue {
                        value,
                        source: src(&k),
                    },
                );
            }
            if let Some(v) = w.velocity_m_s {
                let k = format!("vessels.{label}.velocity_m_s");
                let value = json_number(v);
                out.insert(
                    k.clone(),
                    ParameterValue {
                        value,
                        source: src(&k),
                    },
                );
            }
        }
        out.insert(
            "rf.generator".into(),
            ParameterValue {
                value: Value::String(
                    if self.rf.impedance_control {
                        "impedance"
                    } else {
                        "power"
                    }
                    .into(),
                ),
                source: src("rf.generator"),
            },
        );
        out.insert(
            "rf.electrode".into(),
            ParameterValue {
                value: Value::String(if self.rf.cooled { "cooled" } else { "bare" }.into()),
                source: src("rf.electrode"),
            },
        );
        let walls = match self.solver.walls {
            Walls::BodyTemperature => "body_temperature",
            Walls::Insulated => "insulated",
        };
        out.insert(
            "solver.walls".into(),
            ParameterValue {
                value: Value::String(walls.into()),
                source: src("solver.walls"),
            },
        );
        out
    }

    /// Records where a value came from (used by calibration and the CLI).
    pub fn set_source(&mut self, key: &str, source: impl Into<String>) {
        self.sources.insert(key.to_string(), source.into());
    }
}

fn wall_value(h: Option<f64>) -> Value {
    match h {
        None => Value::String("flow".into()),
        Some(h) if h.is_infinite() => Value::String("fixed".into()),
        Some(h) => json_number(h),
    }
}

fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

fn number(key: &str, v: &Value, range: (f64, f64)) -> std::result::Result<f64, (String, String, String)> {
    let expected = format!("a number in [{}, {}]", range.0, range.1);
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= range.0 && x <= range.1 => Ok(x),
        Some(x) => Err((key.to_string(), expected, x.to_string())),
        None => Err((key.to_string(), expected, kind(v).to_string())),
    }
}

fn heat_transfer(key: &str, v: &Value) -> std::result::Result<Option<f64>, (String, String, String)> {
    match v.as_str() {
        Some("fixed") => return Ok(Some(f64::INFINITY)),
        Some("flow") => return Ok(None),
        _ => {}
    }
    number(key, v, (1.0, 1e6)).map(Some).map_err(|(k, _, f)| {
        (
            k,
            "a heat-transfer coefficient in [1, 1e6] W/(m²·K), \"flow\" or \"fixed\"".into(),
            f,
        )
    })
}
