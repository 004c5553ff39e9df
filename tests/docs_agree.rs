//! The docs against the code and against themselves:
//! - the parameter table of docs/formulas/bioheat.md states the defaults of
//!   `Parameters::default().report()` (the values the JSON output lists), so
//!   a default changed in one place only, or a placeholder left in the
//!   table, fails here;
//! - every source cited by key (`[Chang2004]`) in the README, the docs, the
//!   code or the Python package has its entry in docs/references.md;
//! - every relative link of the README and the docs reaches its file and,
//!   with `#`, its heading.

use std::collections::BTreeMap;

use liverkit::bioheat::tissue::Parameters;
use serde_json::Value;

/// The rows of the table under "## Parameters": (key cell, value cell).
fn parameter_rows(doc: &str) -> Vec<(String, String)> {
    let section = doc
        .split("\n## Parameters\n")
        .nth(1)
        .expect("docs/formulas/bioheat.md has a Parameters section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(
                cells.len() >= 3,
                "a parameter row has key, default and source: {l}"
            );
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect()
}

/// The keys of a key cell: "`a.b`, `a.c`" gives ["a.b", "a.c"].
fn keys(cell: &str) -> Vec<String> {
    cell.split(", ")
        .map(|k| k.trim_matches('`').to_string())
        .collect()
}

/// Whether the table's text for a number states the default: equal to the
/// precision the table writes it with (it rounds, e.g. 2.577e5).
fn states(text: &str, default: f64) -> bool {
    match text.parse::<f64>() {
        Ok(v) => (v - default).abs() <= 1e-3 * default.abs().max(1e-12),
        Err(_) => false,
    }
}

#[test]
fn the_parameter_table_in_the_docs_states_the_code_defaults() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/formulas/bioheat.md"))
        .expect("docs/formulas/bioheat.md");
    let report: BTreeMap<String, Value> = Parameters::default()
        .report()
        .into_iter()
        .map(|(k, v)| (k, v.value))
        .collect();
    let rows = parameter_rows(&doc);
    assert!(
        rows.len() > 40,
        "the Parameters table was not found whole: {} rows",
        rows.len()
    );

    let mut documented = Vec::new();
    let mut wildcards = Vec::new();
    for (key_cell, value_cell) in &rows {
        let ks = keys(key_cell);
        if ks.iter().any(|k| k.contains('<')) {
            continue; // per-label settings: no default of their own
        }
        if let [k] = ks.as_slice() {
            if let Some(group) = k.strip_suffix(".*") {
                wildcards.push((group.to_string(), value_cell.clone()));
                continue;
            }
        }
        let values: Vec<&str> = value_cell.split(", ").collect();
        assert_eq!(
            values.len(),
            ks.len(),
            "row {key_cell}: one value per key expected, found {value_cell:?}"
        );
        for (k, text) in ks.iter().zip(values) {
            let default = report
                .get(k)
                .unwrap_or_else(|| panic!("the docs list {k}, which is not a parameter"));
            let ok = match default {
                Value::Number(n) => states(text, n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => s == text,
                other => panic!("{k}: unexpected default {other}"),
            };
            assert!(ok, "{k}: the docs say {text:?}, the code's default is {default}");
            documented.push(k.clone());
        }
    }

    // "`tumor.*` | liver values": every tumour key not on a row of its own
    // has the liver's default.
    for (group, text) in &wildcards {
        let like = text
            .strip_suffix(" values")
            .unwrap_or_else(|| panic!("{group}.*: expected \"<group> values\", found {text:?}"));
        for (k, v) in report.iter().filter(|(k, _)| k.starts_with(&format!("{group}."))) {
            if documented.contains(k) {
                continue;
            }
            let field = &k[group.len() + 1..];
            let theirs = report
                .get(&format!("{like}.{field}"))
                .unwrap_or_else(|| panic!("{k}: no {like}.{field} to take the value of"));
            assert_eq!(v, theirs, "{k}: the docs say it takes the {like} value");
            documented.push(k.clone());
        }
    }

    let missing: Vec<&String> = report
        .keys()
        .filter(|k| !k.starts_with("vessels.") && !documented.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "parameters missing from the docs' table: {missing:?}"
    );
}

