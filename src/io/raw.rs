//! Raw voxel bytes: opening a plain or gzip-compressed data file at an offset,
//! reading it whole, or streaming it in slabs with decompression on its own
//! thread.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use flate2::read::MultiGzDecoder;
use rayon::prelude::*;

use crate::error::{ensure_fits, Error, Result, Warning};
use crate::io::{DataType, ReadOptions};

/// Bytes in one streamed slab (rounded to whole rows). Large enough to keep
/// thread hand-offs rare, small enough to stay in the last-level cache.
const SLAB_BYTES: usize = 4 << 20;

/// Longest row (voxels along `i`) that streaming accepts: three slabs of at
/// least one row each are held at once.
const MAX_ROW_BYTES: usize = 256 << 20;

/// A voxel element type that can be read from a file.
pub trait Element: bytemuck::Pod + Send + Sync {
    /// Reverses the byte order.
    fn swapped(self) -> Self;
}

macro_rules! element_int {
    ($($t:ty),*) => {$(
        impl Element for $t {
            #[inline]
            fn swapped(self) -> Self { self.swap_bytes() }
        }
    )*};
}
element_int!(u8, i8, u16, i16, u32, i32, u64, i64);

impl Element for f32 {
    #[inline]
    fn swapped(self) -> Self {
        f32::from_bits(self.to_bits().swap_bytes())
    }
}

impl Element for f64 {
    #[inline]
    fn swapped(self) -> Self {
        f64::from_bits(self.to_bits().swap_bytes())
    }
}

