//! Chart shapes the figures share: grouped bars with error bars, CDFs, and the
//! palette. Kept apart from the figures so that every figure looks alike (same
//! fonts, colours, legend placement) and each figure function only says what data
//! goes where.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What a figure function returns; plotters' errors carry the backend's type, so
/// they are boxed here and turned into `anyhow` by the caller.
pub type DrawResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub const FONT: &str = "sans-serif";

/// Colour-blind-safe qualitative palette (Okabe–Ito), cycled.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub const GRID: RGBColor = RGBColor(230, 230, 230);

/// Axis tick text without spurious digits: `9000`, `12.5`, `0.25`, `0.004`.
pub fn tick(v: &f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || *v == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A categorical x axis: group `i` is centred on `i`, bars of a group sit within
/// ±0.4 of it, and the axis labels are the group names (plotters' own category
/// axis cannot place several bars side by side within one category).
pub struct Groups(pub Vec<String>);

impl Ranged for Groups {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let r = self.range();
        let f = (v - r.start) / (r.end - r.start);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.0.len()).map(|i| i as f64).collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.0.len().max(1) as f64 - 0.5
    }
}

impl ValueFormatter<f64> for Groups {
    fn format_ext(&self, v: &f64) -> String {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            self.0.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// One bar of a grouped bar chart: the value, the whisker ends, the sample count
/// written above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: u64,
}

/// One series of a grouped bar chart: a value per group (`None`: no samples).
pub struct BarSeries {
    pub label: String,
    pub bars: Vec<Option<Bar>>,
}

/// How bars are drawn: filled bars from zero, or points (offsets, where a bar from
/// zero would suggest a quantity that is not there).
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum BarStyle {
    Bars,
    Points,
}

/// Grouped bars (groups along x, one bar per series in each group) with whiskers
/// from `lo` to `hi` and `n=` above each whisker. An empty chart says so in its
/// middle instead of drawing empty axes alone.
#[allow(clippy::too_many_arguments)]
pub fn grouped_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    groups: &[String],
    series: &[BarSeries],
    style: BarStyle,
    whisker_note: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let values = series
        .iter()
        .flat_map(|s| s.bars.iter().flatten())
        .flat_map(|b| [b.value, b.lo, b.hi]);
    let (lo, hi) = padded_range(values, style == BarStyle::Bars);
    let n = groups.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(Groups(groups.to_vec()), lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .y_label_formatter(&tick)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;
    if lo < 0.0 && hi > 0.0 {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
            BLACK.stroke_width(1),
        )))?;
    }
    let k = series.len().max(1);
    let width = 0.8 / k as f64;
    let count_style = TextStyle::from((FONT, 12).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for (j, s) in series.iter().enumerate() {
        let c = color(j);
        let centre = |g: usize| g as f64 - 0.4 + width * (j as f64 + 0.5);
        let bars: Vec<(usize, Bar)> = s
            .bars
            .iter()
            .enumerate()
            .filter_map(|(g, b)| b.map(|b| (g, b)))
            .collect();
        let legend =
            move |(x, y): (i32, i32)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled());
        match style {
            BarStyle::Bars => {
                chart
                    .draw_series(bars.iter().map(|&(g, b)| {
                        let x = centre(g);
                        Rectangle::new(
                            [(x - width * 0.45, 0.0), (x + width * 0.45, b.value)],
                            c.filled(),
                        )
                    }))?
                    .label(s.label.clone())
                    .legend(legend);
            }
            BarStyle::Points => {
                chart
                    .draw_series(
                        bars.iter()
                            .map(|&(g, b)| Circle::new((centre(g), b.value), 6, c.filled())),
                    )?
                    .label(s.label.clone())
                    .legend(legend);
            }
        }
        // Whiskers: a vertical line with caps, darker than the bar.
        let dark = BLACK.stroke_width(2);
        for &(g, b) in &bars {
            let x = centre(g);
            let cap = width * 0.15;
            chart.draw_series([
                PathElement::new(vec![(x, b.lo), (x, b.hi)], dark),
                PathElement::new(vec![(x - cap, b.lo), (x + cap, b.lo)], dark),
                PathElement::new(vec![(x - cap, b.hi), (x + cap, b.hi)], dark),
            ])?;
            // A few pixels above the whisker (or the point), never on it.
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, b.hi.max(b.value)))
                    + Text::new(format!("n={}", b.n), (0, -8), count_style.clone()),
            ))?;
        }
    }
    if series.iter().all(|s| s.bars.iter().all(Option::is_none)) {
        no_samples(root)?;
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 14))
            .draw()?;
    }
    if !whisker_note.is_empty() {
        root.draw(&Text::new(
            whisker_note.to_string(),
            (16, root.dim_in_pixel().1 as i32 - 6),
            TextStyle::from((FONT, 12).into_font())
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))?;
    }
    Ok(())
}

