//! NRRD (`.nrrd`, `.nhdr` with a detached data file) and 3D Slicer's
//! segmentation files (`.seg.nrrd`).
//!
//! A small, strict reader of the NRRD format [NRRD]: the header is a magic
//! line `NRRD000N`, then `field: value` lines and `key:=value` pairs, then a
//! blank line and the data (or a `data file:` naming it). liverkit reads
//!
//! * `type`: every integer type and float/double (block data is refused);
//! * `encoding`: `raw`, `gzip`/`gz` and `ascii`/`text`/`txt`; others (bzip2,
//!   hex) are refused by name;
//! * `endian` (required for multi-byte raw or gzip data), `byte skip` (≥ 0,
//!   or −1 for raw data at the end of the file), `line skip`;
//! * geometry from `space` (`left-posterior-superior`/`LPS`,
//!   `right-anterior-superior`/`RAS`, `left-anterior-superior`/`LAS`, or
//!   `space dimension: 3` without a frame, read as RAS with a warning),
//!   `space directions` (one column vector per axis, `none` for a list axis)
//!   and `space origin`; `space units` of mm, m or µm; or, without a space,
//!   `spacings` (axis-aligned, with a warning);
//! * `kinds`: three domain axes, optionally after one `list` axis (the layers
//!   of a 4-D `.seg.nrrd`).
//!
//! LPS coordinates become liverkit's RAS+ world by negating x and y
//! (docs/conventions.md). The data size must equal what `sizes` and `type`
//! announce; a shorter or longer stream is an error naming the file.
//!
//! `.seg.nrrd` files describe their segments in `Segment{N}_Name`,
//! `_LabelValue`, `_Layer` (and `_ID`, `_Tags`) pairs. Segments become named
//! labels; when two segments in different layers share a label value, each
//! layer keeps its own array and the labels are renumbered by segment
//! (N + 1) so that every segment keeps a label of its own (with a warning).
//!
//! The stages, one file each: `header` (the text up to the blank line, the
//! voxel layout, where the data is stored), `geometry` (space, directions,
//! origin, units), `segments` (the `.seg.nrrd` pairs) and `data` (decoding
//! the voxels into a label map or an image).

mod data;
mod geometry;
mod header;
mod segments;
mod write;

pub use segments::SegmentInfo;
pub use write::write_seg_nrrd;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::DataType;

/// How the data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Raw,
    Gzip,
    Ascii,
}

/// An NRRD file whose header has been read and checked.
#[derive(Debug, Clone)]
pub struct NrrdFile {
    path: PathBuf,
    dtype: DataType,
    /// Voxels along the three domain axes.
    dims: [usize; 3],
    /// Layers (the size of the leading list axis, 1 without one).
    layers: usize,
    grid: Grid,
    encoding: Encoding,
    big_endian: bool,
    data_path: PathBuf,
    /// Where the data starts in `data_path` (before decompression), bytes;
    /// `None` for raw data at the end of the file (byte skip −1).
    data_offset: Option<u64>,
    byte_skip: u64,
    fields: BTreeMap<String, String>,
    pairs: BTreeMap<String, String>,
    segments: Vec<SegmentInfo>,
    warnings: Vec<Warning>,
    /// The frame named by `space` (or how the axes were placed).
    space: String,
}

fn header_error(path: &Path, field: &str, expected: impl Into<String>, found: impl ToString) -> Error {
    Error::Header {
        path: path.to_path_buf(),
        field: field.to_string(),
        expected: expected.into(),
        found: found.to_string(),
    }
}

/// Whether the file starts with the NRRD magic.
pub fn is_nrrd(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"NRRD"
}

impl NrrdFile {
    /// Reads and checks the header.
    ///
    /// # Errors
    /// `Read` when the file cannot be read; `Header` naming the field for a
    /// missing or invalid field, an unsupported type or encoding, or
    /// geometry liverkit cannot place in the world.
    pub fn open(path: &Path) -> Result<NrrdFile> {
        let h = header::read_header(path)?;
        let layout = header::layout(path, &h)?;
        let storage = header::storage(path, &h, layout.dtype)?;
        let mut warnings = Vec::new();
        let (grid, space) = geometry::geometry(path, &h, &layout, &mut warnings)?;
        let segments = segments::segments_of(path, &h.pairs, layout.layers, &mut warnings)?;
        Ok(NrrdFile {
            path: path.to_path_buf(),
            dtype: layout.dtype,
            dims: layout.dims,
            layers: layout.layers,
            grid,
            encoding: storage.encoding,
            big_endian: storage.big_endian,
            data_path: storage.data_path,
            data_offset: storage.data_offset,
            byte_skip: storage.byte_skip.max(0) as u64,
            fields: h.fields,
            pairs: h.pairs,
            segments,
            warnings,
            space,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The grid of the domain axes (RAS+ world).
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The voxel type.
    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// Layers (1 unless a list axis leads).
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Segments of a `.seg.nrrd` (empty for a plain NRRD).
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.segments
    }

    /// Header warnings.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Header fields as written (lower-case names).
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// `key:=value` pairs.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.pairs
    }

    /// The frame the file's coordinates are in.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// The encoding's name.
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::Raw => "raw",
            Encoding::Gzip => "gzip",
            Encoding::Ascii => "ascii",
        }
    }
}
