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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nalgebra::Matrix4;
use ndarray::{Array3, ShapeBuilder};

use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::{DataType, Element, ReadOptions};
use crate::volume::{LabelArray, LabelMap, LabelNames, Volume};

/// The longest header liverkit reads, bytes.
const MAX_HEADER_BYTES: usize = 4 << 20;

/// How the data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Raw,
    Gzip,
    Ascii,
}

/// A segment described by a `.seg.nrrd` header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentInfo {
    /// N of the `Segment{N}_` fields.
    pub index: usize,
    /// `Segment{N}_ID`.
    pub id: Option<String>,
    /// `Segment{N}_Name`.
    pub name: String,
    /// `Segment{N}_LabelValue`: the value of its voxels in its layer.
    pub label_value: i64,
    /// `Segment{N}_Layer`: the layer holding it.
    pub layer: usize,
    /// `Segment{N}_Tags` (terminology codes).
    pub tags: Option<String>,
    /// The label liverkit gives it (the label value, unless renumbered).
    pub label: i64,
}

impl SegmentInfo {
    /// The segment's property type code from its terminology tag
    /// (`SCT^113197003^Rib`), when it has one.
    pub fn type_code(&self) -> Option<&str> {
        let tags = self.tags.as_deref()?;
        let entry = tags
            .split('|')
            .find_map(|t| t.strip_prefix("TerminologyEntry:"))?;
        entry
            .split('~')
            .nth(2)
            .filter(|c| c.split('^').nth(1).is_some_and(|v| !v.is_empty()))
    }
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

fn dtype_of(name: &str) -> Option<DataType> {
    Some(match name {
        "signed char" | "int8" | "int8_t" => DataType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => DataType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => DataType::I16,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => DataType::U16,
        "int" | "signed int" | "int32" | "int32_t" => DataType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => DataType::U32,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => DataType::I64,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            DataType::U64
        }
        "float" => DataType::F32,
        "double" => DataType::F64,
        _ => return None,
    })
}

/// Parses `(a,b,c)`.
fn vector(text: &str) -> Option<[f64; 3]> {
    let t = text.trim();
    let inner = t.strip_prefix('(')?.strip_suffix(')')?;
    let v: Vec<f64> = inner
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    match v[..] {
        [a, b, c] if v.iter().all(|x| x.is_finite()) => Some([a, b, c]),
        _ => None,
    }
}

