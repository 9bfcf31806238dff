//! PNG figures of intervals by category (the fair test's final z per arm with seed-level
//! intervals): per panel, one dot per category at its estimate with a vertical bar over
//! its interval, and a line at 0.

use crate::error::ExperimentError;
use crate::plot::{colour, err, panel_grid};
use fastrl_trainer::eval::bootstrap::Interval;
use plotters::prelude::*;
use std::path::Path;

/// One chart: a value with its interval per category.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalPanel {
    /// Caption.
    pub title: String,
    /// Y axis description.
    pub y_label: String,
    /// `(category, interval)`; a category keeps its colour by its index across panels.
    pub values: Vec<(String, Interval)>,
}

/// Draws `panels` on a grid of `cols` columns under `title` into a PNG of `cell_size`
/// per panel at `path`. An unbounded end (one seed) is drawn to the panel's edge; a
/// value that is not finite is left out.
pub fn intervals_png(
    path: &Path,
    title: &str,
    panels: &[IntervalPanel],
    cols: usize,
    cell_size: (u32, u32),
) -> Result<(), ExperimentError> {
    let (root, areas) = panel_grid(path, title, 24, panels.len(), cols, cell_size)?;
    for (area, p) in areas.iter().zip(panels) {
        let finite = |x: f64| x.is_finite().then_some(x);
        let ys = p
            .values
            .iter()
            .flat_map(|(_, iv)| [iv.estimate, iv.lo, iv.hi])
            .filter_map(finite);
        let (lo, hi) = ys.fold((0.0f64, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
        let pad = ((hi - lo) * 0.08).max(0.02);
        let (y0, y1) = (lo - pad, hi + pad);
        let k = p.values.len().max(1);
        let labels: Vec<String> = p.values.iter().map(|(c, _)| c.clone()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(&p.title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..(k as f64 - 0.5), y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(k)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(p.y_label.as_str())
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (k as f64 - 0.5, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            )))
            .map_err(err)?;
        for (i, (_, iv)) in p.values.iter().enumerate() {
            let Some(m) = finite(iv.estimate) else {
                continue;
            };
            let c = colour(i);
            let x = i as f64;
            let clip = |v: f64| if v.is_finite() { v } else { v.clamp(y0, y1) };
            if !(iv.lo.is_nan() || iv.hi.is_nan()) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, clip(iv.lo)), (x, clip(iv.hi))],
                        c.stroke_width(3),
                    )))
                    .map_err(err)?;
                for end in [iv.lo, iv.hi].into_iter().filter(|v| v.is_finite()) {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x - 0.15, end), (x + 0.15, end)],
                            c.stroke_width(2),
                        )))
                        .map_err(err)?;
                }
            }
            chart
                .draw_series(std::iter::once(Circle::new((x, m), 5, c.filled())))
                .map_err(err)?;
        }
    }
    root.present().map_err(|e| {
        ExperimentError::Plot(format!(
            "{}: {e} (is the directory writable?)",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_is_drawn_in_its_colour_at_its_height() {
        let dir = std::env::temp_dir().join(format!("fastrl-ivplot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.png");
        let iv = |m: f64, h: f64| Interval {
            estimate: m,
            lo: m - h,
            hi: m + h,
        };
        let p = IntervalPanel {
            title: "t".into(),
            y_label: "z".into(),
            values: vec![
                ("A".into(), iv(-0.5, 0.1)),
                ("B".into(), iv(1.0, 0.3)),
                (
                    "C".into(),
                    Interval {
                        estimate: 0.2,
                        lo: f64::NEG_INFINITY,
                        hi: f64::INFINITY,
                    },
                ),
            ],
        };
        intervals_png(&path, "fig", &[p], 1, (400, 300)).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (400, 340));
        let pixels = |k: usize| -> Vec<(u32, u32)> {
            let c = colour(k);
            img.enumerate_pixels()
                .filter(|(_, _, p)| p.0 == [c.0, c.1, c.2])
                .map(|(x, y, _)| (x, y))
                .collect()
        };
        let (a, b, c) = (pixels(0), pixels(1), pixels(2));
        assert!(a.len() > 20 && b.len() > 20 && c.len() > 20);
        let mid = |v: &[(u32, u32)]| {
            let n = v.len() as u32;
            (
                v.iter().map(|p| p.0).sum::<u32>() / n,
                v.iter().map(|p| p.1).sum::<u32>() / n,
            )
        };
        let (ma, mb, mc) = (mid(&a), mid(&b), mid(&c));
        // Left to right in order; B (higher) drawn above A (smaller y on screen).
        assert!(ma.0 < mb.0 && mb.0 < mc.0, "{ma:?} {mb:?} {mc:?}");
        assert!(mb.1 < ma.1, "{ma:?} {mb:?}");
        // B's bar spans 0.6 z, A's 0.2 z: B's is taller.
        let height = |v: &[(u32, u32)]| {
            v.iter().map(|p| p.1).max().unwrap() - v.iter().map(|p| p.1).min().unwrap()
        };
        assert!(height(&b) > 2 * height(&a), "{} {}", height(&b), height(&a));
        // C's unbounded interval runs over most of the panel.
        assert!(height(&c) > 200, "{}", height(&c));
        std::fs::remove_dir_all(&dir).ok();
    }
}
