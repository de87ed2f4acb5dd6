//! The report's charts, drawn by `plotters` into SVG text (its SVG backend only: no fonts or
//! bitmaps from the system; text is left to the browser as `<text>`). The invariant: a chart
//! shows the figures it is given and nothing else — an unknown value (no FX rate, a retention
//! day not reached) is a gap or an empty cell, never drawn as 0. Values become `f64` here only
//! to be placed on screen; every figure printed beside a chart comes from the exact decimals.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::events::{Day, format_day};

/// A chart that could not be drawn (a bug, not bad input; not retryable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drawing the chart {title:?}: {message}")]
pub struct ChartError {
    /// The chart's title.
    pub title: String,
    /// What plotters said.
    pub message: String,
}

/// One line of a line chart: a value per day, None where unknown (drawn as a gap).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points in day order.
    pub points: Vec<(Day, Option<f64>)>,
}

/// A heat map cell: its value (for the colour) and its text; None leaves the cell empty.
pub type Cell = Option<(f64, String)>;

/// A heat map row: its label and its cells.
pub type HeatRow = (String, Vec<Cell>);

/// Colours of the series, in order.
const PALETTE: [RGBColor; 8] = [
    RGBColor(37, 99, 235),
    RGBColor(220, 38, 38),
    RGBColor(22, 163, 74),
    RGBColor(217, 119, 6),
    RGBColor(124, 58, 237),
    RGBColor(8, 145, 178),
    RGBColor(219, 39, 119),
    RGBColor(82, 82, 91),
];

fn color(i: usize) -> RGBColor {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or(BLACK)
}

const FONT: &str = "sans-serif";
/// Width and height of the line and bar charts (two fit side by side on a laptop screen).
const SIZE: (u32, u32) = (640, 280);
const GRID: RGBColor = RGBColor(230, 230, 230);

/// What a drawing step returns (the SVG backend's errors are I/O errors).
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws into an SVG string; any plotters error becomes a [`ChartError`].
fn svg(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Drawn,
) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let err = |m: String| ChartError { title: title.to_string(), message: m };
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        draw(root.clone()).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(out)
}

/// `MM-DD` of a day (axis labels).
/// The look every chart with axes shares: its caption, margin and label areas.
fn with_axes<'c, 'a, 'b, DB: DrawingBackend>(
    builder: &'c mut ChartBuilder<'a, 'b, DB>,
    title: &str,
) -> &'c mut ChartBuilder<'a, 'b, DB> {
    builder.caption(title, (FONT, 16)).margin(10).x_label_area_size(28).y_label_area_size(64)
}

/// The top of a value axis: 10 % above the largest value (1 when there is none above 0), and
/// never below `min_top`.
fn axis_top(values: impl Iterator<Item = f64>, min_top: f64) -> f64 {
    let top = values.fold(0.0_f64, f64::max);
    if top > 0.0 { top * 1.1 } else { 1.0 }.max(min_top)
}

fn short_day(day: Day) -> String {
    format_day(day).get(5..).unwrap_or_default().to_string()
}

/// A line chart of daily values; `y_format` writes the axis labels.
/// `min_top` is the least top of the y axis (5 for small counts, so ticks stay whole numbers).
pub fn line_chart(
    title: &str,
    series: &[Series],
    y_format: &dyn Fn(&f64) -> String,
    min_top: f64,
) -> Result<String, ChartError> {
    let days = series.iter().flat_map(|s| s.points.iter().map(|(d, _)| *d));
    let (lo, hi) = days.fold((Day::MAX, Day::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    let (lo, hi) = if lo > hi { (0, 1) } else { (lo, hi.max(lo + 1)) };
    let top = axis_top(series.iter().flat_map(|s| s.points.iter().filter_map(|(_, v)| *v)), min_top);
    svg(title, SIZE, |root| {
        let mut chart =
            with_axes(&mut ChartBuilder::on(&root), title).build_cartesian_2d(lo..hi, 0.0..top)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|d| short_day(*d))
            .y_label_formatter(y_format)
            .label_style((FONT, 11))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let style = ShapeStyle::from(color(i)).stroke_width(2);
            let mut labelled = false;
            for run in s.points.split(|(_, v)| v.is_none()).filter(|r| !r.is_empty()) {
                let pts: Vec<(Day, f64)> = run.iter().filter_map(|(d, v)| v.map(|v| (*d, v))).collect();
                let drawn = if pts.len() == 1 {
                    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, style.filled())))?
                } else {
                    chart.draw_series(LineSeries::new(pts, style))?
                };
                if !labelled {
                    labelled = true;
                    let c = color(i);
                    drawn
                        .label(s.name.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
                }
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(GRID)
                .label_font((FONT, 11))
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }
        Ok(())
    })
}

