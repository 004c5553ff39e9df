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
        eprintln!("liverkit: warning: {w}");
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