/// A slab of voxels in the file's own type, whole rows along `i`.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum Chunk<'a> {
    U8(&'a [u8]),
    I8(&'a [i8]),
    U16(&'a [u16]),
    I16(&'a [i16]),
    U32(&'a [u32]),
    I32(&'a [i32]),
    U64(&'a [u64]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Runs `$body` with `$s` bound to the typed slice inside a [`Chunk`].
#[macro_export]
#[doc(hidden)]
macro_rules! with_chunk {
    ($chunk:expr, $s:ident => $body:expr) => {
        match $chunk {
            $crate::io::Chunk::U8($s) => $body,
            $crate::io::Chunk::I8($s) => $body,
            $crate::io::Chunk::U16($s) => $body,
            $crate::io::Chunk::I16($s) => $body,
            $crate::io::Chunk::U32($s) => $body,
            $crate::io::Chunk::I32($s) => $body,
            $crate::io::Chunk::U64($s) => $body,
            $crate::io::Chunk::I64($s) => $body,
            $crate::io::Chunk::F32($s) => $body,
            $crate::io::Chunk::F64($s) => $body,
        }
    };
}

/// Where and how the voxel bytes of an image are stored.
#[derive(Debug, Clone)]
pub(crate) struct RawData {
    /// The file holding the voxels (the `.nii` itself or the `.img`).
    pub path: PathBuf,
    /// Byte offset of the first voxel (in the decompressed stream).
    pub offset: u64,
    pub dtype: DataType,
    pub big_endian: bool,
    /// Voxels to read.
    pub voxels: u64,
    /// Voxels in one row along `i` (slabs hold whole rows).
    pub row_len: usize,
}

fn read_error(path: &Path, e: io::Error) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Whether the file starts with the gzip magic bytes.
pub(crate) fn is_gzip(path: &Path) -> Result<bool> {
    let mut f = File::open(path).map_err(|e| read_error(path, e))?;
    let mut magic = [0u8; 2];
    let n = fill(&mut f, &mut magic).map_err(|e| read_error(path, e))?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Opens `path` for reading, transparently decompressing gzip (all members).
pub(crate) fn open_stream(path: &Path) -> Result<Box<dyn Read + Send>> {
    let gz = is_gzip(path)?;
    let f = File::open(path).map_err(|e| read_error(path, e))?;
    Ok(if gz {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 18, f)))
    } else {
        Box::new(f)
    })
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl RawData {
    fn bytes(&self) -> u64 {
        self.voxels * self.dtype.size() as u64
    }

    fn check_size(&self, options: &ReadOptions) -> Result<()> {
        let bytes = self.voxels.checked_mul(self.dtype.size() as u64);
        ensure_fits(bytes, options.max_bytes, "voxel data").map_err(|expected| Error::Header {
            path: self.path.clone(),
            field: "dim".into(),
            expected,
            found: format!("{} voxels of {} bytes", self.voxels, self.dtype.size()),
        })
    }

    /// A file cannot hold more voxel data than its size (uncompressed) or
    /// its size times deflate's largest ratio, 1032:1 (gzip) [zlibTech]:
    /// refused before anything is allocated.
    fn check_file_can_hold(&self) -> Result<()> {
        let len = std::fs::metadata(&self.path)
            .map_err(|e| read_error(&self.path, e))?
            .len();
        let gz = is_gzip(&self.path)?;
        let most = if gz {
            len.saturating_mul(1032)
        } else {
            len.saturating_sub(self.offset)
        };
        if self.bytes() > most {
            return Err(self.truncated(format!(
                "a file of {len} bytes{}, which cannot hold them",
                if gz { " (gzip, at most 1032:1)" } else { "" }
            )));
        }
        Ok(())
    }

    fn truncated(&self, found: String) -> Error {
        Error::Truncated {
            path: self.path.clone(),
            field: "voxel data".into(),
            expected: format!("{} bytes of voxel data from offset {}", self.bytes(), self.offset),
            found,
        }
    }

    /// Opens the data stream positioned at the first voxel.
    fn open_at_data(&self) -> Result<Box<dyn Read + Send>> {
        if !is_gzip(&self.path)? {
            let mut f = File::open(&self.path).map_err(|e| read_error(&self.path, e))?;
            let len = f.metadata().map_err(|e| read_error(&self.path, e))?.len();
            let have = len.saturating_sub(self.offset);
            if have < self.bytes() {
                return Err(self.truncated(format!("{have} bytes (file size {len})")));
            }
            f.seek(SeekFrom::Start(self.offset))
                .map_err(|e| read_error(&self.path, e))?;
            return Ok(Box::new(f));
        }
        let mut r = open_stream(&self.path)?;
        let skipped = io::copy(&mut (&mut r).take(self.offset), &mut io::sink())
            .map_err(|e| self.truncated(format!("a damaged compressed stream before the voxel data: {e}")))?;
        if skipped < self.offset {
            return Err(self.truncated(format!("a stream of {skipped} bytes, shorter than vox_offset")));
        }
        Ok(r)
    }

    /// After the last voxel: reads the rest of the stream, which verifies the
    /// gzip checksum, and warns about surplus bytes.
    fn finish(&self, mut r: Box<dyn Read + Send>) -> Result<Vec<Warning>> {
        let extra = io::copy(&mut r, &mut io::sink()).map_err(|e| {
            self.truncated(format!(
                "all voxel bytes, then a damaged end of the compressed stream: {e}"
            ))
        })?;
        Ok(if extra > 0 {
            vec![Warning::new(
                Some(&self.path),
                "voxel data",
                format!("{extra} bytes follow the voxel data that the header announces; they are ignored"),
            )]
        } else {
            Vec::new()
        })
    }

    /// Reads every voxel into a vector of `T` (which must match `dtype`), in
    /// file order, converted to native byte order.
    pub fn read_all<T: Element>(&self, options: &ReadOptions) -> Result<(Vec<T>, Vec<Warning>)> {
        debug_assert_eq!(std::mem::size_of::<T>(), self.dtype.size());
        self.check_size(options)?;
        self.check_file_can_hold()?;
        let mut r = self.open_at_data()?;
        let mut out: Vec<T> = crate::io::zeroed_vec(self.voxels as usize, &self.path, "voxel data")?;
        let got = fill(&mut r, bytemuck::cast_slice_mut(&mut out))
            .map_err(|e| self.truncated(format!("a damaged compressed stream: {e}")))?;
        if (got as u64) < self.bytes() {
            return Err(self.truncated(format!("{got} bytes")));
        }
        if self.big_endian != cfg!(target_endian = "big") && std::mem::size_of::<T>() > 1 {
            out.par_iter_mut()
                .with_min_len(1 << 16)
                .for_each(|v| *v = v.swapped());
        }
        let warnings = self.finish(r)?;
        Ok((out, warnings))
    }

    /// Streams the voxels in slabs of whole rows. `consume(chunk, first)`
    /// receives each slab and the linear index of its first voxel, while the
    /// next slab is being read and decompressed on another thread.
    pub fn stream<F>(&self, options: &ReadOptions, mut consume: F) -> Result<Vec<Warning>>
    where
        F: FnMut(Chunk<'_>, u64) -> Result<()>,
    {
        self.check_size(options)?;
        let size = self.dtype.size();
        let row_bytes = self.row_len.max(1) * size;
        if row_bytes > MAX_ROW_BYTES {
            return Err(Error::Unsupported {
                path: self.path.clone(),
                field: "dim[1]".into(),
                found: format!("rows of {} voxels ({row_bytes} bytes)", self.row_len),
                hint: format!(
                    "streamed reading holds whole rows; rows up to {} MiB are read",
                    MAX_ROW_BYTES >> 20
                ),
            });
        }
        let slab_bytes = (SLAB_BYTES / row_bytes).max(1) * row_bytes;
        let total = self.bytes();
        let swap = self.big_endian != cfg!(target_endian = "big") && size > 1;
        let mut reader = self.open_at_data()?;

        type Filled = (Vec<u64>, usize);
        let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Filled>>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u64>>();
        for _ in 0..3 {
            let _ = empty_tx.send(vec![0u64; slab_bytes.div_ceil(8)]);
        }

        std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let mut remaining = total;
                while remaining > 0 {
                    let Ok(mut buf) = empty_rx.recv() else {
                        return reader;
                    };
                    let want = (slab_bytes as u64).min(remaining) as usize;
                    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut buf[..]);
                    let res = fill(&mut reader, &mut bytes[..want]).map(|n| (buf, n));
                    let stop = !matches!(&res, Ok((_, n)) if *n == want);
                    if full_tx.send(res).is_err() || stop {
                        return reader;
                    }
                    remaining -= want as u64;
                }
                reader
            });

            let result = (|| -> Result<()> {
                let mut done: u64 = 0;
                while done < total {
                    let (mut buf, n) = match full_rx.recv() {
                        Ok(Ok(filled)) => filled,
                        Ok(Err(e)) => {
                            return Err(self
                                .truncated(format!("a damaged compressed stream after {done} bytes: {e}")))
                        }
                        Err(_) => return Err(self.truncated(format!("{done} bytes"))),
                    };
                    let want = (slab_bytes as u64).min(total - done) as usize;
                    if n < want {
                        return Err(self.truncated(format!("{} bytes", done + n as u64)));
                    }
                    let first = done / size as u64;
                    with_typed(self.dtype, &mut buf, n / size, swap, |chunk| {
                        consume(chunk, first)
                    })?;
                    done += n as u64;
                    let _ = empty_tx.send(buf);
                }
                Ok(())
            })();
            drop(full_rx);
            drop(empty_tx);
            let reader = producer
                .join()
                .map_err(|_| self.truncated("a reader thread that failed".into()))?;
            result?;
            self.finish(reader)
        })
    }
}

/// Views the first `len` elements of `buf` as the slab type of `dtype`
/// (swapping byte order first when asked) and hands it to `f`.
fn with_typed<R>(
    dtype: DataType,
    buf: &mut [u64],
    len: usize,
    swap: bool,
    f: impl FnOnce(Chunk<'_>) -> R,
) -> R {
    fn view<T: Element>(buf: &mut [u64], len: usize, swap: bool) -> &[T] {
        let s: &mut [T] = &mut bytemuck::cast_slice_mut(buf)[..len];
        if swap {
            s.par_iter_mut()
                .with_min_len(1 << 14)
                .for_each(|v| *v = v.swapped());
        }
        s
    }
    match dtype {
        DataType::U8 => f(Chunk::U8(view(buf, len, swap))),
        DataType::I8 => f(Chunk::I8(view(buf, len, swap))),
        DataType::U16 => f(Chunk::U16(view(buf, len, swap))),
        DataType::I16 => f(Chunk::I16(view(buf, len, swap))),
        DataType::U32 => f(Chunk::U32(view(buf, len, swap))),
        DataType::I32 => f(Chunk::I32(view(buf, len, swap))),
        DataType::U64 => f(Chunk::U64(view(buf, len, swap))),
        DataType::I64 => f(Chunk::I64(view(buf, len, swap))),
        DataType::F32 => f(Chunk::F32(view(buf, len, swap))),
        DataType::F64 => f(Chunk::F64(view(buf, len, swap))),
    }
}
