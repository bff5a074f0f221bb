//! Hand-written inline SVG charts for `report.html`: grouped bars (linear, log, or ratio
//! scale), box plots on a log scale, and horizontal share bars. No script, no external resource: each chart is one `<svg>`.
//!
//! Kept by hand on purpose (the architecture review found it right): three chart shapes in a
//! few hundred lines of string formatting, where a plotting crate would bring a large
//! dependency tree, fonts or a raster back end, and output that changes with its versions. The
//! report must be one self-contained HTML file that reads the same in any browser, offline,
//! and diffs cleanly between runs; plain `<svg>` text does exactly that.

use std::fmt::Write as _;

/// Series colours (one per arm, in column order).
pub const PALETTE: [&str; 7] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
];

pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text for SVG or HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (at least 1).
pub fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= v {
            return step * power;
        }
    }
    10.0 * power
}

/// One bar: its value and whether the task failed on that arm.
#[derive(Debug, Clone, Copy)]
pub struct Bar {
    pub value: f64,
    pub failed: bool,
}

/// The value axis of a bar chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// From 0 to a round ceiling.
    Linear,
    /// Decades (log10), bars rising from the lowest decade: one arm tens of times above the
    /// others no longer flattens them.
    Log,
    /// Decades around 1 with a reference line there, bars rising above it or falling below
    /// it: ratios, where 2 and 0.5 are as far from 1.
    Ratio,
}

/// Grouped vertical bars: one group per category, one bar per series. A missing bar is `None`;
/// a failed one gets a red outline and a ✗ above it.
pub fn grouped_bars(
    title: &str,
    categories: &[String],
    series: &[(String, Vec<Option<Bar>>)],
    unit: &str,
) -> String {
    grouped_bars_on(title, categories, series, unit, Scale::Linear)
}

/// [`grouped_bars`] on the given value axis.
pub fn grouped_bars_on(
    title: &str,
    categories: &[String],
    series: &[(String, Vec<Option<Bar>>)],
    unit: &str,
    scale: Scale,
) -> String {
    let n = series.len().max(1);
    let bar_w = 12.0;
    let group_w = bar_w * n as f64 + 14.0;
    let (left, top, plot_h, bottom) = (64.0, 44.0, 220.0, 110.0);
    let width = (left + group_w * categories.len() as f64 + 20.0).max(480.0);
    let height = top + plot_h + bottom;
    let max = series
        .iter()
        .flat_map(|(_, bars)| bars.iter().flatten().map(|b| b.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let ymax = nice_ceiling(max);
    let values: Vec<(String, Vec<f64>)> = series
        .iter()
        .map(|(n, bars)| (n.clone(), bars.iter().flatten().map(|b| b.value).collect()))
        .collect();
    let (mut lo, mut hi) = log_bounds(&values);
    if scale == Scale::Ratio {
        // 1 is always on the axis: the reference the bars rise above or fall below.
        (lo, hi) = (lo.min(0.0), hi.max(0.0));
        if hi <= lo {
            hi = lo + 1.0;
        }
    }
    let plot = Plot {
        left,
        top,
        plot_h,
        width,
        ymax,
        scale,
        decades: (lo, hi),
    };
    let mut s = open(width, height, title);
    legend(&mut s, series.iter().map(|(name, _)| name.as_str()), left);
    match scale {
        Scale::Linear => linear_axis(&mut s, &plot, unit),
        Scale::Log | Scale::Ratio => log_axis(&mut s, &plot, unit),
    }
    for (c, category) in categories.iter().enumerate() {
        let gx = left + 8.0 + group_w * c as f64;
        for (k, (name, bars)) in series.iter().enumerate() {
            let Some(bar) = bars.get(c).copied().flatten() else {
                continue;
            };
            let x = gx + bar_w * k as f64;
            vertical_bar(
                &mut s,
                &plot,
                (x, bar_w),
                k,
                bar,
                &format!("{category} · {name}"),
            );
        }
        let lx = gx + group_w / 2.0 - 7.0;
        let ly = top + plot_h + 12.0;
        let _ = write!(
            s,
            r##"<text x="{lx:.1}" y="{ly:.1}" font-size="10" text-anchor="end" transform="rotate(-40 {lx:.1} {ly:.1})">{label}</text>"##,
            label = esc(&shorten(category, 24))
        );
    }
    s.push_str("</svg>");
    s
}

/// The plot area of a vertical-bar chart and its y scale: linear from 0 to `ymax`, or log10
/// over the `decades` (lowest, highest exponent).
struct Plot {
    left: f64,
    top: f64,
    plot_h: f64,
    width: f64,
    ymax: f64,
    scale: Scale,
    decades: (f64, f64),
}

impl Plot {
    fn y(&self, v: f64) -> f64 {
        let share = match self.scale {
            Scale::Linear => v / self.ymax,
            Scale::Log | Scale::Ratio => {
                let (lo, hi) = self.decades;
                let l = if v > 0.0 { v.log10().max(lo) } else { lo };
                (l - lo) / (hi - lo)
            }
        };
        self.top + self.plot_h - share * self.plot_h
    }

    /// Where bars start: 0, the lowest decade, or 1 for ratios.
    fn base(&self) -> f64 {
        match self.scale {
            Scale::Linear => 0.0,
            Scale::Log => 10f64.powf(self.decades.0),
            Scale::Ratio => 1.0,
        }
    }
}

/// Grid lines at each decade (and the reference line at 1 on a ratio axis), with the unit.
fn log_axis(s: &mut String, plot: &Plot, unit: &str) {
    let (lo, hi) = plot.decades;
    let mut p = lo;
    while p <= hi + 1e-9 {
        let v = 10f64.powf(p);
        let yy = plot.y(v);
        let stroke = if plot.scale == Scale::Ratio && p.abs() < 1e-9 {
            r##"#555" stroke-dasharray="4 3"##
        } else {
            "#ddd"
        };
        let label = if plot.scale == Scale::Ratio {
            // Decades as written: ×0.1, ×1, ×10.
            let decade = if v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{}", (v * 1e6).round() / 1e6)
            };
            format!("×{decade}")
        } else {
            tick_label(v)
        };
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}" stroke="{stroke}"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10">{label}</text>"##,
            left = plot.left,
            x2 = plot.width - 10.0,
            tx = plot.left - 4.0,
            ty = yy + 3.0,
            label = esc(&label),
        );
        p += 1.0;
    }
    let _ = write!(
        s,
        r##"<text x="12" y="{my:.1}" font-size="10" transform="rotate(-90 12 {my:.1})" text-anchor="middle">{unit} (log scale)</text>"##,
        my = plot.top + plot.plot_h / 2.0,
        unit = esc(unit)
    );
}

