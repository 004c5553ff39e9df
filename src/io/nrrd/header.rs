//! The NRRD header: its `field: value` lines and `key:=value` pairs up to
//! the blank line, the voxel layout (`type`, `dimension`, `sizes`, `kinds`)
//! and where and how the data is stored (`encoding`, `endian`, `byte skip`,
//! `data file`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::DataType;

use super::{header_error, Encoding};

/// The longest header liverkit reads, bytes.
const MAX_HEADER_BYTES: usize = 4 << 20;

/// The header's text, split.
pub(super) struct HeaderText {
    /// `field: value` lines, field names in lower case.
    pub fields: BTreeMap<String, String>,
    /// `key:=value` pairs.
    pub pairs: BTreeMap<String, String>,
    /// Where the data starts (after the blank line), when the header ends
    /// within the bytes read.
    pub end: Option<usize>,
    /// Bytes read.
    pub read: usize,
}

impl HeaderText {
    /// A field's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }

    /// A required field's value.
    pub fn need(&self, path: &Path, k: &str) -> Result<&str> {
        self.get(k)
            .ok_or_else(|| header_error(path, k, "a value", "no such field"))
    }
}

/// Reads the magic line and the header lines up to the first empty line.
pub(super) fn read_header(path: &Path) -> Result<HeaderText> {
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
    Ok(HeaderText {
        fields,
        pairs,
        end,
        read: head.len(),
    })
}

/// The voxel layout.
pub(super) struct Layout {
    pub dtype: DataType,
    pub dimension: usize,
    /// Layers (the size of the leading list axis, 1 without one).
    pub layers: usize,
    /// Voxels along the three domain axes.
    pub dims: [usize; 3],
    /// Whether a leading list axis holds layers (a 4-D `.seg.nrrd`).
    pub list_axis: bool,
}

/// `type`, `dimension`, `sizes` and `kinds`.
pub(super) fn layout(path: &Path, h: &HeaderText) -> Result<Layout> {
    let get = |k: &str| h.get(k);
    let need = |k: &str| h.need(path, k);
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
    if !(dimension == 3 || dimension == 4) || sizes.len() != dimension || sizes.contains(&0) || overflows {
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
    Ok(Layout {
        dtype,
        dimension,
        layers,
        dims,
        list_axis,
    })
}

/// Where and how the data is stored.
pub(super) struct Storage {
    pub encoding: Encoding,
    pub big_endian: bool,
    /// `byte skip`: ≥ 0, or −1 for raw data at the end of the file.
    pub byte_skip: i64,
    pub data_path: PathBuf,
    /// Where the data starts in `data_path`, bytes; `None` for byte skip −1.
    pub data_offset: Option<u64>,
}

/// `encoding`, `endian`, `byte skip`, `line skip` and `data file`.
pub(super) fn storage(path: &Path, h: &HeaderText, dtype: DataType) -> Result<Storage> {
    let get = |k: &str| h.get(k);
    let need = |k: &str| h.need(path, k);
    let end = h.end;
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
                    format!("none in the first {} bytes", h.read),
                ))
            }
        },
    };
    let data_offset = if byte_skip == -1 { None } else { header_end };
    Ok(Storage {
        encoding,
        big_endian,
        byte_skip,
        data_path,
        data_offset,
    })
}

/// The data type for an NRRD `type` name.
pub(super) fn dtype_of(name: &str) -> Option<DataType> {
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
