//! PNG figures of line panels (the comparison grid's curves, weight trajectories and score
//! distributions), drawn with `plotters`: each series is a mean line with a shaded band of
//! +/- one standard deviation.

use crate::error::ExperimentError;
use plotters::prelude::*;
use std::path::Path;

/// One curve: points `(x, mean, std)`, sorted by x.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, mean, std)`.
    pub points: Vec<(f64, f64, f64)>,
}

/// One chart of a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// The curves; a series keeps its colour by its index across panels.
    pub series: Vec<Series>,
}

/// The colour of series `k` (the same in every panel of a figure).
pub fn colour(k: usize) -> RGBColor {
    // Tableau's 10, then two more: the fair test draws up to 11 arms in one panel.
    const C: [RGBColor; 12] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(0, 0, 0),
        RGBColor(255, 215, 0),
    ];
    C[k % C.len()]
}

/// The axis range of data in `[lo, hi]`, with `top` of the span left free above it (for
/// the legend).
fn range(lo: f64, hi: f64, top: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return 0.0..1.0;
    }
    let span = if hi - lo < 1e-12 {
        (lo.abs() * 0.2).max(0.1)
    } else {
        hi - lo
    };
    let (lo, hi) = if hi - lo < 1e-12 {
        (lo - span / 2.0, hi + span / 2.0)
    } else {
        (lo, hi)
    };
    (lo - span * 0.05)..(hi + span * (0.05 + top))
}

/// Tick labels: integers without decimals, other values with up to three significant
/// decimals.
fn tick(x: &f64) -> String {
    if x.fract().abs() < 1e-9 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}").trim_end_matches('0').to_string()
    }
}

/// A plotting error as the harness reports it.
pub(crate) fn err(e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Plot(e.to_string())
}

/// A drawing area of a PNG figure.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A white figure at `path` titled `title` (`font` px), split into `n` panels of
/// `cell_size` in rows of `cols` (40 px more for the title): the figure (to present when
/// drawn) and its panels' drawing areas.
#[allow(clippy::type_complexity)]
pub(crate) fn panel_grid<'a>(
    path: &'a Path,
    title: &str,
    font: u32,
    n: usize,
    cols: usize,
    cell_size: (u32, u32),
) -> Result<(Area<'a>, Vec<Area<'a>>), ExperimentError> {
    let cols = cols.max(1);
    let rows = n.div_ceil(cols).max(1);
    let size = (cell_size.0 * cols as u32, cell_size.1 * rows as u32 + 40);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let titled = root.titled(title, ("sans-serif", font)).map_err(err)?;
    let areas = titled.split_evenly((rows, cols));
    Ok((root, areas))
}

/// Draws `panels` on a `rows` x `cols` grid (`None` leaves a cell empty; a panel with
/// no points says so) under `title`, and writes a PNG of `cell_size` per panel to `path`.
pub fn panels_png(
    path: &Path,
    title: &str,
    panels: &[Option<Panel>],
    cols: usize,
    cell_size: (u32, u32),
) -> Result<(), ExperimentError> {
    let (root, areas) = panel_grid(path, title, 26, panels.len(), cols, cell_size)?;
    for (area, panel) in areas.iter().zip(panels) {
        let Some(p) = panel else { continue };
        let pts = p.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, m, sd) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(m - sd);
            y1 = y1.max(m + sd);
        }
        let mut chart = ChartBuilder::on(area)
            .caption(&p.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                range(x0, x1, 0.0),
                range(y0, y1, 0.12 + 0.09 * p.series.len() as f64),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(p.x_label.as_str())
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_desc(p.y_label.as_str())
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        if p.series.iter().all(|s| s.points.is_empty()) {
            continue;
        }
        for (k, s) in p.series.iter().enumerate() {
            let c = colour(k);
            if s.points.iter().any(|p| p.2 > 0.0) {
                let band: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|&(x, m, sd)| (x, m + sd))
                    .chain(s.points.iter().rev().map(|&(x, m, sd)| (x, m - sd)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                    .map_err(err)?;
            }
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|&(x, m, _)| (x, m)),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.5))
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(|e| {
        ExperimentError::Plot(format!(
            "{}: {e} (is the directory writable?)",
            path.display()
        ))
    })
}

