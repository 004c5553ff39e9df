//! A bounded walk over a DICOM Part 10 file before any parser or decoder
//! sees it.
//!
//! The DICOM parser allocates each element's declared length before reading
//! it, and the pixel decoders trust the header's sizes. A 7 KB file declaring
//! a 4 GB element would cost 4 GB of memory before failing, and a frame
//! count of two billion would be looped over. This walk reads only the
//! element headers [DICOM PS3.5 §7.1, §7.5, A.4] — tag, VR and length — and
//! seeks over every value, checking that each declared length fits in what
//! encloses it (the file, the sequence or the item). It also records the
//! size of the top-level pixel data, native or encapsulated, so that frame
//! counts can be bounded by what the file holds.
//!
//! Deflated datasets are walked through the inflater, bounded by the
//! memory limit: a value that is skipped is inflated and dropped.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use crate::error::{Error, Result};

/// Nested sequences deeper than this are refused (real files nest a few
/// levels: functional groups, segment codes).
const MAX_DEPTH: usize = 32;

const ITEM: u32 = 0xFFFE_E000;
const ITEM_END: u32 = 0xFFFE_E00D;
const SEQUENCE_END: u32 = 0xFFFE_E0DD;
const PIXEL_DATA: u32 = 0x7FE0_0010;
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// What the walk learnt of the top-level pixel data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PixelLayout {
    /// Bytes of native (uncompressed) pixel data.
    pub native_bytes: Option<u64>,
    /// Fragments of encapsulated pixel data (the basic offset table left
    /// out), and their total size in bytes.
    pub fragments: Option<(usize, u64)>,
}

/// Where bytes come from: the file (seekable, with a known end) or the
/// inflater of a deflated dataset (skips by reading, end unknown).
struct Source<R> {
    inner: R,
    pos: u64,
    end: u64,
    seekable: bool,
}

impl<R: Read + Seek> Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        if self.seekable {
            let step = i64::try_from(n).map_err(|_| std::io::ErrorKind::InvalidData)?;
            self.inner.seek_relative(step)?;
        } else {
            let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())?;
            if copied < n {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        self.pos += n;
        Ok(())
    }
}

/// A reader that cannot seek, used for the inflated stream.
struct NoSeek<R>(R);

impl<R: Read> Read for NoSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R> Seek for NoSeek<R> {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

#[derive(Clone, Copy)]
struct Encoding {
    explicit: bool,
    big_endian: bool,
}

struct Walker<'a, R> {
    path: &'a Path,
    src: Source<R>,
    pixels: PixelLayout,
}

fn malformed(path: &Path, field: String, expected: &str, found: String) -> Error {
    Error::Truncated {
        path: path.to_path_buf(),
        field,
        expected: expected.into(),
        found,
    }
}

fn tag_name(tag: u32) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

/// Whether the standard dictionary knows `tag` as a sequence (SQ).
fn implicit_sequence(tag: u32) -> bool {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    use dicom_core::{Tag, VR};
    let t = Tag((tag >> 16) as u16, (tag & 0xFFFF) as u16);
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(t)
        .is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(VR::SQ)))
}

/// Whether an explicit VR is followed by two reserved bytes and a 32-bit
/// length [DICOM PS3.5 §7.1.2].
fn long_vr(vr: &[u8; 2]) -> bool {
    matches!(
        vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"SV" | b"UC" | b"UN" | b"UR" | b"UT" | b"UV"
    )
}

