//! Slices for people: axial, coronal and sagittal planes through a point,
//! drawn as radiologists read them, with the structures as translucent
//! fills and contours, orientation letters and a millimetre scale bar.
//!
//! Display convention [ACR–AAPM–SIIM practice; DICOM PS3.3 C.7.6.2.1.1]:
//! images are seen from the patient's feet (axial) and from the front
//! (coronal), so the patient's right is on the image's left; anterior is at
//! the top of an axial image, superior at the top of coronal and sagittal
//! ones, and a sagittal image faces left (anterior on the left).
//!
//! Every pixel is sampled in the world (RAS+ mm) and looked up in the grid
//! through its affine (nearest voxel), so an oblique or LPS-stored volume
//! shows the same anatomy in the same place as an RAS-stored one. Pixels are
//! square, of the grid's smallest spacing (coarser when the image would be
//! wider than [`MAX_PIXELS`]).

pub mod mesh;
mod text;

use nalgebra::{Matrix4, Vector4};

use crate::error::Result;
use crate::grid::Grid;
use crate::volume::{Mask, Volume};

/// The largest image side, in pixels.
pub const MAX_PIXELS: usize = 768;

/// A display window on CT numbers: grey 0 at `center - width / 2`, 255 at
/// `center + width / 2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Level, HU.
    pub center: f32,
    /// Width, HU.
    pub width: f32,
}

/// The liver window, W 150 / L 30 HU [RadiopaediaWindowing]: liver and
/// lesions apart, vessels bright after contrast.
pub const LIVER_WINDOW: Window = Window {
    center: 30.0,
    width: 150.0,
};

/// The colour of the `n`-th label (0-based) drawn by `volumes`: hues a
/// golden angle (137.5°) apart, so neighbours in the list never look alike,
/// at a saturation and value that stay visible on a CT.
pub fn label_rgb(n: usize) -> [u8; 3] {
    let hue = (n as f64 * 137.507_764) % 360.0;
    let (s, v) = (0.7, 0.95);
    let c = v * s;
    let x = c * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r, g, b].map(|t| ((t + m) * 255.0).round() as u8)
}

/// Which plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// Constant z (superior–inferior).
    Axial,
    /// Constant y (anterior–posterior).
    Coronal,
    /// Constant x (right–left).
    Sagittal,
}

impl Plane {
    /// The three, in reading order.
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    /// `axial`, `coronal`, `sagittal`.
    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
        }
    }

    /// The world axes along the image's columns (u) and rows (v), each with
    /// the direction it runs in, and the axis held fixed. Columns run from
    /// the patient's right to left (axial, coronal) or anterior to posterior
    /// (sagittal); rows from anterior to posterior (axial) or superior to
    /// inferior.
    fn axes(self) -> ((usize, f64), (usize, f64), usize) {
        match self {
            Plane::Axial => ((0, -1.0), (1, -1.0), 2),
            Plane::Coronal => ((0, -1.0), (2, -1.0), 1),
            Plane::Sagittal => ((1, -1.0), (2, -1.0), 0),
        }
    }

    /// The letters at the left, right, top and bottom edges.
    pub fn edge_letters(self) -> [char; 4] {
        match self {
            Plane::Axial => ['R', 'L', 'A', 'P'],
            Plane::Coronal => ['R', 'L', 'S', 'I'],
            Plane::Sagittal => ['A', 'P', 'S', 'I'],
        }
    }
}

/// A structure to draw.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// Its voxels (on the grid drawn).
    pub mask: &'a Mask,
    /// Its colour, sRGB.
    pub rgb: [u8; 3],
    /// Opacity of the fill, 0 (contour only) to 1.
    pub fill: f32,
}

/// A rendered slice: RGB pixels, row by row.
#[derive(Debug, Clone)]
pub struct SliceImage {
    /// Which plane.
    pub plane: Plane,
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
    /// The side of a pixel, mm.
    pub pixel_mm: f64,
    /// The world coordinate (RAS+ mm) of the image's left edge along the
    /// column axis, and of its top edge along the row axis.
    pub edges_mm: [f64; 2],
    /// The world coordinate (RAS+ mm) of the plane along its fixed axis.
    pub fixed_mm: f64,
}

impl SliceImage {
    /// The pixel (column, row, as reals) where the world point `p_mm`
    /// projects onto this plane.
    pub fn project(&self, p_mm: [f64; 3]) -> (f64, f64) {
        let ((ua, us), (va, vs), _) = self.plane.axes();
        (
            (p_mm[ua] - self.edges_mm[0]) * us / self.pixel_mm,
            (p_mm[va] - self.edges_mm[1]) * vs / self.pixel_mm,
        )
    }

