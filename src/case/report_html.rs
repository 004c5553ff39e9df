//! The one-page HTML report of a case (`--report FILE.html`): a header with
//! the inputs and the verdict in words and colour, the key numbers, the
//! axial, coronal and sagittal slices through the point that matters with a
//! legend, the charts of the command, and the warnings.
//!
//! The page is self-contained: the slices are PNG data URIs, the charts
//! inline SVG (drawn with `plotters`), the style inline; it loads nothing,
//! so it opens offline from a USB stick, and its print style fits A4.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// The colour of what failed its check, in charts (the banner's red).
pub const FAIL_RGB: [u8; 3] = [198, 40, 40];
/// The colour of what falls short of the required margin but is not
/// negative (the borderline banner's amber).
pub const SHORT_RGB: [u8; 3] = [230, 161, 0];
/// The colour of what passed its check (the pass banner's green).
pub const PASS_RGB: [u8; 3] = [46, 125, 50];

/// How the verdict reads: the colour of its banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The check passed (green).
    Pass,
    /// The check failed (red).
    Fail,
    /// Passed or failed within the uncertainty (amber).
    Borderline,
    /// No check was made (grey).
    Neutral,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Pass => "pass",
            Tone::Fail => "fail",
            Tone::Borderline => "borderline",
            Tone::Neutral => "neutral",
        }
    }

    /// The tone of a verdict text that starts with one of liverkit's words
    /// (BORDERLINE, SUFFICIENT/COVERED, INSUFFICIENT/NOT COVERED, …), or of a
    /// pass/fail flag.
    pub fn of(passed: Option<bool>, verdict: &str) -> Tone {
        if verdict.starts_with("BORDERLINE") {
            return Tone::Borderline;
        }
        match passed {
            Some(true) => Tone::Pass,
            Some(false) => Tone::Fail,
            None => Tone::Neutral,
        }
    }
}

/// One slice image: its caption and its PNG bytes.
#[derive(Debug, Clone)]
pub struct Figure {
    /// "Axial", "Coronal", "Sagittal" (and a prefix such as "Pre-PVE").
    pub caption: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// A chart as inline SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the chart.
    pub title: String,
    /// The `<svg>` element.
    pub svg: String,
}

/// What a page shows.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The command (`remnant`, `margin` …).
    pub command: String,
    /// The heading ("Future liver remnant").
    pub title: String,
    /// The input files.
    pub inputs: Vec<String>,
    /// Patient and request parameters (label, value).
    pub parameters: Vec<(String, String)>,
    /// The verdict in words and its tone.
    pub verdict: Option<(String, Tone)>,
    /// The key numbers (label, value with its unit).
    pub numbers: Vec<(String, String)>,
    /// The slices.
    pub figures: Vec<Figure>,
    /// The structures drawn, for the legend: name and colour.
    pub legend: Vec<(String, [u8; 3])>,
    /// The charts.
    pub charts: Vec<Chart>,
    /// The interactive 3D view, when the structures have surfaces.
    pub scene: Option<crate::case::report3d::Scene>,
    /// What the user must know.
    pub warnings: Vec<String>,
}

