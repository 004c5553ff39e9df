//! Gzip compression on every thread: one gzip member (RFC 1952) whose deflate
//! stream is made of blocks compressed side by side, as `pigz` does.
//!
//! The input is cut into chunks of [`CHUNK`] bytes. Each chunk is deflated on
//! its own (flate2's raw [`Compress`]) and ends with a sync flush, which
//! closes its last block and pads it to a byte boundary with an empty stored
//! block; the last chunk ends the stream instead. The deflate streams then
//! join into one: no back-reference crosses a chunk, so a decoder reads the
//! blocks one after the other. The CRC-32 of the whole is combined from the
//! chunks' ([`Crc::combine`]). Any gzip reader (zlib, Python's `gzip`,
//! nibabel, ITK) reads the result as an ordinary single-member file.
//!
//! Writing a 512 × 512 × 300 mask took 100 ms through the `nifti` crate (a
//! copy of the voxels and one [`flate2::write::GzEncoder`]); straight from
//! the mask's bytes through this, 20–25 ms on 2 threads (docs/performance.md).

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

/// Bytes per independently compressed chunk: large enough that the
/// dictionary each chunk starts without costs little (about 0.1 % at 1 MiB
/// for pigz's 128 KiB), small enough to spread a mask over many threads.
const CHUNK: usize = 1 << 20;

/// Writes `parts`, concatenated, to `out` as one gzip member at `level`.
///
/// # Errors
/// Those of `out`, and a compressor error (which zlib reports only for a bad
/// state, never for data).
pub fn write_gzip(out: &mut impl Write, parts: &[&[u8]], level: Compression) -> io::Result<()> {
    let chunks: Vec<&[u8]> = parts.iter().flat_map(|p| p.chunks(CHUNK)).collect();
    let last = chunks.len().saturating_sub(1);
    let done: Vec<(Vec<u8>, Crc)> = chunks
        .par_iter()
        .enumerate()
        .map(|(n, c)| {
            let mut crc = Crc::new();
            crc.update(c);
            deflate(c, n == last, level).map(|d| (d, crc))
        })
        .collect::<io::Result<_>>()?;
    // Header: magic, deflate, no flags, no time, no extra flags, OS unknown.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
    let mut crc = Crc::new();
    if done.is_empty() {
        // An empty input: one empty final block.
        out.write_all(&deflate(&[], true, level)?)?;
    }
    for (d, c) in &done {
        out.write_all(d)?;
        crc.combine(c);
    }
    // Trailer: CRC-32 and the input's length modulo 2^32 (crc.amount()), little-endian.
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&crc.amount().to_le_bytes())?;
    Ok(())
}

/// Raw deflate of one chunk: ends with a sync flush, or ends the stream
/// when `last`.
fn deflate(input: &[u8], last: bool, level: Compression) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() / 8 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == input.len();
        // zlib's rule: a flush is complete once a call returns with room
        // left in the output; the stream's end says so itself.
        let finished = if last {
            status == Status::StreamEnd
        } else {
            all_in && out.len() < out.capacity()
        };
        if finished {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// Decoded by flate2's single-member reader (which stops after the first
    /// member, so one member must hold everything), CRC and length checked
    /// by the reader against the trailer.
    fn round_trip(parts: &[&[u8]]) -> Vec<u8> {
        let mut gz = Vec::new();
        write_gzip(&mut gz, parts, Compression::fast()).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        back
    }

    #[test]
    fn chunks_compressed_apart_decode_as_one_member() {
        // Several chunks, a part boundary inside a chunk, a short last chunk,
        // runs and noise (a xorshift sequence).
        let mut x = 0x9e37_79b9_u32;
        let noise: Vec<u8> = (0..(CHUNK + 12_345))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let zeros = vec![0u8; 2 * CHUNK + 7];
        let head = b"head".to_vec();
        let parts: [&[u8]; 3] = [&head, &zeros, &noise];
        assert_eq!(round_trip(&parts), parts.concat());
        assert_eq!(round_trip(&[]), Vec::<u8>::new());
        assert_eq!(round_trip(&[b"", b"x"]), b"x".to_vec());
    }
}