    /// The world point (RAS+ mm) at the centre of pixel (`u`, `v`).
    pub fn world_of(&self, u: usize, v: usize) -> [f64; 3] {
        let ((ua, us), (va, vs), fixed) = self.plane.axes();
        let mut w = [0.0; 3];
        w[ua] = self.edges_mm[0] + us * (u as f64 + 0.5) * self.pixel_mm;
        w[va] = self.edges_mm[1] + vs * (v as f64 + 0.5) * self.pixel_mm;
        w[fixed] = self.fixed_mm;
        w
    }

    /// Draws where the plane through `point_mm` with normal `normal` cuts
    /// this slice, as a dashed line in `rgb`: the pixels whose signed
    /// distance to it changes sign towards a neighbour (a cutting plane of a
    /// resection over the slice).
    pub fn draw_plane(&mut self, point_mm: [f64; 3], normal: [f64; 3], rgb: [u8; 3]) {
        let side = |w: [f64; 3]| (0..3).map(|a| normal[a] * (w[a] - point_mm[a])).sum::<f64>() >= 0.0;
        let (w, h) = (self.width, self.height);
        let sides: Vec<bool> = (0..h)
            .flat_map(|v| (0..w).map(move |u| (u, v)))
            .map(|(u, v)| side(self.world_of(u, v)))
            .collect();
        for v in 0..h {
            for u in 0..w {
                let s = sides[v * w + u];
                let cut =
                    (u + 1 < w && sides[v * w + u + 1] != s) || (v + 1 < h && sides[(v + 1) * w + u] != s);
                // Dashes of 6 pixels along either direction.
                if cut && (u / 6 + v / 6) % 2 == 0 {
                    self.put(u, v, rgb);
                    self.put(u + 1, v, rgb);
                }
            }
        }
    }

    /// Draws the segment from `a_mm` to `b_mm` (world points, projected onto
    /// the plane) two pixels wide in `rgb`: a needle over the slice.
    pub fn draw_segment(&mut self, a_mm: [f64; 3], b_mm: [f64; 3], rgb: [u8; 3]) {
        let (a, b) = (self.project(a_mm), self.project(b_mm));
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).clamp(1, 8 * MAX_PIXELS);
        for n in 0..=steps {
            let t = n as f64 / steps as f64;
            let (u, v) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            for (du, dv) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                let (x, y) = (u + du - 0.5, v + dv - 0.5);
                if x >= 0.0 && y >= 0.0 {
                    self.put(x as usize, y as usize, rgb);
                }
            }
        }
    }

    /// The colour of pixel (column `u`, row `v`).
    pub fn pixel(&self, u: usize, v: usize) -> [u8; 3] {
        let o = 3 * (v * self.width + u);
        [self.rgb[o], self.rgb[o + 1], self.rgb[o + 2]]
    }

    fn put(&mut self, u: usize, v: usize, c: [u8; 3]) {
        if u < self.width && v < self.height {
            let o = 3 * (v * self.width + u);
            self.rgb[o..o + 3].copy_from_slice(&c);
        }
    }
}

/// The world extent of a grid (voxel corners), per axis: (min, max), mm.
fn world_box(grid: &Grid) -> [(f64, f64); 3] {
    let d = grid.dims();
    let mut b = [(f64::INFINITY, f64::NEG_INFINITY); 3];
    for c in 0..8 {
        let ijk = [0, 1, 2].map(|a| if c >> a & 1 == 1 { d[a] as f64 - 0.5 } else { -0.5 });
        let w = grid.voxel_to_world(ijk);
        for a in 0..3 {
            b[a] = (b[a].0.min(w[a]), b[a].1.max(w[a]));
        }
    }
    b
}