/// "no samples" in the middle of an area.
pub fn no_samples<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        "no samples in these captures".to_string(),
        (w as i32 / 2, h as i32 / 2),
        TextStyle::from((FONT, 18).into_font())
            .color(&RGBColor(150, 0, 0))
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

/// Axis range covering the values with 12% headroom on top (room for `n=` and the
/// legend); bars always include zero.
pub fn padded_range(values: impl Iterator<Item = f64>, with_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let span = (hi - lo).max(hi.abs() * 0.1).max(1e-9);
    let lo = if with_zero && lo >= 0.0 {
        0.0
    } else {
        lo - span * 0.08
    };
    (lo, hi + span * 0.25)
}

/// At most `points` (value, fraction ≤ value) pairs of the empirical CDF of
/// `values`, as a step line: every sample is in it when there are few, evenly
/// spaced quantiles when there are many (an SVG of 10⁵ points helps no one).
pub fn cdf_points(values: &[f64], points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let idx: Vec<usize> = if n <= points {
        (0..n).collect()
    } else {
        let mut i: Vec<usize> = (0..points).map(|k| k * (n - 1) / (points - 1)).collect();
        i.dedup();
        i
    };
    let mut out = Vec::with_capacity(idx.len() * 2 + 1);
    out.push((v[0], 0.0));
    for i in idx {
        let before = i as f64 / n as f64;
        let after = (i + 1) as f64 / n as f64;
        out.push((v[i], before));
        out.push((v[i], after));
    }
    out
}

/// CDF lines, one per labelled sample set, each labelled with its `n`.
pub fn cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    lines: &[(String, Vec<f64>)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let all = lines.iter().flat_map(|(_, v)| v.iter().copied());
    let (lo, hi) = padded_range(all, false);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(lo..hi, 0f64..1.02)?;
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .x_desc(x_desc)
        .y_desc("fraction of samples ≤ x")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;
    for (i, (label, values)) in lines.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(cdf_points(values, 400), c.stroke_width(2)))?
            .label(format!("{label} (n={})", values.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    if lines.iter().all(|(_, v)| v.is_empty()) {
        no_samples(root)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_of_few_values_is_a_full_step_line() {
        let p = cdf_points(&[3.0, 1.0, 2.0], 400);
        assert_eq!(
            p,
            [
                (1.0, 0.0),
                (1.0, 0.0),
                (1.0, 1.0 / 3.0),
                (2.0, 1.0 / 3.0),
                (2.0, 2.0 / 3.0),
                (3.0, 2.0 / 3.0),
                (3.0, 1.0)
            ]
        );
    }

    #[test]
    fn cdf_of_many_values_is_thinned_but_ends_at_one() {
        let v: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
        let p = cdf_points(&v, 400);
        assert!(p.len() <= 801);
        assert_eq!(p.last(), Some(&(99_999.0, 1.0)));
    }

    #[test]
    fn ticks_carry_no_spurious_digits() {
        assert_eq!(tick(&9000.0), "9000");
        assert_eq!(tick(&12.5), "12.5");
        assert_eq!(tick(&2.0), "2");
        assert_eq!(tick(&0.25), "0.25");
        assert_eq!(tick(&-0.015), "-0.015");
        assert_eq!(tick(&0.0), "0");
    }

    #[test]
    fn ranges_hold_their_values_and_bars_start_at_zero() {
        let (lo, hi) = padded_range([5.0, 10.0].into_iter(), true);
        assert_eq!(lo, 0.0);
        assert!(hi > 10.0);
        let (lo, hi) = padded_range([-5.0, 10.0].into_iter(), false);
        assert!(lo < -5.0 && hi > 10.0);
        assert_eq!(padded_range(std::iter::empty(), true), (0.0, 1.0));
    }
}
