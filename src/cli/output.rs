//! Printing: stdout for results (a closed pipe ends quietly), stderr for
//! warnings, and a small column formatter for tables.

use std::io::Write;

use liverkit::Warning;

use super::Failure;

/// Writes `text` to stdout. A closed pipe becomes [`Failure::BrokenPipe`].
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let res = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::BrokenPipe),
        Err(e) => Err(Failure::Error(liverkit::Error::Write {
            path: "<stdout>".into(),
            source: e,
        })),
    }
}

/// Prints warnings on stderr, one per line.
pub fn warn(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("liverkit: warning: {}", super::flags(&w.to_string()));
    }
}

/// Serialises `value` as one line of JSON followed by a newline (one object
/// per line, as JSON Lines readers expect; `jq .` shows it indented).
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map(|s| s + "\n").map_err(|e| {
        Failure::Error(liverkit::Error::Write {
            path: "<stdout>".into(),
            source: std::io::Error::other(e),
        })
    })
}

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Lays out `rows` under `headers`, columns padded to their widest cell.
pub fn table(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|(h, _)| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (n, ((cell, (_, align)), w)) in cells.iter().zip(headers).zip(&widths).enumerate() {
            if n > 0 {
                s.push_str("  ");
            }
            let pad = w - cell.chars().count();
            let last = n + 1 == headers.len();
            match align {
                Align::Left if last => s.push_str(cell),
                Align::Left => {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                }
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(headers.iter().map(|(h, _)| *h).collect());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// `text` with every line indented by two spaces.
pub fn indented(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// CSV of report rows (one JSON object a row, as the `--json` output holds
/// them): nested objects flatten to `parent_child` columns, arrays of
/// numbers to `name_0`, `name_1`, …, and arrays of objects stay whole as
/// compact JSON in one cell. Columns are the union of the rows' keys in
/// first-seen order, so every row of a cohort has the same header.
pub fn csv_rows<T: serde::Serialize>(rows: &[T]) -> Result<String, Failure> {
    use serde_json::Value;
    let to_err = |e: String| {
        Failure::Error(liverkit::Error::Write {
            path: "<stdout>".into(),
            source: std::io::Error::other(e),
        })
    };
    fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}_{k}")
            }
        };
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    flatten(&key(k), x, out);
                }
            }
            Value::Array(a)
                if a.iter().all(|x| x.is_number() || x.is_string() || x.is_boolean()) && a.len() <= 16 =>
            {
                if a.iter().all(Value::is_number) {
                    for (i, x) in a.iter().enumerate() {
                        out.push((format!("{prefix}_{i}"), x.to_string()));
                    }
                } else {
                    let cells: Vec<String> = a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect();
                    out.push((prefix.to_string(), cells.join(";")));
                }
            }
            Value::Null => out.push((prefix.to_string(), String::new())),
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut flat = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for r in rows {
        let v = serde_json::to_value(r).map_err(|e| to_err(e.to_string()))?;
        let mut cells = Vec::new();
        flatten("", &v, &mut cells);
        for (k, _) in &cells {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        flat.push(cells);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns).map_err(|e| to_err(e.to_string()))?;
    for cells in flat {
        let record: Vec<&str> = columns
            .iter()
            .map(|c| cells.iter().find(|(k, _)| k == c).map_or("", |(_, v)| v.as_str()))
            .collect();
        w.write_record(&record).map_err(|e| to_err(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| to_err(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
