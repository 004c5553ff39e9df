//! Checks on compressed frames before they reach a decoder.
//!
//! The decoders trust what a frame says about itself: an RLE header whose
//! segment offsets run backwards or past the fragment made dicom-pixeldata
//! panic, and a JPEG 2000 codestream announcing an image other than the one
//! the DICOM header describes reaches undefined behaviour inside OpenJPEG's
//! port. Every RLE header and every JPEG 2000 image header (SIZ) is checked
//! here against the fragment and the DICOM header first.

use std::path::Path;

use crate::error::{Error, Result};

/// The frame geometry the DICOM header announces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameShape {
    pub rows: usize,
    pub cols: usize,
    pub bits_allocated: usize,
    pub samples: usize,
}

fn bad(path: &Path, field: &str, expected: String, found: String) -> Error {
    Error::Header {
        path: path.to_path_buf(),
        field: field.into(),
        expected,
        found,
    }
}

/// Checks the 64-byte RLE header of one frame [DICOM PS3.5 G.5]: 1 to 15
/// segments, the first at byte 64, offsets increasing and inside the
/// fragment, and as many segments as the header's bytes per pixel need
/// (one per byte of each sample; 1-bit SEG frames use one).
pub(crate) fn check_rle(path: &Path, frame: &[u8], index: usize, shape: FrameShape) -> Result<()> {
    let field = "PixelData (RLE header)";
    if frame.len() < 64 {
        return Err(bad(
            path,
            field,
            "a 64-byte RLE header".into(),
            format!("frame {} of {} bytes", index + 1, frame.len()),
        ));
    }
    let word =
        |i: usize| u32::from_le_bytes([frame[4 * i], frame[4 * i + 1], frame[4 * i + 2], frame[4 * i + 3]]);
    let count = word(0) as usize;
    let expected = shape.samples * shape.bits_allocated.div_ceil(8);
    if count != expected {
        return Err(bad(
            path,
            field,
            format!(
                "{expected} segment(s) for {} sample(s) of {} bits",
                shape.samples, shape.bits_allocated
            ),
            format!("{count} in frame {}", index + 1),
        ));
    }
    let offsets: Vec<u32> = (1..=count).map(word).collect();
    let in_order = offsets[0] == 64 && offsets.windows(2).all(|w| w[0] < w[1]);
    if !in_order || offsets[count - 1] as usize >= frame.len() {
        return Err(bad(
            path,
            field,
            format!(
                "segment offsets starting at 64, increasing and below the frame's {} bytes",
                frame.len()
            ),
            format!("{offsets:?} in frame {}", index + 1),
        ));
    }
    // Each segment must decode to a whole byte plane: the decoder indexes
    // its output by pixel and read past a short segment's end.
    let plane = shape.rows * shape.cols;
    let needed = if shape.bits_allocated == 1 {
        plane.div_ceil(8)
    } else {
        plane
    };
    for k in 0..count {
        let start = offsets[k] as usize;
        let end = offsets.get(k + 1).map_or(frame.len(), |&e| e as usize);
        let decoded = packbits_len(&frame[start..end], needed);
        if decoded < needed {
            return Err(bad(
                path,
                field,
                format!(
                    "RLE segments of {needed} bytes ({} x {} pixels)",
                    shape.cols, shape.rows
                ),
                format!(
                    "segment {} of frame {} decoding to {decoded} bytes",
                    k + 1,
                    index + 1
                ),
            ));
        }
    }
    Ok(())
}

/// How many bytes a PackBits segment decodes to [DICOM PS3.5 G.3.1], up to
/// `enough` (a run reaching past the segment's end stops the count).
fn packbits_len(segment: &[u8], enough: usize) -> usize {
    let (mut i, mut out) = (0usize, 0usize);
    while i < segment.len() && out < enough {
        let n = segment[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            if i + len > segment.len() {
                return out + (segment.len() - i);
            }
            out += len;
            i += len;
        } else if n != -128 {
            if i >= segment.len() {
                return out;
            }
            out += (1 - n as isize) as usize;
            i += 1;
        }
    }
    out
}

/// The image header (SIZ marker segment) of a JPEG 2000 codestream.
#[derive(Debug, PartialEq, Eq)]
struct Siz {
    width: u64,
    height: u64,
    tiles: u64,
    components: Vec<(u8, u8, u8)>,
}

fn be16(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 2)
        .map(|s| u64::from(u16::from_be_bytes([s[0], s[1]])))
}

fn be32(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 4)
        .map(|s| u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])))
}