/// Renders `plane` through `point_mm` (RAS+): the background image in
/// `window` (dark grey inside the grid without one), each layer's fill and
/// contour, the point as a small cross, the orientation letters and a scale
/// bar.
///
/// A layer may lie on a part of `grid` ([`Grid::crop`]), as a structure
/// cut to its bounding box does.
///
/// # Errors
/// `GridMismatch` when the background is not on `grid`, or a layer neither
/// on it nor on a part of it.
pub fn render(
    grid: &Grid,
    point_mm: [f64; 3],
    plane: Plane,
    background: Option<(&Volume<f32>, Window)>,
    layers: &[Layer<'_>],
) -> Result<SliceImage> {
    if let Some((b, _)) = background {
        grid.ensure_same(b.grid(), "the scan", "the background image")?;
    }
    let mut offsets = Vec::with_capacity(layers.len());
    for l in layers {
        match l.mask.grid().offset_within(grid) {
            Some(off) => offsets.push(off),
            None => {
                grid.ensure_same(l.mask.grid(), "the scan", "a structure drawn")?;
                offsets.push([0; 3]);
            }
        }
    }
    let ((ua, us), (va, vs), fixed) = plane.axes();
    let bx = world_box(grid);
    let extent = |a: usize| bx[a].1 - bx[a].0;
    let min_spacing = grid.spacing_mm().into_iter().fold(f64::INFINITY, f64::min);
    let pixel_mm = min_spacing.max(extent(ua).max(extent(va)) / MAX_PIXELS as f64);
    let width = ((extent(ua) / pixel_mm).ceil() as usize).max(1);
    let height = ((extent(va) / pixel_mm).ceil() as usize).max(1);
    let start = |a: usize, s: f64| if s < 0.0 { bx[a].1 } else { bx[a].0 };
    let inverse: Matrix4<f64> = grid.affine().try_inverse().unwrap_or_else(Matrix4::identity);
    let dims = grid.dims();
    // The voxel each pixel's centre falls in, when inside the grid.
    let voxel_of = |u: usize, v: usize| -> Option<[usize; 3]> {
        let mut w = [0.0; 3];
        w[ua] = start(ua, us) + us * (u as f64 + 0.5) * pixel_mm;
        w[va] = start(va, vs) + vs * (v as f64 + 0.5) * pixel_mm;
        w[fixed] = point_mm[fixed];
        let q = inverse * Vector4::new(w[0], w[1], w[2], 1.0);
        let ijk = [q[0].round(), q[1].round(), q[2].round()];
        (0..3)
            .all(|a| ijk[a] >= 0.0 && (ijk[a] as usize) < dims[a])
            .then(|| ijk.map(|x| x as usize))
    };
    let voxels: Vec<Option<[usize; 3]>> = (0..height)
        .flat_map(|v| (0..width).map(move |u| (u, v)))
        .map(|(u, v)| voxel_of(u, v))
        .collect();
    let mut img = SliceImage {
        plane,
        width,
        height,
        rgb: vec![0; width * height * 3],
        pixel_mm,
        edges_mm: [start(ua, us), start(va, vs)],
        fixed_mm: point_mm[fixed],
    };
    for (n, vox) in voxels.iter().enumerate() {
        let grey = match (vox, background) {
            (None, _) => 0,
            (Some(ijk), Some((b, w))) => {
                let lo = w.center - w.width / 2.0;
                ((b.data()[*ijk] - lo) / w.width * 255.0).clamp(0.0, 255.0) as u8
            }
            (Some(_), None) => 40,
        };
        img.rgb[3 * n..3 * n + 3].fill(grey);
    }
    for (l, off) in layers.iter().zip(&offsets) {
        let d = l.mask.grid().dims();
        let at = |ijk: [usize; 3]| -> bool {
            let q = [0, 1, 2].map(|a| ijk[a] as isize - off[a]);
            (0..3).all(|a| q[a] >= 0 && (q[a] as usize) < d[a]) && l.mask.data()[q.map(|x| x as usize)]
        };
        let inside: Vec<bool> = voxels.iter().map(|v| v.is_some_and(at)).collect();
        for v in 0..height {
            for u in 0..width {
                let n = v * width + u;
                if !inside[n] {
                    continue;
                }
                let edge = u == 0
                    || v == 0
                    || u + 1 == width
                    || v + 1 == height
                    || !inside[n - 1]
                    || !inside[n + 1]
                    || !inside[n - width]
                    || !inside[n + width];
                let a = if edge { 1.0 } else { l.fill };
                let o = 3 * n;
                for c in 0..3 {
                    let under = f32::from(img.rgb[o + c]);
                    img.rgb[o + c] = (under * (1.0 - a) + f32::from(l.rgb[c]) * a).round() as u8;
                }
            }
        }
    }
    mark_point(&mut img, plane, point_mm, |a| {
        start(a, if a == ua { us } else { vs })
    });
    text::orientation_letters(&mut img);
    text::scale_bar(&mut img);
    Ok(img)
}

/// A small white cross where the point is.
fn mark_point(img: &mut SliceImage, plane: Plane, p: [f64; 3], start: impl Fn(usize) -> f64) {
    let ((ua, us), (va, vs), _) = plane.axes();
    let u = ((p[ua] - start(ua)) * us / img.pixel_mm).floor();
    let v = ((p[va] - start(va)) * vs / img.pixel_mm).floor();
    if u < 0.0 || v < 0.0 {
        return;
    }
    let (u, v) = (u as usize, v as usize);
    for d in 3..7usize {
        for (du, dv) in [
            (d as isize, 0isize),
            (-(d as isize), 0),
            (0, d as isize),
            (0, -(d as isize)),
        ] {
            let (x, y) = (u as isize + du, v as isize + dv);
            if x >= 0 && y >= 0 {
                img.put(x as usize, y as usize, [255, 255, 255]);
            }
        }
    }
}
