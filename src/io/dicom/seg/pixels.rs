//! A SEG's pixel data: native frames packed bit by bit across frame
//! boundaries, or one compressed stream per frame (RLE, deflate, JPEG 2000),
//! unpacked to one byte per pixel.

use std::path::Path;

use dicom_dictionary_std::tags;

use crate::error::{Error, Result};
use crate::io::dicom::frames as dicom_frames;
use crate::io::dicom::{header_error, transfer_syntax_name, Object};

/// PackBits-style DICOM RLE [DICOM PS3.5 G], decoded here rather than by
/// the pixel-data crate because its RLE decoder takes only 8 or 16 bits
/// allocated (dicom-transfer-syntax-registry 0.10, `rle_lossless.rs`:
/// "BitsAllocated other than 8 or 16 is not supported"), and a BINARY SEG
/// has 1. JPEG 2000 frames of 1 bit go to the `jpeg2k` crate for the same
/// reason (Cargo.toml).
///
/// The format: a 64-byte header of up to 15
/// segment offsets, each segment a run-length coded byte stream. Returns the
/// segments' bytes concatenated in order (one segment for 8-bit and 1-bit
/// data).
fn decode_rle(path: &Path, frame: &[u8], expected: usize) -> Result<Vec<u8>> {
    let bad = |found: String| Error::Truncated {
        path: path.to_path_buf(),
        field: "PixelData (RLE)".into(),
        expected: format!("an RLE frame of {expected} bytes"),
        found,
    };
    if frame.len() < 64 {
        return Err(bad(format!("{} bytes", frame.len())));
    }
    let word = |i: usize| {
        u32::from_le_bytes([frame[4 * i], frame[4 * i + 1], frame[4 * i + 2], frame[4 * i + 3]]) as usize
    };
    let count = word(0);
    if count == 0 || count > 15 {
        return Err(bad(format!("{count} RLE segments")));
    }
    let mut out = Vec::with_capacity(expected);
    let per_segment = expected.div_ceil(count);
    for s in 0..count {
        let start = word(1 + s);
        let end = if s + 1 < count { word(2 + s) } else { frame.len() };
        if start < 64 || start > end || end > frame.len() {
            return Err(bad(format!("segment {s} at bytes {start}..{end}")));
        }
        let data = &frame[start..end];
        let target = out.len() + per_segment;
        let mut i = 0;
        // A segment may end with a padding byte: stop once it is complete.
        while i < data.len() && out.len() < target {
            let n = data[i] as i8;
            i += 1;
            if n >= 0 {
                let len = n as usize + 1;
                let lit = data
                    .get(i..i + len)
                    .ok_or_else(|| bad("a literal run past the end".into()))?;
                out.extend_from_slice(lit);
                i += len;
            } else if n != -128 {
                let len = (1 - n as isize) as usize;
                let v = *data
                    .get(i)
                    .ok_or_else(|| bad("a repeat run past the end".into()))?;
                out.extend(std::iter::repeat_n(v, len));
                i += 1;
            }
        }
        if out.len() < target {
            return Err(bad(format!(
                "segment {s} decoding to {} bytes",
                out.len() + per_segment - target
            )));
        }
        out.truncate(target);
    }
    Ok(out)
}

