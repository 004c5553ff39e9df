//! Writing masks as a 3D Slicer segmentation (`.seg.nrrd`): gzip-compressed
//! `unsigned char` voxels in LPS space, and for each segment the
//! `Segment{N}_*` fields Slicer reads — ID, name, colour, label value,
//! layer, extent and a terminology tag with its SNOMED CT codes [3D Slicer
//! segmentation file format, "Segmentation labelmap representation"; the
//! `TerminologyEntry` format of Slicer's Terminologies module].
//!
//! Segments that do not overlap share one layer (a 3-D file, label values
//! 1, 2, …); otherwise each segment has a layer of its own (a 4-D file,
//! kinds `list domain domain domain`), still with its own label value.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};
use crate::grid::ras_to_lps;
use crate::io::structure::Segment;

/// Writes `segments` (all on one grid) as a `.seg.nrrd` at `path`, through a
/// temporary file.
///
/// # Errors
/// `Parameter` for no segments; `GridMismatch` for masks on different grids;
/// `Write` when the file cannot be written (nothing is left at `path`).
pub fn write_seg_nrrd(path: &Path, segments: &[Segment<'_>]) -> Result<()> {
    let Some(first) = segments.first() else {
        return Err(crate::error::parameter_error(
            "segments",
            "none",
            "at least one mask to write",
        ));
    };
    if segments.len() > 255 {
        return Err(crate::error::parameter_error(
            "segments",
            segments.len(),
            "at most 255 segments in one .seg.nrrd",
        ));
    }
    let grid = first.mask.grid();
    for s in &segments[1..] {
        grid.ensure_same(s.mask.grid(), first.structure.label(), s.structure.label())?;
    }
    let dims = grid.dims();
    let n = dims[0] * dims[1] * dims[2];
    // One layer when no voxel is in two segments.
    let mut shared = vec![0u8; n];
    let mut overlap = false;
    for (s, seg) in segments.iter().enumerate() {
        // The transposed view iterates with i fastest, NRRD's order.
        for (out, &v) in shared.iter_mut().zip(seg.mask.data().t().iter()) {
            if v {
                overlap |= *out != 0;
                *out = s as u8 + 1;
            }
        }
    }
    let layered = overlap;
    let data: Vec<u8> = if layered {
        let mut all = Vec::with_capacity(n * segments.len());
        // kinds "list domain domain domain": the layer index varies fastest.
        let masks: Vec<Vec<bool>> = segments
            .iter()
            .map(|s| s.mask.data().t().iter().copied().collect())
            .collect();
        // Each segment keeps a label value of its own (n + 1) in its layer.
        for voxel in 0..n {
            for (s, m) in masks.iter().enumerate() {
                all.push(if m[voxel] { s as u8 + 1 } else { 0 });
            }
        }
        all
    } else {
        shared
    };
    let header = header(grid, segments, layered);
    let mut gz = GzEncoder::new(Vec::with_capacity(n / 8 + 1024), Compression::fast());
    gz.write_all(&data).map_err(|e| write_error(path, e))?;
    let body = gz.finish().map_err(|e| write_error(path, e))?;
    let mut bytes = header.into_bytes();
    bytes.extend_from_slice(&body);
    crate::io::atomic::write_file(path, &bytes)
}

fn header(grid: &crate::grid::Grid, segments: &[Segment<'_>], layered: bool) -> String {
    let dims = grid.dims();
    let a = grid.affine();
    let dir = |c: usize| {
        let v = ras_to_lps([a[(0, c)], a[(1, c)], a[(2, c)]]);
        format!("({},{},{})", v[0], v[1], v[2])
    };
    let origin = ras_to_lps([a[(0, 3)], a[(1, 3)], a[(2, 3)]]);
    let mut h = String::from("NRRD0004\n# Written by liverkit\ntype: unsigned char\n");
    let dirs = format!("{} {} {}", dir(0), dir(1), dir(2));
    let sizes = format!("{} {} {}", dims[0], dims[1], dims[2]);
    // Layers add a first axis, `list`, without a direction.
    let (dimension, sizes, dirs, kinds) = if layered {
        (
            4,
            format!("{} {sizes}", segments.len()),
            format!("none {dirs}"),
            "list domain domain domain",
        )
    } else {
        (3, sizes, dirs, "domain domain domain")
    };
    h += &format!(
        "dimension: {dimension}\nspace: left-posterior-superior\nsizes: {sizes}\nspace directions: {dirs}\n\
         kinds: {kinds}\n"
    );
    h += &format!(
        "encoding: gzip\nspace origin: ({},{},{})\n",
        origin[0], origin[1], origin[2]
    );
    h += "Segmentation_MasterRepresentation:=Binary labelmap\n";
    h += "Segmentation_ContainedRepresentationNames:=Binary labelmap|\n";
    h += "Segmentation_ReferenceImageExtentOffset:=0 0 0\n";
    for (n, s) in segments.iter().enumerate() {
        let st = s.structure;
        let [r, g, b] = st.rgb().map(|c| f64::from(c) / 255.0);
        let (c, t) = (st.category(), st.property_type());
        let (label, layer) = if layered { (n + 1, n) } else { (n + 1, 0) };
        h += &format!(
            "Segment{n}_ID:=Segment_{id}\nSegment{n}_Name:={name}\nSegment{n}_NameAutoGenerated:=0\n\
             Segment{n}_Color:={r:.6} {g:.6} {b:.6}\nSegment{n}_ColorAutoGenerated:=0\n\
             Segment{n}_LabelValue:={label}\nSegment{n}_Layer:={layer}\n\
             Segment{n}_Extent:=0 {} 0 {} 0 {}\n\
             Segment{n}_Tags:=TerminologyEntry:Segmentation category and type - liverkit~{}^{}^{}~{}^{}^{}~^^~\
             Anatomic codes - DICOM master list~^^~^^|\n",
            dims[0] - 1,
            dims[1] - 1,
            dims[2] - 1,
            c.scheme,
            c.value,
            c.meaning,
            t.scheme,
            t.value,
            t.meaning,
            id = n + 1,
            name = st.label(),
        );
    }
    h.push('\n');
    h
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source: e,
    }
}
