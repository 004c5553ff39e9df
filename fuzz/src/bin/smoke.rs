//! A short, deterministic fuzz run that needs no nightly toolchain: every
//! seed from testdata/ and a fixed number of mutations of each (bytes
//! flipped, lengths and counts overwritten with extreme values, files cut
//! short) through each reader. A panic fails the run (exit 101); so does an
//! input that takes more than 20 s. `cargo fuzz` (see docs/fuzzing.md) runs
//! the same entry points with coverage guidance.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --no-default-features --bin smoke [MUTATIONS]

use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = seed.to_vec();
    if d.is_empty() {
        return d;
    }
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(d.len());
        match rng.below(5) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => {
                // An extreme 32-bit value (length, count, offset).
                let v: u32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFF0][rng.below(5)];
                for (k, b) in v.to_le_bytes().iter().enumerate() {
                    if at + k < d.len() {
                        d[at + k] = *b;
                    }
                }
            }
            2 => d.truncate(at.max(1)),
            3 => d[at] = [0, 0xFF, b'9', b'-'][rng.below(4)],
            _ => {
                let v: u16 = [0, 0xFFFF, 0x8000][rng.below(3)];
                for (k, b) in v.to_le_bytes().iter().enumerate() {
                    if at + k < d.len() {
                        d[at + k] = *b;
                    }
                }
            }
        }
    }
    d
}

fn main() {
    let mutations: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(40);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0usize;
    let mut slowest = (Duration::ZERO, String::new());
    for target in liverkit_fuzz::TARGETS {
        let seeds = liverkit_fuzz::seeds(target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for seed in &seeds {
            let Ok(bytes) = std::fs::read(seed) else {
                continue;
            };
            for m in 0..=mutations {
                let data = if m == 0 {
                    bytes.clone()
                } else {
                    mutate(&bytes, &mut rng)
                };
                let t = Instant::now();
                liverkit_fuzz::run(target, &data);
                let took = t.elapsed();
                runs += 1;
                if took > Duration::from_secs(2) {
                    // Kept for a look: fuzz/artifacts is ignored by git.
                    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/slow");
                    let _ = std::fs::create_dir_all(&dir);
                    let _ = std::fs::write(dir.join(format!("{target}-{runs}.bin")), &data);
                }
                if took > slowest.0 {
                    slowest = (took, format!("{target} on {} (mutation {m})", seed.display()));
                }
                assert!(
                    took < Duration::from_secs(20),
                    "{target}: {} mutation {m} took {took:?}",
                    seed.display()
                );
            }
        }
    }
    println!(
        "fuzz smoke: {runs} inputs through {} readers, no panic; slowest {:.2} s ({})",
        liverkit_fuzz::TARGETS.len(),
        slowest.0.as_secs_f64(),
        slowest.1
    );
}
