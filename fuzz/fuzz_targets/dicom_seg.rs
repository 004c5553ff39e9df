#![no_main]
//! cargo +nightly fuzz run dicom_seg -- -rss_limit_mb=1024 -max_len=2000000
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| liverkit_fuzz::run("dicom_seg", data));