/// Mean and (population) standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

/// A normalised histogram of `xs` over `bins` equal bins of `[lo, hi]` as a series of
/// `(bin centre, fraction of xs in the bin, 0)`.
pub fn histogram(label: &str, xs: &[f64], lo: f64, hi: f64, bins: usize) -> Series {
    let bins = bins.max(1);
    let w = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for &x in xs.iter().filter(|x| x.is_finite()) {
        let b = (((x - lo) / w).floor().max(0.0) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let n = xs.len().max(1) as f64;
    Series {
        label: label.to_string(),
        points: counts
            .iter()
            .enumerate()
            .map(|(b, &c)| (lo + (b as f64 + 0.5) * w, c as f64 / n, 0.0))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_fractions_and_clamps_the_ends() {
        let s = histogram(
            "h",
            &[0.0, 0.1, 0.26, 0.5, 0.99, 1.0, 7.0, -1.0],
            0.0,
            1.0,
            4,
        );
        let fr: Vec<f64> = s.points.iter().map(|p| p.1).collect();
        // [0,.25): 0.0, 0.1, -1.0 (clamped); [.25,.5): 0.26; [.5,.75): 0.5; [.75,1]: .99, 1, 7.
        assert_eq!(fr, [3.0 / 8.0, 1.0 / 8.0, 1.0 / 8.0, 3.0 / 8.0]);
        assert_eq!(s.points[0].0, 0.125);
    }

    #[test]
    fn a_figure_is_a_png_of_the_asked_size_with_something_drawn() {
        let dir = std::env::temp_dir().join(format!("fastrl-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.png");
        let s = |k: f64| Series {
            label: format!("s{k}"),
            points: (0..10).map(|i| (i as f64, k * i as f64, 0.5)).collect(),
        };
        let p = Panel {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![s(1.0), s(2.0)],
        };
        panels_png(
            &path,
            "fig",
            &[Some(p.clone()), None, Some(p)],
            2,
            (300, 200),
        )
        .unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (600, 440));
        // The pixels of series k's colour in the panel at (x0, y0), 300 x 200 below the
        // 40-pixel title.
        let of = |k: usize, x0: u32, y0: u32| -> Vec<(u32, u32)> {
            let c = colour(k);
            (x0..x0 + 300)
                .flat_map(|x| (y0..y0 + 200).map(move |y| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0 == [c.0, c.1, c.2])
                .collect()
        };
        for (x0, y0) in [(0, 40), (0, 240)] {
            for k in 0..2 {
                let n = of(k, x0, y0).len();
                assert!(n > 50, "series {k} at ({x0}, {y0}): {n} pixels");
            }
            // In two columns left of the legend: both lines rise, and series 1 (slope 2)
            // lies above series 0 (slope 1).
            let y_at = |k: usize, x: u32| -> u32 {
                let ys: Vec<u32> = of(k, x0, y0)
                    .into_iter()
                    .filter(|p| p.0 == x)
                    .map(|p| p.1)
                    .collect();
                assert!(!ys.is_empty(), "series {k} has no pixel in column {x}");
                ys.iter().sum::<u32>() / ys.len() as u32
            };
            let (a, b) = (x0 + 110, x0 + 190);
            for k in 0..2 {
                assert!(y_at(k, b) < y_at(k, a), "series {k} does not rise");
            }
            assert!(y_at(1, b) < y_at(0, b), "{} vs {}", y_at(1, b), y_at(0, b));
        }
        // The empty cell (top right) is white.
        for x in 300..600 {
            for y in 40..240 {
                assert_eq!(img.get_pixel(x, y).0, [255, 255, 255], "({x}, {y})");
            }
        }
        let e = panels_png(&dir.join("no/such/dir/f.png"), "x", &[], 1, (10, 10)).unwrap_err();
        assert!(e.to_string().contains("no/such/dir"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