/// Splits a `space directions` value into its per-axis entries.
fn direction_entries(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
                if depth == 0 {
                    out.push(std::mem::take(&mut cur).trim().to_string());
                }
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.trim().is_empty() {
                    out.push(std::mem::take(&mut cur).trim().to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

impl NrrdFile {
    /// Reads and checks the header.
    ///
    /// # Errors
    /// `Read` when the file cannot be read; `Header` naming the field for a
    /// missing or invalid field, an unsupported type or encoding, or
    /// geometry liverkit cannot place in the world.
    pub fn open(path: &Path) -> Result<NrrdFile> {
        let read = |e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        };
        let mut f = File::open(path).map_err(read)?;
        let mut head = Vec::new();
        (&mut f)
            .take(MAX_HEADER_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(read)?;
        if !head.starts_with(b"NRRD000") {
            let found: String = String::from_utf8_lossy(&head[..head.len().min(8)]).into();
            return Err(header_error(
                path,
                "magic",
                "NRRD0001 to NRRD0005",
                format!("{found:?}"),
            ));
        }
        // Header lines up to the first empty line.
        let mut fields = BTreeMap::new();
        let mut pairs = BTreeMap::new();
        let mut pos = 0usize;
        let mut end = None;
        let mut first = true;
        while pos < head.len() {
            let nl = head[pos..].iter().position(|&b| b == b'\n');
            let Some(nl) = nl else { break };
            let raw = &head[pos..pos + nl];
            pos += nl + 1;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_end_matches('\r');
            if first {
                first = false;
                continue;
            }
            if line.is_empty() {
                end = Some(pos);
                break;
            }
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once(":=") {
                pairs.insert(k.to_string(), v.to_string());
            } else if let Some((k, v)) = line.split_once(": ") {
                fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            } else {
                return Err(header_error(
                    path,
                    "header line",
                    "\"field: value\" or \"key:=value\"",
                    line,
                ));
            }
        }
        let get = |k: &str| fields.get(k).map(String::as_str);
        let need = |k: &str| get(k).ok_or_else(|| header_error(path, k, "a value", "no such field"));
        let mut warnings = Vec::new();

        let type_name = need("type")?;
        let dtype = dtype_of(type_name)
            .ok_or_else(|| header_error(path, "type", "an integer type, float or double", type_name))?;
        let dimension: usize = need("dimension")?
            .parse()
            .map_err(|_| header_error(path, "dimension", "3 or 4", need("dimension").unwrap_or("")))?;
        let sizes: Vec<usize> = need("sizes")?
            .split_whitespace()
            .map(|s| s.parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| header_error(path, "sizes", "whole numbers", need("sizes").unwrap_or("")))?;
        let overflows = sizes
            .iter()
            .try_fold(1u64, |acc, &n| {
                acc.checked_mul(n as u64).filter(|&v| v <= 1 << 48)
            })
            .is_none();
        if !(dimension == 3 || dimension == 4) || sizes.len() != dimension || sizes.contains(&0) || overflows
        {
            return Err(header_error(
                path,
                "sizes",
                "3 sizes of at least 1 (or 4 with a leading list axis), at most 2^48 voxels in all",
                format!("dimension {dimension}, sizes {sizes:?}"),
            ));
        }
        let kinds: Vec<String> = get("kinds")
            .map(|k| k.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default();
        let list_axis = dimension == 4;
        if list_axis {
            let ok = kinds.len() == 4
                && kinds[0] == "list"
                && kinds[1..].iter().all(|k| k == "domain" || k == "space");
            if !ok {
                return Err(header_error(
                    path,
                    "kinds",
                    "a 4-D file with kinds \"list domain domain domain\" (segmentation layers)",
                    get("kinds").unwrap_or("none given"),
                ));
            }
        } else if !kinds.is_empty()
            && kinds
                .iter()
                .any(|k| !(k == "domain" || k == "space" || k == "???"))
        {
            return Err(header_error(
                path,
                "kinds",
                "three domain axes",
                get("kinds").unwrap_or(""),
            ));
        }
        let (layers, dims) = if list_axis {
            (sizes[0], [sizes[1], sizes[2], sizes[3]])
        } else {
            (1, [sizes[0], sizes[1], sizes[2]])
        };

        let encoding = match need("encoding")?.to_ascii_lowercase().as_str() {
            "raw" => Encoding::Raw,
            "gzip" | "gz" => Encoding::Gzip,
            "ascii" | "text" | "txt" => Encoding::Ascii,
            other => {
                return Err(header_error(path, "encoding", "raw, gzip or ascii", other));
            }
        };
        let big_endian = match get("endian") {
            Some("big") => true,
            Some("little") => false,
            Some(other) => return Err(header_error(path, "endian", "little or big", other)),
            None if dtype.size() > 1 && encoding != Encoding::Ascii => {
                return Err(header_error(
                    path,
                    "endian",
                    "little or big (multi-byte data)",
                    "no such field",
                ))
            }
            None => false,
        };
        let byte_skip: i64 = match get("byte skip") {
            Some(s) => s
                .parse()
                .map_err(|_| header_error(path, "byte skip", "a whole number ≥ -1", s))?,
            None => 0,
        };
        if byte_skip < -1 || (byte_skip == -1 && encoding != Encoding::Raw) {
            return Err(header_error(
                path,
                "byte skip",
                "≥ 0 (or -1 with raw encoding)",
                byte_skip,
            ));
        }
        if get("line skip").is_some_and(|s| s != "0") {
            return Err(header_error(
                path,
                "line skip",
                "0",
                get("line skip").unwrap_or(""),
            ));
        }

        // Where the data is.
        let (data_path, header_end) = match get("data file").or(get("datafile")) {
            Some(name) => {
                if name.starts_with("LIST") || name.contains('%') {
                    return Err(header_error(path, "data file", "a single data file", name));
                }
                let p = Path::new(name);
                let full = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    path.parent().unwrap_or(Path::new(".")).join(p)
                };
                (full, Some(0u64))
            }
            None => match end {
                Some(e) => (path.to_path_buf(), Some(e as u64)),
                None => {
                    return Err(header_error(
                        path,
                        "header",
                        "a blank line ending the header",
                        format!("none in the first {} bytes", head.len()),
                    ))
                }
            },
        };
        let data_offset = if byte_skip == -1 { None } else { header_end };

        // Geometry.
        let scale = match get("space units") {
            None => 1.0,
            Some(u) => {
                let units: Vec<String> = u
                    .split_whitespace()
                    .map(|s| s.trim_matches('"').to_string())
                    .collect();
                let f = |s: &str| match s {
                    "mm" => Some(1.0),
                    "m" => Some(1000.0),
                    "um" | "µm" | "micron" => Some(1e-3),
                    _ => None,
                };
                let fs: Vec<Option<f64>> = units.iter().map(|s| f(s)).collect();
                match fs[..] {
                    [Some(a), Some(b), Some(c)] if a == b && b == c => a,
                    _ => {
                        return Err(header_error(
                            path,
                            "space units",
                            "\"mm\" \"mm\" \"mm\" (or m, µm)",
                            u,
                        ))
                    }
                }
            }
        };
        let space_name = get("space").map(str::to_ascii_lowercase);
        let flip = match space_name.as_deref() {
            Some("left-posterior-superior") | Some("lps") => [-1.0, -1.0, 1.0],
            Some("right-anterior-superior") | Some("ras") => [1.0, 1.0, 1.0],
            Some("left-anterior-superior") | Some("las") => [-1.0, 1.0, 1.0],
            Some(other) => {
                return Err(header_error(
                    path,
                    "space",
                    "left-posterior-superior, right-anterior-superior or left-anterior-superior",
                    other,
                ))
            }
            None => [1.0, 1.0, 1.0],
        };
        let mut affine = Matrix4::identity();
        let space = if let Some(dirs) = get("space directions") {
            if space_name.is_none() {
                match get("space dimension") {
                    Some("3") => warnings.push(Warning::new(
                        Some(path),
                        "space",
                        "no named space: the axes are taken as RAS (right, anterior, superior)",
                    )),
                    other => {
                        return Err(header_error(
                            path,
                            "space",
                            "a named space or \"space dimension: 3\"",
                            other.unwrap_or("none"),
                        ))
                    }
                }
            }
            let entries = direction_entries(dirs);
            if entries.len() != dimension {
                return Err(header_error(
                    path,
                    "space directions",
                    format!("{dimension} entries"),
                    dirs,
                ));
            }
            let domain = if list_axis {
                if entries[0] != "none" {
                    return Err(header_error(
                        path,
                        "space directions",
                        "none for the list axis",
                        &entries[0],
                    ));
                }
                &entries[1..]
            } else {
                &entries[..]
            };
            for (c, e) in domain.iter().enumerate() {
                let v = vector(e)
                    .ok_or_else(|| header_error(path, "space directions", "(x,y,z) per domain axis", e))?;
                for r in 0..3 {
                    affine[(r, c)] = flip[r] * v[r] * scale;
                }
            }
            let origin = match get("space origin") {
                Some(o) => vector(o).ok_or_else(|| header_error(path, "space origin", "(x,y,z)", o))?,
                None => {
                    warnings.push(Warning::new(
                        Some(path),
                        "space origin",
                        "missing: the origin is taken as (0,0,0)",
                    ));
                    [0.0; 3]
                }
            };
            for r in 0..3 {
                affine[(r, 3)] = flip[r] * origin[r] * scale;
            }
            space_name.clone().unwrap_or_else(|| "RAS (assumed)".into())
        } else if let Some(sp) = get("spacings") {
            let v: Vec<f64> = sp
                .split_whitespace()
                .filter(|s| !s.eq_ignore_ascii_case("nan"))
                .map(|s| s.parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| header_error(path, "spacings", "numbers", sp))?;
            if v.len() != 3 || v.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                return Err(header_error(path, "spacings", "three positive spacings", sp));
            }
            for a in 0..3 {
                affine[(a, a)] = v[a];
            }
            warnings.push(Warning::new(
                Some(path),
                "spacings",
                "no space directions: the axes are taken as RAS through the origin",
            ));
            "none (spacings only)".into()
        } else {
            return Err(header_error(
                path,
                "space directions",
                "space directions (or spacings) placing the voxels in mm",
                "neither field",
            ));
        };
        let grid =
            Grid::new(dims, affine).map_err(|e| header_error(path, "space directions", "a valid grid", e))?;

        let segments = segments_of(path, &pairs, layers, &mut warnings)?;
        Ok(NrrdFile {
            path: path.to_path_buf(),
            dtype,
            dims,
            layers,
            grid,
            encoding,
            big_endian,
            data_path,
            data_offset,
            byte_skip: byte_skip.max(0) as u64,
            fields,
            pairs,
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

    fn voxels(&self) -> u64 {
        (self.dims[0] * self.dims[1] * self.dims[2]) as u64 * self.layers as u64
    }

    fn data_error(&self, expected: String, found: String) -> Error {
        Error::Truncated {
            path: self.data_path.clone(),
            field: "data".into(),
            expected,
            found,
        }
    }

    /// Reads the voxels of every layer in file order (layer fastest), native
    /// byte order.
    fn read_values<T: Element + std::str::FromStr>(&self, options: &ReadOptions) -> Result<Vec<T>> {
        let n = self.voxels();
        let bytes = n.saturating_mul(self.dtype.size() as u64);
        if bytes > options.max_bytes {
            return Err(header_error(
                &self.path,
                "sizes",
                format!(
                    "at most {:.1} GiB of voxel data (--max-memory-gib)",
                    options.max_bytes as f64 / (1u64 << 30) as f64
                ),
                format!("{n} voxels of {} bytes", self.dtype.size()),
            ));
        }
        let read = |e| Error::Read {
            path: self.data_path.clone(),
            source: e,
        };
        let mut file = File::open(&self.data_path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            // A device or a pipe could be read forever.
            return Err(header_error(
                &self.path,
                "data file",
                "a regular file",
                format!("{} (not a regular file)", self.data_path.display()),
            ));
        }
        let len = meta.len();
        let start = match self.data_offset {
            Some(o) => o,
            None => len.saturating_sub(bytes),
        };
        let expected = format!("{bytes} bytes of {} voxels", n);
        let wanted = bytes.saturating_add(self.byte_skip);
        if self.encoding == Encoding::Raw && len.saturating_sub(start) < wanted {
            return Err(self.data_error(
                expected,
                format!(
                    "{} bytes after the header (the data size does not match the header: the file is too short)",
                    len.saturating_sub(start)
                ),
            ));
        }
        let mut stored = Vec::new();
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(start)).map_err(read)?;
        let stored_limit = if self.encoding == Encoding::Raw {
            wanted
        } else {
            u64::MAX
        };
        file.take(stored_limit).read_to_end(&mut stored).map_err(read)?;
        let data = match self.encoding {
            Encoding::Raw => stored,
            Encoding::Gzip => {
                // Inflate no more than the header announces (one byte more
                // tells a stream that is too long); the buffer grows with
                // what the stream really holds, never with what is announced.
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&stored[..])
                    .take(wanted.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|e| self.data_error(expected.clone(), format!("a damaged gzip stream: {e}")))?;
                out
            }
            Encoding::Ascii => {
                let text = String::from_utf8_lossy(&stored);
                let values: Vec<T> = text
                    .split_whitespace()
                    .map(|t| t.parse::<T>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| self.data_error(expected.clone(), "a value that is not a number".into()))?;
                if values.len() as u64 != n {
                    return Err(self.data_error(format!("{n} values"), format!("{} values", values.len())));
                }
                return Ok(values);
            }
        };
        let skip = self.byte_skip as usize;
        let body = data.get(skip..).unwrap_or(&[]);
        if body.len() as u64 != bytes {
            return Err(self.data_error(
                expected,
                format!("{} bytes (the data size does not match the header)", body.len()),
            ));
        }
        let mut out: Vec<T> = vec![T::zeroed(); n as usize];
        bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(body);
        if self.big_endian != cfg!(target_endian = "big") && self.dtype.size() > 1 {
            out.iter_mut().for_each(|v| *v = v.swapped());
        }
        Ok(out)
    }

    /// The layers' arrays (x fastest) from interleaved values.
    fn layer_arrays<T: Element>(&self, values: Vec<T>) -> Result<Vec<Array3<T>>> {
        let d = self.dims;
        let shaped = |v: Vec<T>| {
            Array3::from_shape_vec(d.f(), v)
                .map_err(|e| header_error(&self.path, "sizes", "the announced voxels", e))
        };
        if self.layers == 1 {
            return Ok(vec![shaped(values)?]);
        }
        (0..self.layers)
            .map(|l| shaped(values.iter().skip(l).step_by(self.layers).copied().collect()))
            .collect()
    }

    /// Reads a label map. Float data must hold whole numbers. Segments of a
    /// `.seg.nrrd` become named labels; several layers become overlapping
    /// layers of the map.
    ///
    /// # Errors
    /// `Read`, `Truncated` (data size not as announced), `Data` (a float that
    /// is not a whole number).
    pub fn read_label_map(&self, options: &ReadOptions) -> Result<(LabelMap, Vec<Warning>)> {
        macro_rules! int_layers {
            ($t:ty, $variant:ident) => {{
                let v: Vec<$t> = self.read_values(options)?;
                self.layer_arrays(v)?
                    .into_iter()
                    .map(LabelArray::$variant)
                    .collect::<Vec<_>>()
            }};
        }
        let mut layers: Vec<LabelArray> = match self.dtype {
            DataType::U8 => int_layers!(u8, U8),
            DataType::I8 => int_layers!(i8, I8),
            DataType::U16 => int_layers!(u16, U16),
            DataType::I16 => int_layers!(i16, I16),
            DataType::U32 => int_layers!(u32, U32),
            DataType::I32 => int_layers!(i32, I32),
            DataType::U64 => int_layers!(u64, U64),
            DataType::I64 => int_layers!(i64, I64),
            DataType::F32 | DataType::F64 => {
                let v: Vec<f64> = if self.dtype == DataType::F32 {
                    self.read_values::<f32>(options)?
                        .into_iter()
                        .map(f64::from)
                        .collect()
                } else {
                    self.read_values::<f64>(options)?
                };
                if let Some((i, x)) = v
                    .iter()
                    .enumerate()
                    .find(|(_, x)| !(x.is_finite() && x.fract() == 0.0))
                {
                    return Err(Error::Data {
                        path: self.path.clone(),
                        field: "voxel values".into(),
                        expected: "whole numbers in a label map".into(),
                        found: format!("{x} at voxel {i} (file order)"),
                    });
                }
                let ints: Vec<i64> = v.into_iter().map(|x| x as i64).collect();
                self.layer_arrays(ints)?
                    .into_iter()
                    .map(LabelArray::I64)
                    .collect()
            }
        };
        let mut names = LabelNames::new();
        // Renumber by segment when layers share label values.
        if self.segments.iter().any(|s| s.label != s.label_value) {
            let mut renumbered: Vec<LabelArray> = Vec::with_capacity(layers.len());
            for (l, layer) in layers.iter().enumerate() {
                let map: Vec<(i64, i64)> = self
                    .segments
                    .iter()
                    .filter(|s| s.layer == l)
                    .map(|s| (s.label_value, s.label))
                    .collect();
                let mut unknown = None;
                let a = crate::with_label_array!(layer, a => a.mapv(|v| {
                    let v = crate::volume::LabelValue::to_label(v).unwrap_or(i64::MIN);
                    match map.iter().find(|(from, _)| *from == v) {
                        Some((_, to)) => *to,
                        None if v == 0 => 0,
                        None => {
                            unknown = Some(v);
                            0
                        }
                    }
                }));
                if let Some(v) = unknown {
                    return Err(Error::Data {
                        path: self.path.clone(),
                        field: format!("layer {l}"),
                        expected: "only the label values its Segment*_LabelValue fields name".into(),
                        found: format!("value {v}"),
                    });
                }
                renumbered.push(LabelArray::I64(a));
            }
            layers = renumbered;
        }
        for s in &self.segments {
            names.insert(s.label, s.name.clone());
        }
        let first = layers.remove(0);
        let map = LabelMap::new(self.grid.clone(), first, names)?.with_overlays(layers)?;
        Ok((map, Vec::new()))
    }

    /// Reads an intensity image as f32 (one layer only).
    ///
    /// # Errors
    /// As [`NrrdFile::read_label_map`]; `Header` (`sizes`) for a layered file.
    pub fn read_intensity(&self, options: &ReadOptions) -> Result<(Volume<f32>, Vec<Warning>)> {
        if self.layers != 1 {
            return Err(header_error(
                &self.path,
                "sizes",
                "a 3-D image",
                format!("{} layers", self.layers),
            ));
        }
        macro_rules! conv {
            ($t:ty) => {{
                let v: Vec<$t> = self.read_values(options)?;
                v.into_iter().map(|x| x as f32).collect::<Vec<f32>>()
            }};
        }
        let v: Vec<f32> = match self.dtype {
            DataType::U8 => conv!(u8),
            DataType::I8 => conv!(i8),
            DataType::U16 => conv!(u16),
            DataType::I16 => conv!(i16),
            DataType::U32 => conv!(u32),
            DataType::I32 => conv!(i32),
            DataType::U64 => conv!(u64),
            DataType::I64 => conv!(i64),
            DataType::F32 => self.read_values::<f32>(options)?,
            DataType::F64 => conv!(f64),
        };
        let a = Array3::from_shape_vec(self.dims.f(), v)
            .map_err(|e| header_error(&self.path, "sizes", "the announced voxels", e))?;
        Ok((Volume::new(self.grid.clone(), a)?, Vec::new()))
    }
}

/// The `Segment{N}_*` pairs of a `.seg.nrrd`.
fn segments_of(
    path: &Path,
    pairs: &BTreeMap<String, String>,
    layers: usize,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<SegmentInfo>> {
    let mut out = Vec::new();
    for n in 0.. {
        let key = |f: &str| format!("Segment{n}_{f}");
        let Some(name) = pairs.get(&key("Name")) else {
            if n == 0 || !pairs.contains_key(&key("LabelValue")) {
                break;
            }
            return Err(header_error(path, &key("Name"), "a segment name", "no such key"));
        };
        let number = |f: &str, default: i64| -> Result<i64> {
            match pairs.get(&key(f)) {
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| header_error(path, &key(f), "a whole number", v)),
                None => Ok(default),
            }
        };
        let label_value = number("LabelValue", 1)?;
        let layer = number("Layer", 0)?;
        if layer < 0 || layer as usize >= layers {
            return Err(header_error(
                path,
                &key("Layer"),
                format!("0 to {}", layers - 1),
                layer,
            ));
        }
        out.push(SegmentInfo {
            index: n,
            id: pairs.get(&key("ID")).cloned(),
            name: name.clone(),
            label_value,
            layer: layer as usize,
            tags: pairs.get(&key("Tags")).cloned(),
            label: label_value,
        });
    }
    let mut values: Vec<i64> = out.iter().map(|s| s.label_value).collect();
    values.sort_unstable();
    values.dedup();
    if values.len() < out.len() {
        for s in &mut out {
            s.label = s.index as i64 + 1;
        }
        warnings.push(Warning::new(
            Some(path),
            "Segment*_LabelValue",
            "segments in different layers share label values: labels are the segment numbers + 1 (Segment0 = 1, …)",
        ));
    }
    Ok(out)
}