/// Grid lines with round tick labels, and the unit along the axis.
fn linear_axis(s: &mut String, plot: &Plot, unit: &str) {
    let Plot {
        left,
        top,
        plot_h,
        width,
        ymax,
        ..
    } = *plot;
    // Round ticks: 0.5 steps below 2·10^k, 0.2 steps below 1 or 5·10^k.
    let lead = ymax / 10f64.powf(ymax.log10().floor());
    let steps = if (lead - 2.0).abs() < 1e-9 { 4 } else { 5 };
    for i in 0..=steps {
        let v = ymax * f64::from(i) / f64::from(steps);
        let yy = plot.y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10">{label}</text>"##,
            x2 = width - 10.0,
            tx = left - 4.0,
            ty = yy + 3.0,
            label = esc(&tick_label(v)),
        );
    }
    let _ = write!(
        s,
        r##"<text x="12" y="{my:.1}" font-size="10" transform="rotate(-90 12 {my:.1})" text-anchor="middle">{unit}</text>"##,
        my = top + plot_h / 2.0,
        unit = esc(unit)
    );
}

/// One bar at `x` of width `bar_w` in series colour `k`; `what` names it in the tooltip.
fn vertical_bar(
    s: &mut String,
    plot: &Plot,
    (x, bar_w): (f64, f64),
    k: usize,
    bar: Bar,
    what: &str,
) {
    let v = if bar.value.is_finite() {
        bar.value
    } else {
        0.0
    };
    let (y_value, y_base) = (plot.y(v), plot.y(plot.base()));
    // A bar spans from its base to its value, upwards or (a ratio below 1) downwards.
    let (yy, h) = (y_value.min(y_base), (y_base - y_value).abs());
    let stroke = if bar.failed {
        r##" stroke="#d62728" stroke-width="2" fill-opacity="0.35""##
    } else {
        ""
    };
    let _ = write!(
        s,
        r##"<rect x="{x:.1}" y="{yy:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"{stroke}><title>{tip}</title></rect>"##,
        w = bar_w - 2.0,
        fill = color(k),
        tip = esc(&format!(
            "{what}: {}{}",
            tick_label(v),
            if bar.failed { " (FAILED)" } else { "" }
        )),
    );
    if bar.failed {
        let _ = write!(
            s,
            r##"<text x="{cx:.1}" y="{ty:.1}" font-size="11" fill="#d62728" text-anchor="middle" class="failed">✗</text>"##,
            cx = x + (bar_w - 2.0) / 2.0,
            ty = yy - 3.0
        );
    }
}

/// Box plots, one per series, on a log10 axis: whiskers at min and max, the box from the 25th
/// to the 75th percentile, a line at the median (nearest-rank quantiles over all samples).
pub fn box_plots(title: &str, series: &[(String, Vec<f64>)], unit: &str) -> String {
    let (left, top, plot_h, bottom) = (64.0, 44.0, 220.0, 40.0);
    let slot = 90.0;
    let width = (left + slot * series.len() as f64 + 20.0).max(480.0);
    let height = top + plot_h + bottom;
    let (lo, hi) = log_bounds(series);
    let y = |v: f64| {
        let l = v.max(10f64.powf(lo)).log10();
        top + plot_h - (l - lo) / (hi - lo) * plot_h
    };
    let mut s = open(width, height, title);
    let mut p = lo;
    while p <= hi {
        let v = 10f64.powf(p);
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10">{label}</text>"##,
            x2 = width - 10.0,
            tx = left - 4.0,
            ty = yy + 3.0,
            label = esc(&tick_label(v)),
        );
        p += 1.0;
    }
    let _ = write!(
        s,
        r##"<text x="12" y="{my:.1}" font-size="10" transform="rotate(-90 12 {my:.1})" text-anchor="middle">{unit} (log scale)</text>"##,
        my = top + plot_h / 2.0,
        unit = esc(unit)
    );
    for (k, (name, values)) in series.iter().enumerate() {
        let cx = left + slot * k as f64 + slot / 2.0;
        let _ = write!(
            s,
            r##"<text x="{cx:.1}" y="{ly:.1}" font-size="11" text-anchor="middle">{label}</text>"##,
            ly = top + plot_h + 16.0,
            label = esc(&shorten(name, 14))
        );
        box_glyph(&mut s, (k, name), values, cx, &y, unit);
    }
    s.push_str("</svg>");
    s
}

