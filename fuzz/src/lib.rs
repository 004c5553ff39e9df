//! The fuzzed entry points: bytes in, a `Result` out, never a panic. Each
//! writes the bytes to a private temporary file with the format's name (the
//! readers take paths) and reads it with a 1 GiB memory limit.

use std::path::PathBuf;

use liverkit::io::{read_intensity, read_label_map, ReadOptions};

/// The readers under test.
pub const TARGETS: [&str; 4] = ["nifti", "nrrd", "dicom_series", "dicom_seg"];

fn options() -> ReadOptions {
    ReadOptions {
        max_bytes: 1 << 30,
        ..ReadOptions::default()
    }
}

fn with_file(name: &str, data: &[u8], read: impl FnOnce(PathBuf)) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join(name);
    if std::fs::write(&path, data).is_ok() {
        read(path);
    }
}

/// One input through one reader; errors are the expected outcome.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "nifti" => with_file("in.nii", data, |p| {
            let _ = read_label_map(&p, &options());
            let _ = read_intensity(&p, &options());
        }),
        "nrrd" => with_file("in.nrrd", data, |p| {
            let _ = read_label_map(&p, &options());
            let _ = read_intensity(&p, &options());
        }),
        "dicom_series" => with_file("in.dcm", data, |p| {
            let _ = liverkit::io::dicom::read_series(&[p.clone()], None, &options());
            // The same file read as a mask series (stored values, its folder).
            let _ = read_label_map(&p, &options().with_mask_series(true));
        }),
        "dicom_seg" => with_file("in.dcm", data, |p| {
            let _ = read_label_map(&p, &options());
        }),
        _ => {}
    }
}

/// Seed files from testdata/ for a target (its corpus).
pub fn seeds(target: &str) -> Vec<PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let want = |p: &std::path::Path| {
        let n = p.to_string_lossy().to_lowercase();
        match target {
            "nifti" => n.ends_with(".nii") || n.ends_with(".nii.gz"),
            "nrrd" => n.ends_with(".nrrd") || n.ends_with(".nhdr"),
            "dicom_series" | "dicom_seg" => {
                n.ends_with(".dcm") || p.parent().is_some_and(|d| d.ends_with("ct-3slice"))
            }
            _ => false,
        }
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if want(&p) && std::fs::metadata(&p).is_ok_and(|m| m.len() <= 2 << 20) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