/// The pixel values of every frame (one byte per pixel: 0/1 for BINARY, the
/// stored value for FRACTIONAL).
pub(super) fn frame_values(
    path: &Path,
    obj: &Object,
    rows: usize,
    cols: usize,
    frames: usize,
    bits: usize,
) -> Result<Vec<Vec<u8>>> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    let plane = rows * cols;
    let element = obj.element_opt(tags::PIXEL_DATA).ok().flatten().ok_or_else(|| {
        header_error(
            path,
            "PixelData",
            "pixel data",
            "none (a DICOM file without an image)",
        )
    })?;
    let unsupported = |detail: String| Error::Unsupported {
        path: path.to_path_buf(),
        field: "TransferSyntaxUID".into(),
        found: format!("{ts} ({}): {detail}", transfer_syntax_name(&ts)),
        hint: "decode it first (for example dcmdrle or gdcmconv --raw) to explicit VR little endian".into(),
    };
    let unpack = |bytes: &[u8], first_bit: usize| -> Option<Vec<u8>> {
        let last = first_bit + plane;
        if bytes.len() * 8 < last {
            return None;
        }
        Some((first_bit..last).map(|b| (bytes[b / 8] >> (b % 8)) & 1).collect())
    };
    let truncated = |found: String| Error::Truncated {
        path: path.to_path_buf(),
        field: "PixelData".into(),
        expected: format!("{frames} frames of {rows} x {cols} pixels at {bits} bit(s)"),
        found,
    };
    if let Some(fragments) = element.fragments() {
        // Encapsulated: one compressed stream per frame.
        let table: Vec<u32> = element.offset_table().map(|t| t.to_vec()).unwrap_or_default();
        let per_frame = frame_streams(fragments, &table, frames).map_err(truncated)?;
        let shape = dicom_frames::FrameShape {
            rows,
            cols,
            bits_allocated: bits,
            samples: 1,
        };
        for (k, data) in per_frame.iter().enumerate() {
            match ts.as_str() {
                "1.2.840.10008.1.2.5" => dicom_frames::check_rle(path, data, k, shape)?,
                "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
                    dicom_frames::check_j2k(path, data, k, shape)?
                }
                _ => {}
            }
        }
        return per_frame
            .iter()
            .map(|data| match ts.as_str() {
                "1.2.840.10008.1.2.5" => {
                    let bytes_out = if bits == 1 { plane.div_ceil(8) } else { plane };
                    let raw = decode_rle(path, data, bytes_out)?;
                    if bits == 1 {
                        unpack(&raw, 0)
                            .ok_or_else(|| truncated(format!("an RLE frame of {} bytes", raw.len())))
                    } else {
                        raw.get(..plane)
                            .map(<[u8]>::to_vec)
                            .ok_or_else(|| truncated(format!("an RLE frame of {} bytes", raw.len())))
                    }
                }
                "1.2.840.10008.1.2.8.1" => {
                    // Deflated Image Frame Compression: each frame's native
                    // bytes (bits packed from the frame's first byte) as a
                    // raw deflate stream.
                    let mut raw = Vec::new();
                    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&data[..]), &mut raw)
                        .map_err(|e| truncated(format!("a damaged deflate stream: {e}")))?;
                    if bits == 1 {
                        unpack(&raw, 0)
                            .ok_or_else(|| truncated(format!("a deflated frame of {} bytes", raw.len())))
                    } else {
                        raw.get(..plane)
                            .map(<[u8]>::to_vec)
                            .ok_or_else(|| truncated(format!("a deflated frame of {} bytes", raw.len())))
                    }
                }
                "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
                    let img = jpeg2k::Image::from_bytes(data)
                        .map_err(|e| unsupported(format!("JPEG 2000 frame: {e}")))?;
                    let comp = img
                        .components()
                        .first()
                        .ok_or_else(|| truncated("a JPEG 2000 frame without components".into()))?;
                    if comp.width() as usize != cols || comp.height() as usize != rows {
                        return Err(truncated(format!(
                            "a {} x {} JPEG 2000 frame",
                            comp.width(),
                            comp.height()
                        )));
                    }
                    Ok(comp.data().iter().map(|&v| v.clamp(0, 255) as u8).collect())
                }
                _ => Err(unsupported("not decoded for segmentations".into())),
            })
            .collect();
    }
    // Native: bits follow each other across frames.
    let bytes = element
        .to_bytes()
        .map_err(|e| truncated(format!("unreadable pixel data: {e}")))?;
    (0..frames)
        .map(|f| {
            if bits == 1 {
                unpack(&bytes, f * plane).ok_or_else(|| truncated(format!("{} bytes", bytes.len())))
            } else {
                bytes
                    .get(f * plane..(f + 1) * plane)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| truncated(format!("{} bytes", bytes.len())))
            }
        })
        .collect()
}

/// An encapsulated pixel data's fragments grouped into one compressed
/// stream per frame: a fragment per frame, all fragments for a single
/// frame, or by the basic offset table; else what was found.
fn frame_streams(
    fragments: &[Vec<u8>],
    table: &[u32],
    frames: usize,
) -> std::result::Result<Vec<Vec<u8>>, String> {
    if fragments.len() == frames {
        return Ok(fragments.to_vec());
    }
    if frames == 1 {
        return Ok(vec![fragments.concat()]);
    }
    if table.len() != frames {
        return Err(format!(
            "{} fragments and no usable offset table",
            fragments.len()
        ));
    }
    // Offsets count item headers (8 bytes per fragment) too: split by
    // walking the fragments instead.
    let mut bounds = Vec::with_capacity(fragments.len());
    let mut at = 0usize;
    for f in fragments {
        bounds.push(at);
        at += f.len() + 8;
    }
    let mut starts = Vec::with_capacity(frames + 1);
    for &t in table {
        let k = bounds
            .iter()
            .position(|&b| b == t as usize)
            .ok_or_else(|| format!("a basic offset table entry {t} not at a fragment"))?;
        starts.push(k);
    }
    starts.push(fragments.len());
    Ok(starts
        .windows(2)
        .map(|w| fragments[w[0]..w[1]].concat())
        .collect())
}
