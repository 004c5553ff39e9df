//! Golden outputs: the README's sample commands and the fixtures' commands
//! print exactly what they printed when the outputs were recorded.
//!
//! This is a regression guard for refactoring (issue 14: behaviour must not
//! change), not evidence that the numbers are right; the other test modules
//! check those against nibabel, scipy, closed forms and published data. The
//! commands are listed in `testdata/golden/commands.txt`; each run's exit
//! status, stdout and stderr are kept in `testdata/golden/NAME.out`. After a
//! change that means to alter an output, re-record with
//! `LIVERKIT_BLESS=1 cargo test --test tests golden` and review the diff.

use std::path::Path;
use std::process::Command;

fn record(code: i32, out: &[u8], err: &[u8]) -> String {
    format!(
        "exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(err)
    )
}

#[test]
fn outputs_are_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("testdata/golden");
    let list = std::fs::read_to_string(dir.join("commands.txt")).expect("testdata/golden/commands.txt");
    let bless = std::env::var_os("LIVERKIT_BLESS").is_some();
    let mut changed = Vec::new();
    let mut count = 0;
    for line in list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut words = line.split_whitespace();
        let name = words.next().expect("a name");
        let args: Vec<&str> = words.collect();
        let out = Command::new(env!("CARGO_BIN_EXE_liverkit"))
            .args(&args)
            .current_dir(root)
            .output()
            .expect("run liverkit");
        let got = record(out.status.code().unwrap_or(-1), &out.stdout, &out.stderr);
        let path = dir.join(format!("{name}.out"));
        count += 1;
        if bless {
            std::fs::write(&path, &got).expect("write a golden output");
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record it with LIVERKIT_BLESS=1)", path.display()));
        if got != want {
            let at = got
                .bytes()
                .zip(want.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            let from = at.saturating_sub(80);
            changed.push(format!(
                "{name}: differs at byte {at}\n  now:    {:?}\n  golden: {:?}",
                got.get(from..(at + 80).min(got.len())).unwrap_or(""),
                want.get(from..(at + 80).min(want.len())).unwrap_or("")
            ));
        }
    }
    assert!(
        count >= 25,
        "only {count} commands in testdata/golden/commands.txt"
    );
    assert!(changed.is_empty(), "outputs changed:\n{}", changed.join("\n"));
}
