//! Hostile files (testdata/hostile, written by testdata/hostile.py): each
//! small file is built to make a reader panic, hang or allocate gigabytes.
//! Every one must give exit status 2 with a message naming the file and the
//! field, within 20 s and under 1 GiB of resident memory, with the memory
//! limit raised so that only the reader's own bounds can stop it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::data;

/// What one bounded run of the program gave.
pub struct Bounded {
    pub code: Option<i32>,
    pub stderr: String,
    pub seconds: f64,
    pub peak_rss_kib: u64,
}

fn rss_peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs `liverkit ARGS`, killing it after `limit`; samples its peak
/// resident memory (VmHWM) every few milliseconds while it runs.
pub fn run_bounded(args: &[&str], limit: Duration) -> Bounded {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_liverkit"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run liverkit");
    let pid = child.id();
    let mut peak = 0;
    let code = loop {
        if let Some(kib) = rss_peak_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    Bounded {
        code,
        stderr,
        seconds: start.elapsed().as_secs_f64(),
        peak_rss_kib: peak,
    }
}

/// File, command, and the field the message must name.
const CASES: &[(&str, &str, &str)] = &[
    ("rle_bad_offsets.dcm", "info", "PixelData (RLE header)"),
    ("rle_backwards_offsets.dcm", "info", "PixelData (RLE header)"),
    ("seg_rle_bad_offsets.dcm", "volumes", "PixelData (RLE header)"),
    ("frames_2e9.dcm", "info", "NumberOfFrames"),
    ("seg_frames_2e9.dcm", "volumes", "NumberOfFrames"),
    ("element_4gb.dcm", "info", "(0008,0060)"),
    ("nested_element_4gb.dcm", "info", "(0062,0005)"),
    ("j2k_geometry_mismatch.dcm", "info", "PixelData (JPEG 2000 SIZ)"),
    ("j2k_huge_siz.dcm", "info", "PixelData (JPEG 2000 SIZ)"),
    ("bits_allocated_mismatch.dcm", "info", "BitsAllocated"),
    ("slice_thickness_zero.dcm", "info", "SliceThickness"),
    ("data_file_device.nhdr", "volumes", "data file"),
    ("sizes_exceed_raw.nrrd", "volumes", "data"),
    ("sizes_exceed_gzip.nrrd", "volumes", "data"),
    ("sizes_overflow.nrrd", "volumes", "sizes"),
    ("huge_dims_gzip.nii.gz", "target", "voxel data"),
];

#[test]
fn every_hostile_file_is_refused_quickly_and_in_bounded_memory() {
    let mut listed: Vec<String> = std::fs::read_dir(data("hostile"))
        .expect("testdata/hostile")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut named: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    named.sort();
    assert_eq!(
        listed, named,
        "every file in testdata/hostile needs a case, and back"
    );
    for (name, command, field) in CASES {
        let path = data(&format!("hostile/{name}"));
        let path = path.to_str().expect("utf-8 path");
        let args = [*command, "--max-memory-gib", "100000", path];
        let run = run_bounded(&args, Duration::from_secs(20));
        let what = format!("liverkit {command} {name}");
        assert!(run.code.is_some(), "{what}: killed after {:.1} s", run.seconds);
        assert_eq!(run.code, Some(2), "{what}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
        assert!(run.stderr.starts_with("liverkit: "), "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(name),
            "{what} must name the file: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{field}: ")),
            "{what} must name the field {field}: {}",
            run.stderr
        );
        assert!(
            run.peak_rss_kib < 1 << 20,
            "{what}: {} MiB resident",
            run.peak_rss_kib >> 10
        );
    }
}

#[test]
fn parameters_without_bounds_are_refused() {
    let case = data("sample_case/pre_pve.nii.gz");
    let case = case.to_str().expect("utf-8 path");
    let sim = [
        "simulate",
        case,
        "--applicator",
        "mwa",
        "--tip",
        "70,-30,-45",
        "--direction",
        "0,0,-1",
    ];
    for (extra, option) in [
        (&["--power-w", "100", "--time-s", "1e12"][..], "--time-s"),
        (&["--power-w", "1e9", "--time-s", "600"][..], "--power-w"),
        (&["--power-w", "100", "--time-s", "NaN"][..], "--time-s"),
        (&["--power-w", "-5", "--time-s", "600"][..], "--power-w"),
        (
            &["--power-w", "100", "--time-s", "600", "--threads", "100000"][..],
            "--threads",
        ),
    ] {
        let args: Vec<&str> = sim.iter().chain(extra).copied().collect();
        let run = run_bounded(&args, Duration::from_secs(20));
        let what = format!("liverkit {}", args.join(" "));
        assert_eq!(run.code, Some(2), "{what}: {}", run.stderr);
        assert!(run.stderr.starts_with("liverkit: "), "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(option),
            "{what} must name {option}: {}",
            run.stderr
        );
    }
    // A file announcing 10^12 voxels with the limit lifted: an error, not an
    // abort from a failed allocation.
    let huge = data("bad/huge_dims.nii");
    let run = run_bounded(
        &[
            "volumes",
            "--max-memory-gib",
            "100000",
            huge.to_str().expect("utf-8"),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.starts_with("liverkit: "), "{}", run.stderr);
}