/// Where the codestream starts: at byte 0, or inside the `jp2c` box of a
/// JP2 file (which some writers put in DICOM despite PS3.5 A.4.4).
fn codestream(frame: &[u8]) -> Option<&[u8]> {
    if frame.starts_with(&[0xFF, 0x4F]) {
        return Some(frame);
    }
    let mut at = 0usize;
    while at + 8 <= frame.len() {
        let len = be32(frame, at)? as usize;
        let kind = &frame[at + 4..at + 8];
        if kind == b"jp2c" {
            return frame.get(at + 8..);
        }
        if len < 8 {
            return None;
        }
        at = at.checked_add(len)?;
    }
    None
}

fn parse_siz(cs: &[u8]) -> Option<Siz> {
    // SOC (FF4F), then SIZ (FF51) first [ITU-T T.800 A.5.1].
    if cs.get(0..4)? != [0xFF, 0x4F, 0xFF, 0x51] {
        return None;
    }
    let b = &cs[4..];
    let lsiz = be16(b, 0)?;
    let (xsiz, ysiz, xo, yo) = (be32(b, 4)?, be32(b, 8)?, be32(b, 12)?, be32(b, 16)?);
    let (xt, yt, xto, yto) = (be32(b, 20)?, be32(b, 24)?, be32(b, 28)?, be32(b, 32)?);
    let csiz = be16(b, 36)? as usize;
    if lsiz != 38 + 3 * csiz as u64 || csiz == 0 || xo >= xsiz || yo >= ysiz || xt == 0 || yt == 0 {
        return None;
    }
    if xto > xo || yto > yo || xto + xt <= xo || yto + yt <= yo {
        return None;
    }
    let tiles = (xsiz - xto).div_ceil(xt) * (ysiz - yto).div_ceil(yt);
    let components = (0..csiz)
        .map(|c| Some((*b.get(38 + 3 * c)?, *b.get(39 + 3 * c)?, *b.get(40 + 3 * c)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Siz {
        width: xsiz - xo,
        height: ysiz - yo,
        tiles,
        components,
    })
}

/// Checks a JPEG 2000 frame's SIZ against the DICOM header: the image size
/// is Rows × Columns, one component per sample, no subsampling, a precision
/// the allocated bits hold, and at most 65535 tiles [ITU-T T.800 A.5.1].
pub(crate) fn check_j2k(path: &Path, frame: &[u8], index: usize, shape: FrameShape) -> Result<()> {
    let field = "PixelData (JPEG 2000 SIZ)";
    let siz = codestream(frame).and_then(parse_siz).ok_or_else(|| {
        bad(
            path,
            field,
            "a JPEG 2000 codestream starting with a valid SIZ marker segment".into(),
            format!("frame {} without one", index + 1),
        )
    })?;
    let precision_ok = siz.components.iter().all(|&(ssiz, dx, dy)| {
        let depth = usize::from(ssiz & 0x7F) + 1;
        dx == 1 && dy == 1 && depth <= shape.bits_allocated.max(8)
    });
    if siz.width != shape.cols as u64
        || siz.height != shape.rows as u64
        || siz.components.len() != shape.samples
        || !precision_ok
        || siz.tiles > 65535
    {
        return Err(bad(
            path,
            field,
            format!(
                "a {} x {} image of {} component(s) of at most {} bits, not subsampled (Rows, Columns, \
                 SamplesPerPixel, BitsAllocated)",
                shape.cols, shape.rows, shape.samples, shape.bits_allocated
            ),
            format!(
                "frame {}: {} x {}, {} tile(s), components (Ssiz, XRsiz, YRsiz) {:?}",
                index + 1,
                siz.width,
                siz.height,
                siz.tiles,
                siz.components
            ),
        ));
    }
    Ok(())
}

/// Checks every frame of encapsulated pixel data whose transfer syntax is
/// RLE or JPEG 2000 (the fragments that start a codestream, for JPEG 2000;
/// every fragment, one frame each, for RLE).
pub(crate) fn check_encapsulated(
    path: &Path,
    ts: &str,
    fragments: &[Vec<u8>],
    shape: FrameShape,
) -> Result<()> {
    match ts {
        "1.2.840.10008.1.2.5" => {
            for (k, f) in fragments.iter().enumerate() {
                check_rle(path, f, k, shape)?;
            }
        }
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
            let mut starts = 0;
            for (k, f) in fragments.iter().enumerate() {
                if k == 0 || codestream(f).is_some() {
                    check_j2k(path, f, starts, shape)?;
                    starts += 1;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
