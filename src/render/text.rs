//! Burned-in marks: the orientation letters at the four edges and a
//! millimetre scale bar, in the public-domain 8 × 8 bitmap font of the
//! `font8x8` crate drawn at twice its size, white on a black outline so they
//! read on any background.

use super::SliceImage;

/// Glyph scale: an 8 × 8 glyph is drawn as 16 × 16 pixels.
const SCALE: usize = 2;
const GLYPH: usize = 8 * SCALE;

/// Draws `text` with its top-left corner at (`u`, `v`).
fn draw(img: &mut SliceImage, text: &str, u: usize, v: usize) {
    for (n, ch) in text.chars().enumerate() {
        let Some(&rows) = font8x8::legacy::BASIC_LEGACY.get(ch as usize) else {
            continue;
        };
        let x0 = u + n * GLYPH;
        // The outline first, then the glyph.
        for (colour, spread) in [([0, 0, 0], 1isize), ([255, 255, 255], 0)] {
            for (y, row) in rows.iter().enumerate() {
                for x in 0..8 {
                    if row >> x & 1 == 0 {
                        continue;
                    }
                    for dy in -spread..=spread {
                        for dx in -spread..=spread {
                            for sy in 0..SCALE {
                                for sx in 0..SCALE {
                                    let px = (x0 + x * SCALE + sx) as isize + dx;
                                    let py = (v + y * SCALE + sy) as isize + dy;
                                    if px >= 0 && py >= 0 {
                                        img.put(px as usize, py as usize, colour);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The letters of the plane at the middle of each edge.
pub(super) fn orientation_letters(img: &mut SliceImage) {
    let [left, right, top, bottom] = img.plane.edge_letters();
    let (w, h) = (img.width, img.height);
    if w < 3 * GLYPH || h < 3 * GLYPH {
        return;
    }
    let mid_v = h / 2 - GLYPH / 2;
    let mid_u = w / 2 - GLYPH / 2;
    draw(img, &left.to_string(), 4, mid_v);
    draw(img, &right.to_string(), w - GLYPH - 4, mid_v);
    draw(img, &top.to_string(), mid_u, 4);
    draw(img, &bottom.to_string(), mid_u, h - GLYPH - 4);
}

/// A bar of a round length (10, 20, 50 or 100 mm: the longest under a
/// quarter of the width) at the bottom left, labelled.
pub(super) fn scale_bar(img: &mut SliceImage) {
    let quarter_mm = img.width as f64 * img.pixel_mm / 4.0;
    let Some(&mm) = [100.0, 50.0, 20.0, 10.0].iter().find(|&&l| l <= quarter_mm) else {
        return;
    };
    let len = (mm / img.pixel_mm).round() as usize;
    let (u0, v0) = (8usize, img.height.saturating_sub(12));
    if img.height < 3 * GLYPH {
        return;
    }
    for u in u0..u0 + len {
        for dv in 0..3 {
            img.put(u, v0 + dv, [255, 255, 255]);
        }
    }
    draw(img, &format!("{mm} mm"), u0, v0 - GLYPH - 4);
}