impl<R: Read + Seek> Walker<'_, R> {
    fn io(&self, e: std::io::Error, what: &str) -> Error {
        malformed(
            self.path,
            what.into(),
            "a complete DICOM dataset",
            format!("the file ends or cannot be read inside {what} ({e})"),
        )
    }

    fn u16(&mut self, enc: Encoding, what: &str) -> Result<u16> {
        let mut b = [0u8; 2];
        self.src.read(&mut b).map_err(|e| self.io(e, what))?;
        Ok(if enc.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, enc: Encoding, what: &str) -> Result<u32> {
        let mut b = [0u8; 4];
        self.src.read(&mut b).map_err(|e| self.io(e, what))?;
        Ok(if enc.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn tag(&mut self, enc: Encoding) -> Result<u32> {
        let group = self.u16(enc, "an element tag")?;
        let element = self.u16(enc, "an element tag")?;
        Ok((u32::from(group) << 16) | u32::from(element))
    }

    /// Skips a value of `len` bytes that must end by `limit`.
    fn skip(&mut self, tag: u32, len: u64, limit: u64) -> Result<()> {
        if self.src.pos.saturating_add(len) > limit.min(self.src.end) {
            return Err(malformed(
                self.path,
                tag_name(tag),
                "a value length within the file and its enclosing item",
                format!(
                    "{len} bytes declared at byte {} with {} left",
                    self.src.pos,
                    limit.min(self.src.end).saturating_sub(self.src.pos)
                ),
            ));
        }
        let name = tag_name(tag);
        self.src.skip(len).map_err(|e| self.io(e, &name))
    }

    /// Walks data elements until `limit` (a defined length) or, when
    /// `until_item_end`, until an item delimiter. `top` marks the dataset
    /// whose pixel data is recorded.
    fn dataset(
        &mut self,
        enc: Encoding,
        limit: u64,
        until_item_end: bool,
        depth: usize,
        top: bool,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(malformed(
                self.path,
                "sequence nesting".into(),
                &format!("at most {MAX_DEPTH} nested sequences"),
                "more".into(),
            ));
        }
        loop {
            if !until_item_end && self.src.pos >= limit.min(self.src.end) {
                return Ok(());
            }
            if until_item_end && self.src.pos >= self.src.end {
                return Err(malformed(
                    self.path,
                    "item".into(),
                    "an item delimiter before the end of the file",
                    "none".into(),
                ));
            }
            let tag = self.tag(enc)?;
            if tag == ITEM_END {
                let _ = self.u32(enc, "an item delimiter")?;
                if until_item_end {
                    return Ok(());
                }
                return Err(malformed(
                    self.path,
                    tag_name(tag),
                    "a data element",
                    "an item delimiter outside an item of undefined length".into(),
                ));
            }
            let (vr, len) = if enc.explicit && tag >> 16 != 0xFFFE {
                let mut vr = [0u8; 2];
                self.src
                    .read(&mut vr)
                    .map_err(|e| self.io(e, "a value representation"))?;
                if long_vr(&vr) {
                    self.u16(enc, "reserved bytes")?;
                    (Some(vr), self.u32(enc, "a value length")?)
                } else if vr.iter().all(u8::is_ascii_uppercase) {
                    (Some(vr), u32::from(self.u16(enc, "a value length")?))
                } else {
                    return Err(malformed(
                        self.path,
                        tag_name(tag),
                        "a value representation of two capital letters",
                        format!("bytes {:?}", vr),
                    ));
                }
            } else {
                // Implicit VR: the dictionary says which elements are
                // sequences, as the parser will read them.
                let len = self.u32(enc, "a value length")?;
                (implicit_sequence(tag).then_some(*b"SQ"), len)
            };
            if len == UNDEFINED {
                match vr {
                    _ if tag == PIXEL_DATA => {
                        let (n, bytes) = self.fragments(enc, tag)?;
                        if top {
                            self.pixels.fragments = Some((n, bytes));
                        }
                    }
                    None | Some([b'S', b'Q']) => self.sequence(enc, u64::MAX, depth)?,
                    // UN of undefined length: a sequence in implicit VR
                    // little endian [DICOM PS3.5 §6.2.2].
                    Some([b'U', b'N']) => self.sequence(
                        Encoding {
                            explicit: false,
                            big_endian: false,
                        },
                        u64::MAX,
                        depth,
                    )?,
                    Some(vr) => {
                        return Err(malformed(
                            self.path,
                            tag_name(tag),
                            "an undefined length only for sequences and encapsulated pixel data",
                            format!("VR {}", String::from_utf8_lossy(&vr)),
                        ))
                    }
                }
            } else if vr == Some(*b"SQ") {
                let end = self.src.pos.saturating_add(u64::from(len));
                if end > limit.min(self.src.end) {
                    return self.skip(tag, u64::from(len), limit);
                }
                self.sequence(enc, end, depth)?;
            } else {
                if top && tag == PIXEL_DATA {
                    self.pixels.native_bytes = Some(u64::from(len));
                }
                self.skip(tag, u64::from(len), limit)?;
            }
        }
    }

    /// Walks the items of a sequence ending at `end` (or at a sequence
    /// delimiter when `end` is `u64::MAX`).
    fn sequence(&mut self, enc: Encoding, end: u64, depth: usize) -> Result<()> {
        loop {
            if end != u64::MAX && self.src.pos >= end {
                return Ok(());
            }
            let tag = self.tag(enc)?;
            let len = self.u32(enc, "an item length")?;
            match tag {
                SEQUENCE_END if end == u64::MAX => return Ok(()),
                ITEM if len == UNDEFINED => self.dataset(enc, u64::MAX, true, depth + 1, false)?,
                ITEM => {
                    let item_end = self.src.pos.saturating_add(u64::from(len));
                    if item_end > end.min(self.src.end) {
                        return self.skip(tag, u64::from(len), end);
                    }
                    self.dataset(enc, item_end, false, depth + 1, false)?;
                }
                _ => {
                    return Err(malformed(
                        self.path,
                        tag_name(tag),
                        "a sequence item (FFFE,E000) or delimiter",
                        "another tag".into(),
                    ))
                }
            }
        }
    }

    /// Walks encapsulated pixel data: items of raw bytes up to the sequence
    /// delimiter. Returns the fragments after the offset table and their bytes.
    fn fragments(&mut self, enc: Encoding, pixel_tag: u32) -> Result<(usize, u64)> {
        let mut count = 0usize;
        let mut bytes = 0u64;
        loop {
            let tag = self.tag(enc)?;
            let len = self.u32(enc, "a fragment length")?;
            match tag {
                SEQUENCE_END => return Ok((count.saturating_sub(1), bytes)),
                ITEM if len != UNDEFINED => {
                    self.skip(pixel_tag, u64::from(len), u64::MAX)?;
                    if count > 0 {
                        bytes += u64::from(len);
                    }
                    count += 1;
                }
                _ => {
                    return Err(malformed(
                        self.path,
                        "PixelData".into(),
                        "fragments of defined length ending with a sequence delimiter",
                        format!("{} of length {len:#x}", tag_name(tag)),
                    ))
                }
            }
        }
    }
}

/// Walks the file's element headers and returns the pixel data's layout.
///
/// # Errors
/// `Read` when the file cannot be opened or is not a regular file;
/// `Truncated` naming the element whose declared length runs past the file
/// or its enclosing item, or whose structure is broken.
pub(crate) fn check_file(path: &Path, max_bytes: u64) -> Result<PixelLayout> {
    let read_err = |e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let mut src = Source {
        inner: BufReader::with_capacity(1 << 14, file),
        pos: 0,
        end: meta.len(),
        seekable: true,
    };
    // Preamble and magic, then the file meta information: explicit VR
    // little endian, group 0002 [DICOM PS3.10 §7.1].
    let mut head = [0u8; 132];
    src.read(&mut head).map_err(|e| {
        malformed(
            path,
            "preamble".into(),
            "a 128-byte preamble and \"DICM\"",
            e.to_string(),
        )
    })?;
    let le = Encoding {
        explicit: true,
        big_endian: false,
    };
    let mut walker = Walker {
        path,
        src,
        pixels: PixelLayout::default(),
    };
    let mut transfer_syntax = String::new();
    loop {
        let mut peek = [0u8; 2];
        if walker.src.pos + 2 > walker.src.end {
            break;
        }
        walker
            .src
            .inner
            .read_exact(&mut peek)
            .map_err(|e| walker.io(e, "the file meta information"))?;
        walker
            .src
            .inner
            .seek_relative(-2)
            .map_err(|e| walker.io(e, "the file meta information"))?;
        if u16::from_le_bytes(peek) != 0x0002 {
            break;
        }
        let tag = walker.tag(le)?;
        let mut vr = [0u8; 2];
        walker
            .src
            .read(&mut vr)
            .map_err(|e| walker.io(e, "the file meta information"))?;
        let len = if long_vr(&vr) {
            walker.u16(le, "reserved bytes")?;
            u64::from(walker.u32(le, "a value length")?)
        } else {
            u64::from(walker.u16(le, "a value length")?)
        };
        if tag == 0x0002_0010 && len <= 64 {
            let mut uid = vec![0u8; len as usize];
            walker
                .src
                .read(&mut uid)
                .map_err(|e| walker.io(e, "TransferSyntaxUID"))?;
            transfer_syntax = String::from_utf8_lossy(&uid)
                .trim_end_matches(['\0', ' '])
                .to_string();
        } else {
            walker.skip(tag, len, u64::MAX)?;
        }
    }
    let enc = Encoding {
        explicit: transfer_syntax != "1.2.840.10008.1.2",
        big_endian: transfer_syntax == "1.2.840.10008.1.2.2",
    };
    if transfer_syntax == "1.2.840.10008.1.2.1.99" {
        // Deflated explicit VR little endian: the rest is a raw deflate
        // stream; walk the inflated bytes, at most `max_bytes` of them.
        let start = walker.src.pos;
        let mut file = walker.src.inner.into_inner();
        file.seek(std::io::SeekFrom::Start(start)).map_err(read_err)?;
        let inflated = flate2::read::DeflateDecoder::new(BufReader::new(file)).take(max_bytes);
        let mut deflated = Walker {
            path,
            src: Source {
                inner: NoSeek(inflated),
                pos: 0,
                end: u64::MAX,
                seekable: false,
            },
            pixels: PixelLayout::default(),
        };
        deflated.dataset(enc, u64::MAX, false, 0, true).or_else(|e| {
            // The inflated stream has no known end: running out of bytes
            // between two elements is its end.
            match &e {
                Error::Truncated { found, .. } if found.contains("inside an element tag") => Ok(()),
                _ => Err(e),
            }
        })?;
        return Ok(deflated.pixels);
    }
    let end = walker.src.end;
    walker.dataset(enc, end, false, 0, true)?;
    Ok(walker.pixels)
}
