//! NRRD geometry: `space` (LPS, RAS, LAS or an unnamed 3-D space),
//! `space directions`, `space origin` and `space units`, or `spacings` alone;
//! LPS becomes liverkit's RAS+ world by negating x and y.

use std::path::Path;

use nalgebra::Matrix4;

use crate::error::{Result, Warning};
use crate::grid::Grid;

use super::header::{HeaderText, Layout};
use super::header_error;

/// The grid of the domain axes, and the frame named by `space` (or how
/// the axes were placed).
pub(super) fn geometry(
    path: &Path,
    h: &HeaderText,
    l: &Layout,
    warnings: &mut Vec<Warning>,
) -> Result<(Grid, String)> {
    let get = |k: &str| h.get(k);
    let (dimension, list_axis, dims) = (l.dimension, l.list_axis, l.dims);
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
    Ok((grid, space))
}

/// Parses `(a,b,c)`.
pub(super) fn vector(text: &str) -> Option<[f64; 3]> {
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
pub(super) fn direction_entries(text: &str) -> Vec<String> {
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