/// The decades the positive samples span on the log axis: (lowest, highest) exponent.
fn log_bounds(series: &[(String, Vec<f64>)]) -> (f64, f64) {
    let positive: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = positive
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let hi = positive
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .log10()
        .ceil();
    if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo, lo + 1.0)
    } else {
        (0.0, 1.0)
    }
}

/// One series' box and whiskers at `cx`, on the axis `y`.
fn box_glyph(
    s: &mut String,
    (k, name): (usize, &str),
    values: &[f64],
    cx: f64,
    y: &dyn Fn(f64) -> f64,
    unit: &str,
) {
    let mut sorted: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if sorted.is_empty() {
        return;
    }
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| crate::stats::quantile(&sorted, f);
    let (min, q1, med, q3, max) = (sorted[0], q(0.25), q(0.5), q(0.75), q(1.0));
    let (bw, c) = (36.0, color(k));
    let _ = write!(
        s,
        r##"<g><title>{tip}</title><line x1="{cx:.1}" y1="{ymax:.1}" x2="{cx:.1}" y2="{ymin:.1}" stroke="#555"/><line x1="{wl:.1}" y1="{ymax:.1}" x2="{wr:.1}" y2="{ymax:.1}" stroke="#555"/><line x1="{wl:.1}" y1="{ymin:.1}" x2="{wr:.1}" y2="{ymin:.1}" stroke="#555"/><rect x="{bx:.1}" y="{yq3:.1}" width="{bw}" height="{bh:.1}" fill="{c}" fill-opacity="0.6" stroke="{c}"/><line x1="{bx:.1}" y1="{ymed:.1}" x2="{bx2:.1}" y2="{ymed:.1}" stroke="#000" stroke-width="2"/></g>"##,
        tip = esc(&format!(
            "{name}: n={} min {} · p25 {} · median {} · p75 {} · max {} {unit}",
            sorted.len(),
            tick_label(min),
            tick_label(q1),
            tick_label(med),
            tick_label(q3),
            tick_label(max)
        )),
        ymax = y(max),
        ymin = y(min),
        wl = cx - 8.0,
        wr = cx + 8.0,
        bx = cx - bw / 2.0,
        bx2 = cx + bw / 2.0,
        yq3 = y(q3),
        bh = (y(q1) - y(q3)).max(1.0),
        ymed = y(med),
    );
}

/// Horizontal bars for shares (0..1), one per row: label, share, series colour index.
pub fn share_bars(title: &str, rows: &[(String, f64, usize)]) -> String {
    let (left, top, row_h, plot_w) = (260.0, 36.0, 22.0, 300.0);
    let width = left + plot_w + 70.0;
    let height = top + row_h * rows.len() as f64 + 16.0;
    let mut s = open(width, height, title);
    for (i, (label, share, k)) in rows.iter().enumerate() {
        let yy = top + row_h * i as f64;
        let v = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let _ = write!(
            s,
            r##"<text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end">{label}</text><rect x="{left}" y="{yy:.1}" width="{plot_w}" height="{h:.1}" fill="#eee"/><rect x="{left}" y="{yy:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"/><text x="{vx:.1}" y="{ty:.1}" font-size="11">{pct:.0}%</text>"##,
            lx = left - 6.0,
            ty = yy + row_h / 2.0 + 2.0,
            label = esc(label),
            h = row_h - 6.0,
            w = v * plot_w,
            c = color(*k),
            vx = left + plot_w + 6.0,
            pct = v * 100.0,
        );
    }
    s.push_str("</svg>");
    s
}

fn open(width: f64, height: f64, title: &str) -> String {
    format!(
        r##"<svg viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{t}" font-family="sans-serif"><text x="8" y="18" font-size="13" font-weight="bold">{t}</text>"##,
        t = esc(title)
    )
}

fn legend<'a>(s: &mut String, names: impl Iterator<Item = &'a str>, left: f64) {
    let mut x = left;
    for (k, name) in names.enumerate() {
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="26" width="10" height="10" fill="{c}"/><text x="{tx:.1}" y="35" font-size="11">{n}</text>"##,
            c = color(k),
            tx = x + 14.0,
            n = esc(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

/// A short axis label: 1.2k, 35, 0.42.
fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{kept}…")
}
