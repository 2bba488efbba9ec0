//! ROC and DET plots (PNG and SVG) with plotters, shared by every benchmark.

use keyprint_core::eval::{Roc, probit};
use plotters::prelude::*;
use std::path::Path;

/// One labelled curve.
pub struct Curve<'a> {
    /// Legend label.
    pub label: String,
    /// The curve (a pooled or a representative ROC).
    pub roc: &'a Roc,
}

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans.LICENSE`), so plots need no system fonts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Only fails on a malformed font, which the bundled one is not.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

const TICKS: [f64; 9] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    curves: &[Curve<'_>],
    det: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (lo, hi) = if det {
        (probit(0.0005), probit(0.5))
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let fmt = move |v: &f64| {
        if det {
            format!("{:.1}%", 100.0 * normal_cdf(*v))
        } else {
            format!("{v:.1}")
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(if det { "FMR (false match rate)" } else { "FMR" })
        .y_desc(if det {
            "FNMR (false non-match rate)"
        } else {
            "1 - FNMR"
        })
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt);
    mesh.draw().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if det {
        for t in TICKS {
            let p = probit(t);
            chart
                .draw_series(LineSeries::new([(p, lo), (p, hi)], RGBColor(230, 230, 230)))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
    }
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = c
            .roc
            .points
            .iter()
            .map(|p| {
                if det {
                    (probit(p.fmr), probit(p.fnmr))
                } else {
                    (p.fmr, 1.0 - p.fnmr)
                }
            })
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .label(&c.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(if det {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::LowerRight
        })
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn normal_cdf(z: f64) -> f64 {
    // Abramowitz–Stegun 7.1.26 via erf; enough for axis labels.
    let t = 1.0 / (1.0 + 0.3275911 * z.abs() / std::f64::consts::SQRT_2);
    let y = 1.0
        - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
            + 0.254829592)
            * t
            * (-(z * z) / 2.0).exp();
    if z >= 0.0 {
        0.5 * (1.0 + y)
    } else {
        0.5 * (1.0 - y)
    }
}

/// Writes `<stem>-det.png`, `<stem>-det.svg`, `<stem>-roc.png`, `<stem>-roc.svg` into `dir`.
///
/// # Errors
/// When a file cannot be written.
pub fn write_curves(
    dir: &Path,
    stem: &str,
    title: &str,
    curves: &[Curve<'_>],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    register_font();
    for det in [true, false] {
        let kind = if det { "det" } else { "roc" };
        let t = format!("{title} ({})", kind.to_uppercase());
        let png = dir.join(format!("{stem}-{kind}.png"));
        draw(
            BitMapBackend::new(&png, (900, 700)).into_drawing_area(),
            &t,
            curves,
            det,
        )?;
        let svg = dir.join(format!("{stem}-{kind}.svg"));
        draw(
            SVGBackend::new(&svg, (900, 700)).into_drawing_area(),
            &t,
            curves,
            det,
        )?;
    }
    Ok(())
}