/// Citation keys written like `[Chang2004]` or `[Ji2011]`: a letter, then
/// letters and digits, ending in a year and an optional letter.
fn cited_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for piece in text.split('[').skip(1) {
        let Some(end) = piece.find(']') else { continue };
        let key = &piece[..end];
        let core = key.strip_suffix(|c: char| c.is_ascii_lowercase()).unwrap_or(key);
        let year_at = core.len().saturating_sub(4);
        let is_key = key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric())
            && core.len() > 4
            && core[year_at..].chars().all(|c| c.is_ascii_digit());
        if is_key {
            keys.push(key.to_string());
        }
    }
    keys
}

/// Every file under `dir` (recursively) whose name ends in one of `exts`.
fn files_under(dir: &std::path::Path, exts: &[&str], out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, exts, out);
        } else if exts.iter().any(|x| p.to_string_lossy().ends_with(x)) {
            out.push(p);
        }
    }
}

#[test]
fn every_cited_source_has_its_entry_in_the_references() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let refs = std::fs::read_to_string(root.join("docs/references.md")).expect("docs/references.md");
    let entries: Vec<String> = refs
        .split("**[")
        .skip(1)
        .filter_map(|p| p.split_once("]**").map(|(k, _)| k.to_string()))
        .collect();
    assert!(
        entries.len() > 30,
        "docs/references.md: {} entries found",
        entries.len()
    );
    assert!(cited_keys("see [Chang2004] and [He2010a], not [1] or [x]").len() == 2);

    let mut files = vec![root.join("README.md")];
    files_under(&root.join("docs"), &[".md"], &mut files);
    files_under(&root.join("src"), &[".rs", ".json"], &mut files);
    files_under(&root.join("python"), &[".py"], &mut files);
    let mut cited = 0;
    let mut missing = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("docs/references.md")) {
        let text = std::fs::read_to_string(f).expect("a text file");
        for key in cited_keys(&text) {
            cited += 1;
            if !entries.contains(&key) {
                missing.push(format!("[{key}] in {}", f.display()));
            }
        }
    }
    assert!(cited > 100, "only {cited} citations found: the scan is broken");
    assert!(
        missing.is_empty(),
        "cited but not in docs/references.md: {missing:?}"
    );
}

/// GitHub's anchor for a heading: lower case, letters, digits, spaces,
/// hyphens and underscores kept, spaces made hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text of a Markdown file outside its fenced code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_reaches_its_file_and_heading() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        anchor("The 70 °C isotherm, fitted (again)"),
        "the-70-c-isotherm-fitted-again"
    );
    let mut files = vec![root.join("README.md")];
    files_under(&root.join("docs"), &[".md"], &mut files);
    let mut checked = 0;
    let mut broken = Vec::new();
    for f in &files {
        let text = prose(&std::fs::read_to_string(f).expect("a Markdown file"));
        for piece in text.split("](").skip(1) {
            let Some(end) = piece.find(')') else { continue };
            let link = &piece[..end];
            if link.contains(' ') || link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, heading) = link.split_once('#').unwrap_or((link, ""));
            let target = if path.is_empty() {
                f.clone()
            } else {
                f.parent().expect("a folder").join(path)
            };
            if !target.exists() {
                broken.push(format!("{link} in {}: no such file", f.display()));
                continue;
            }
            if !heading.is_empty() {
                let doc = prose(&std::fs::read_to_string(&target).expect("a Markdown file"));
                let found = doc
                    .lines()
                    .filter_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#')))
                    .any(|h| anchor(h) == heading);
                if !found {
                    broken.push(format!("{link} in {}: no such heading", f.display()));
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} links found: the scan is broken");
    assert!(broken.is_empty(), "broken links: {broken:?}");
}