/// `text` with the five HTML metacharacters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}\
.verdict{padding:.6em .9em;border-radius:4px;font-weight:600;margin:.6em 0}\
.pass{background:#dcefdc;border-left:6px solid #2e7d32}.fail{background:#f8d7d7;border-left:6px solid #c62828}\
.borderline{background:#fff1cc;border-left:6px solid #e6a100}.neutral{background:#eee;border-left:6px solid #888}\
table{border-collapse:collapse}td,th{padding:.15em .8em .15em 0;text-align:left;vertical-align:top}\
td.v{text-align:right;font-variant-numeric:tabular-nums}\
.slices{display:flex;flex-wrap:wrap;gap:.6em}.slices figure{margin:0}.slices img{width:340px;height:auto;image-rendering:pixelated;border:1px solid #999}\
figcaption{font-size:.85em;color:#555}.legend span{display:inline-block;margin-right:1.2em;font-size:.9em}\
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle;border:1px solid #555}\
.view3d{border:1px solid #999;width:fit-content;max-width:100%}.view3d canvas{display:block;max-width:100%;height:auto}\
.charts{display:flex;flex-wrap:wrap;gap:1em}.warnings li{margin:.2em 0}.small{color:#666;font-size:.85em}\
@media print{body{margin:0;max-width:none;font-size:10pt}.slices img{width:58mm}h2{break-after:avoid}figure,.chart,.view3d{break-inside:avoid}}\
@page{size:A4;margin:12mm}";

/// The page as one HTML document.
pub fn render_page(page: &Page) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>liverkit {} — {}</title><style>{STYLE}</style></head><body>\n",
        escape(&page.command),
        escape(&page.title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", escape(&page.title));
    let _ = writeln!(
        h,
        "<p class=\"small\">liverkit {} {} · {}</p>",
        escape(&page.command),
        env!("CARGO_PKG_VERSION"),
        page.inputs
            .iter()
            .map(|i| escape(i))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    if let Some((text, tone)) = &page.verdict {
        let _ = writeln!(
            h,
            "<div class=\"verdict {}\" id=\"verdict\">{}</div>",
            tone.class(),
            escape(text)
        );
    }
    if !page.parameters.is_empty() {
        h.push_str("<h2>Request</h2>\n");
        h.push_str(&table(&page.parameters, "parameters"));
    }
    if !page.numbers.is_empty() {
        h.push_str("<h2>Key numbers</h2>\n");
        h.push_str(&table(&page.numbers, "numbers"));
    }
    if !page.figures.is_empty() {
        h.push_str("<h2>Slices</h2>\n<div class=\"slices\">\n");
        for f in &page.figures {
            let data = base64::engine::general_purpose::STANDARD.encode(&f.png);
            let _ = writeln!(
                h,
                "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{data}\"><figcaption>{0}</figcaption></figure>",
                escape(&f.caption)
            );
        }
        h.push_str("</div>\n<p class=\"legend\">");
        for (name, [r, g, b]) in &page.legend {
            let _ = write!(
                h,
                "<span><i style=\"background:rgb({r},{g},{b})\"></i>{}</span>",
                escape(name)
            );
        }
        let w = crate::render::LIVER_WINDOW;
        let _ = writeln!(
            h,
            "</p>\n<p class=\"small\">Radiological convention: the patient's right on the image's left \
             (axial, coronal), anterior on the left (sagittal). CT in the liver window (W {} / L {} HU) when given.</p>",
            w.width, w.center
        );
    }
    if let Some(scene) = page.scene.as_ref().filter(|s| !s.meshes.is_empty()) {
        h.push_str(&crate::case::report3d::scene_html(scene));
    }
    if !page.charts.is_empty() {
        h.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
        for c in &page.charts {
            let _ = writeln!(
                h,
                "<div class=\"chart\"><h3 class=\"small\">{}</h3>{}</div>",
                escape(&c.title),
                c.svg
            );
        }
        h.push_str("</div>\n");
    }
    if !page.warnings.is_empty() {
        h.push_str("<h2>Warnings</h2>\n<ul class=\"warnings\">\n");
        for w in &page.warnings {
            let _ = writeln!(h, "<li>{}</li>", escape(w));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<p class=\"small\">Volumes are voxel counts times the voxel volume of the scan's affine. \
         A research tool: check every number against the images before a clinical decision.</p>\n",
    );
    // Marks the page once loaded with how many slice images decoded, for the
    // browser test (and anyone checking a copied file): data-images="3/3".
    h.push_str(
        "<script>window.addEventListener('load',function(){var m=document.images,n=0;\
         for(var i=0;i<m.length;i++){if(m[i].complete&&m[i].naturalWidth>0)n++;}\
         document.documentElement.setAttribute('data-images',n+'/'+m.length);});</script>\n</body></html>\n",
    );
    h
}

fn table(rows: &[(String, String)], id: &str) -> String {
    let mut t = format!("<table id=\"{id}\">\n");
    for (k, v) in rows {
        let _ = writeln!(
            t,
            "<tr><th>{}</th><td class=\"v\">{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    t.push_str("</table>\n");
    t
}

/// Writes the page to `path` atomically.
///
/// # Errors
/// `Write` when the file cannot be written.
pub fn write_page(path: &Path, page: &Page) -> Result<()> {
    crate::io::atomic::write_file(path, render_page(page).as_bytes())
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: "chart".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// A bar chart: one bar per (label, value, colour), an optional dashed
/// threshold line with its label; `unit` names the axis.
///
/// # Errors
/// `Write` when plotters fails to draw (an internal error).
pub fn bar_chart(
    bars: &[(String, f64, [u8; 3])],
    threshold: Option<(f64, &str)>,
    unit: &str,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (460, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = bars
            .iter()
            .map(|b| b.1)
            .chain(threshold.map(|t| t.0))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.15;
        let n = bars.len().max(1);
        // Bar i spans [i, i + 1) on the x axis, labelled at its centre.
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)
            .map_err(chart_error)?;
        let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(unit)
            .x_labels(2 * n + 1)
            .x_label_formatter(&|x| {
                let centre = x - 0.5;
                let i = centre.round();
                if (centre - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, [r, g, b]))| {
                let x = i as f64;
                Rectangle::new([(x + 0.15, 0.0), (x + 0.85, *v)], RGBColor(*r, *g, *b).filled())
            }))
            .map_err(chart_error)?;
        if let Some((t, label)) = threshold {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, t), (n as f64, t)],
                    BLACK.stroke_width(2),
                )))
                .map_err(chart_error)?
                .label(label.to_string())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A histogram of margins `values` (mm) in 1 mm bins from the smallest to
/// the largest value (at least −5 to 15 mm), with vertical lines at
/// `lines`: bins below 0 in red, below `required_mm` in amber, the rest in
/// green.
///
/// # Errors
/// `Write` when plotters fails to draw (an internal error).
pub fn histogram_mm(values: &[f64], lines: &[f64], required_mm: f64, x_desc: &str) -> Result<String> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(-5.0f64, f64::min).floor() as i32;
    let hi = finite.iter().copied().fold(15.0f64, f64::max).ceil() as i32;
    let mut counts = vec![0u32; (hi - lo).max(1) as usize];
    for v in &finite {
        let i = ((v.floor() as i32) - lo).clamp(0, counts.len() as i32 - 1) as usize;
        counts[i] += 1;
    }
    let total = finite.len().max(1) as f64;
    let top = counts.iter().copied().max().unwrap_or(0) as f64 / total * 100.0 * 1.15 + 1e-9;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (460, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(lo as f64..hi as f64, 0.0..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_desc)
            .y_desc("% of surface voxels")
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = (lo + i as i32) as f64;
                let [r, g, b] = if x0 < 0.0 {
                    FAIL_RGB
                } else if x0 < required_mm {
                    SHORT_RGB
                } else {
                    PASS_RGB
                };
                let colour = RGBColor(r, g, b);
                Rectangle::new([(x0, 0.0), (x0 + 1.0, c as f64 / total * 100.0)], colour.filled())
            }))
            .map_err(chart_error)?;
        for &x in lines {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, top)],
                    BLACK.stroke_width(1),
                )))
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::structure::Structure;

    #[test]
    fn text_is_escaped_and_the_page_loads_nothing() {
        let page = Page {
            command: "remnant".into(),
            title: "<script>alert(1)</script>".into(),
            inputs: vec!["a&b.nii.gz".into()],
            verdict: Some(("SUFFICIENT: \"ok\"".into(), Tone::Pass)),
            numbers: vec![("FLR".into(), "30.0 %".into())],
            figures: vec![Figure {
                caption: "Axial".into(),
                png: vec![1, 2, 3],
            }],
            legend: vec![(Structure::Remnant.label().into(), Structure::Remnant.rgb())],
            charts: vec![Chart {
                title: "Bars".into(),
                svg: bar_chart(
                    &[("S2".into(), 100.0, [1, 2, 3])],
                    Some((50.0, "threshold")),
                    "mL",
                )
                .unwrap(),
            }],
            ..Page::default()
        };
        let html = render_page(&page);
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;") && html.contains("a&amp;b.nii.gz"));
        assert!(html.contains("data:image/png;base64,AQID"));
        assert!(html.contains("class=\"verdict pass\""));
        // (The SVG's xmlns names a namespace; it loads nothing.)
        for bad in ["src=\"http", "href=", "src=\"/", "url("] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert!(html.contains("<svg"));
    }
}
