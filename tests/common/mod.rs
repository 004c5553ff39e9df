//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// Path of a file under `testdata/`.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

/// The expectations computed by `testdata/expected.py` with nibabel.
pub fn expected() -> &'static Value {
    static E: OnceLock<Value> = OnceLock::new();
    E.get_or_init(|| {
        let text =
            std::fs::read_to_string(data("expected/nibabel.json")).expect("testdata/expected/nibabel.json");
        serde_json::from_str(&text).expect("valid JSON")
    })
}

/// The expectation of one file (panics when the file is not listed).
pub fn expected_for(rel: &str) -> &'static Value {
    let v = &expected()["files"][rel];
    assert!(!v.is_null(), "{rel} is not in testdata/expected/nibabel.json");
    v
}

/// Every file listed in the expectations with the given kind.
pub fn expected_files(kind: &str) -> Vec<String> {
    expected()["files"]
        .as_object()
        .expect("files object")
        .iter()
        .filter(|(_, v)| v["kind"] == kind)
        .map(|(k, _)| k.clone())
        .collect()
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

/// Asserts `|a - b| <= tol · max(1, |a|, |b|)`.
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    let scale = 1f64.max(a.abs()).max(b.abs());
    assert!((a - b).abs() <= tol * scale, "{what}: {a} vs {b}");
}

/// Runs the `liverkit` binary; returns (status code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liverkit"))
        .args(args)
        .output()
        .expect("run liverkit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