/// A heat map: one row per label, one cell per column; None cells are left empty. Cells show
/// their text; the colour follows the value (0–`scale`).
pub fn heat_map(title: &str, columns: &[&str], rows: &[HeatRow], scale: f64) -> Result<String, ChartError> {
    let (nc, nr) = (columns.len().max(1) as u32, rows.len().max(1) as u32);
    let height = (80 + 24 * nr).max(200);
    svg(title, (130 + 120 * nc, height), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(90)
            // plotters' integer ranges include their end: 0..n-1 is n segments
            .build_cartesian_2d((0..nc - 1).into_segmented(), (0..nr - 1).into_segmented())?;
        let column = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(c) => {
                columns.get(*c as usize).map(|s| (*s).to_string()).unwrap_or_default()
            }
            _ => String::new(),
        };
        // Row 0 is drawn at the top.
        let row = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(r) => {
                rows.get((nr - 1).saturating_sub(*r) as usize).map(|(l, _)| l.clone()).unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            // (not disable_mesh(): plotters 0.3.7 loops on a segmented axis without key points)
            .light_line_style(WHITE)
            .bold_line_style(WHITE)
            .x_labels(nc as usize)
            .y_labels(nr as usize)
            .x_label_formatter(&column)
            .y_label_formatter(&row)
            .label_style((FONT, 11))
            .draw()?;
        let cells = rows.iter().enumerate().flat_map(|(r, (_, cells))| {
            let y = nr - 1 - r as u32;
            cells.iter().enumerate().filter_map(move |(c, cell)| cell.as_ref().map(|v| (c as u32, y, v)))
        });
        let cells: Vec<_> = cells.collect();
        chart.draw_series(cells.iter().map(|(x, y, (v, _))| {
            let t = if scale > 0.0 { (v / scale).clamp(0.0, 1.0) } else { 0.0 };
            let shade = |lo: f64, hi: f64| (lo + (hi - lo) * t).round().clamp(0.0, 255.0) as u8;
            let fill = RGBColor(shade(239.0, 30.0), shade(246.0, 64.0), shade(255.0, 175.0));
            Rectangle::new(
                [
                    (SegmentValue::Exact(*x), SegmentValue::Exact(*y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                fill.filled(),
            )
        }))?;
        chart.draw_series(cells.iter().map(|(x, y, (v, text))| {
            let ink: &'static RGBColor = if scale > 0.0 && v / scale > 0.55 { &WHITE } else { &BLACK };
            let style =
                TextStyle::from((FONT, 11).into_font()).color(ink).pos(Pos::new(HPos::Center, VPos::Center));
            Text::new(text.clone(), (SegmentValue::CenterOf(*x), SegmentValue::CenterOf(*y)), style)
        }))?;
        Ok(())
    })
}

/// A bar chart: one bar per label.
pub fn bars(
    title: &str,
    labels: &[String],
    values: &[f64],
    y_format: &dyn Fn(&f64) -> String,
    min_top: f64,
) -> Result<String, ChartError> {
    let n = labels.len().max(1) as u32;
    let top = axis_top(values.iter().copied(), min_top);
    svg(title, SIZE, |root| {
        let mut chart = with_axes(&mut ChartBuilder::on(&root), title)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
        let label = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_labels(labels.len().clamp(1, 25))
            .y_labels(6)
            .x_label_formatter(&label)
            .y_label_formatter(y_format)
            .label_style((FONT, 11))
            .draw()?;
        // a gap between bars of at most 3 px, less when the bars are narrow (never a negative width)
        let gap = (SIZE.0 / n / 5).min(3);
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let i = i as u32;
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                color(0).mix(0.85).filled(),
            );
            bar.set_margin(0, 0, gap, gap);
            bar
        }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, what: &str) -> usize {
        svg.matches(what).count()
    }

    #[test]
    fn a_line_chart_draws_every_known_point_and_leaves_gaps() {
        let s = Series {
            name: "revenue".into(),
            points: vec![(0, Some(1.0)), (1, None), (2, Some(3.0)), (3, Some(2.0))],
        };
        let svg = line_chart("Revenue", &[s], &|v| format!("{v:.2}"), 0.0).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Revenue"));
        // one dot for the lone first day, one polyline for days 2-3
        assert_eq!(count(&svg, "<circle"), 1, "{svg}");
        // the run of days 2-3 is one line in the series' colour
        assert_eq!(count(&svg, "stroke=\"#2563EB\" stroke-width=\"2\" points="), 1, "{svg}");
    }

    #[test]
    fn a_heat_map_fills_only_known_cells() {
        let rows = vec![
            (
                "10-01".to_string(),
                vec![Some((75.0, "75.00".to_string())), Some((50.0, "50.00".into())), None],
            ),
            ("10-02".to_string(), vec![Some((50.0, "50.00".to_string())), None, None]),
        ];
        let svg = heat_map("Retention", &["D1", "D7", "D30"], &rows, 100.0).unwrap();
        for text in ["75.00", "50.00", "D30", "10-02"] {
            assert!(svg.contains(text), "{text}");
        }
        assert_eq!(count(&svg, "50.00"), 2);
    }

    #[test]
    fn bars_have_one_rect_per_value() {
        let svg = bars(
            "Funnel",
            &["1".into(), "2".into(), "3".into()],
            &[4.0, 3.0, 1.0],
            &|v| format!("{v:.0}"),
            5.0,
        )
        .unwrap();
        // the background plus three bars
        assert!(count(&svg, "<rect") >= 4, "{svg}");
        assert!(svg.contains("Funnel"));
    }
}
