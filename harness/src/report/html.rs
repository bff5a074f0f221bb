//! `report.html`: one self-contained page (inline CSS, inline SVG, no script, no external
//! resource) with the run's setting, failed tasks, dimension tables, charts and per-task tables.

use std::fmt::Write as _;

use super::svg::{self, Bar, esc};
use super::{
    Grid, RunReport, arm_columns, dimension_grids, failures, format_figure, humanize,
    primary_tokenizer, task_grids,
};
use crate::model::TaskArmReport;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{font-size:1.05em}\
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}\
td.failed{background:#fde2e2;color:#a00;font-weight:bold}td.yes{color:#1a7f37}td.no{color:#a00}\
.meta{color:#444;font-size:.95em}.failures{border:2px solid #d62728;background:#fff5f5;padding:.5em 1em}\
.ok{border:1px solid #59a14f;background:#f3fbf2;padding:.5em 1em}svg{display:block;margin:.5em 0 1.5em;max-width:100%;height:auto}\
ul.notes{font-size:.92em;color:#333}code{background:#f4f4f4;padding:0 .2em}";

pub fn render(report: &RunReport) -> String {
    let mut h =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<title>gitgate-bench run</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n<h1>gitgate-bench run</h1>\n");
    setting(&mut h, report);
    failed_section(&mut h, report);

    h.push_str("<h2>Summary per dimension</h2>\n");
    for grid in dimension_grids(report) {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&grid.title));
        table(&mut h, &grid);
    }

    h.push_str("<h2>Charts</h2>\n");
    charts(&mut h, report);

    if let Some(agent) = &report.agent {
        h.push_str(&super::agent::section_html(agent));
    }

    h.push_str("<h2>Scenarios</h2>\n");
    for s in &report.scenarios {
        let _ = writeln!(
            h,
            "<h3>{} on <code>{}</code></h3>\n<ul class=\"notes\">",
            esc(&humanize(&s.scenario)),
            esc(&s.arm)
        );
        for (k, v) in &s.figures {
            let _ = writeln!(
                h,
                "<li>{}: <b>{}</b></li>",
                esc(&humanize(k)),
                esc(&format_figure(k, *v))
            );
        }
        for (k, v) in &s.findings {
            let _ = writeln!(
                h,
                "<li>{}: <b>{}</b></li>",
                esc(&humanize(k)),
                if *v { "yes" } else { "no" }
            );
        }
        for n in &s.notes {
            let _ = writeln!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h2>Per task</h2>\n");
    for grid in task_grids(report) {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&grid.title));
        table(&mut h, &grid);
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn setting(h: &mut String, report: &RunReport) {
    let m = &report.meta;
    let _ = writeln!(
        h,
        "<p class=\"meta\">Started {} · {:.1} s · {} repeat(s) · seed <code>{}</code> · tokenizer <b>{}</b>{}</p>",
        esc(&m.started_at),
        m.duration_s,
        m.repeat,
        esc(&m.seed),
        esc(&primary_tokenizer(report)),
        if m.tokenizers.len() > 1 {
            format!(" (also {})", esc(&m.tokenizers[1..].join(", ")))
        } else {
            String::new()
        }
    );
    for (title, map) in [("Versions", &m.versions), ("Machine", &m.machine)] {
        let parts: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{} <code>{}</code>", esc(k), esc(v)))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"meta\"><b>{title}:</b> {}</p>",
            if parts.is_empty() {
                "not recorded".to_owned()
            } else {
                parts.join(" · ")
            }
        );
    }
    if !m.prices_per_mtok.is_empty() {
        let parts: Vec<String> = m
            .prices_per_mtok
            .iter()
            .map(|(k, v)| format!("{} ${v}/Mtok", esc(k)))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"meta\"><b>Prices:</b> {}</p>",
            parts.join(" · ")
        );
    }
    h.push_str("<ul class=\"meta\">\n");
    for a in &report.arms {
        let _ = writeln!(
            h,
            "<li><code>{}</code> ({}): {}</li>",
            esc(&a.name),
            esc(&a.kind),
            esc(&a.description)
        );
    }
    h.push_str("</ul>\n");
}

fn failed_section(h: &mut String, report: &RunReport) {
    let failed = failures(report);
    if failed.is_empty() {
        h.push_str("<p class=\"ok\">Every task passed its check on every arm.</p>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<div class=\"failures\"><h2>FAILED tasks ({})</h2><p>A failed task counts for no figure; it is marked ✗ in the charts and FAILED in the tables.</p>",
        failed.len()
    );
    h.push_str("<table><tr><th>task</th><th>arm</th><th>failed repeats</th><th>reason</th></tr>\n");
    for f in failed {
        let _ = writeln!(
            h,
            "<tr><td class=\"failed\">FAILED {}</td><td>{}</td><td>{}/{}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(&f.task),
            esc(&f.arm),
            f.failed,
            f.repeats,
            esc(&f.reason)
        );
    }
    h.push_str("</table></div>\n");
}

fn table(h: &mut String, grid: &Grid) {
    h.push_str("<table>\n<tr>");
    for c in &grid.header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for (r, row) in grid.rows.iter().enumerate() {
        h.push_str("<tr>");
        for (c, text) in row.iter().enumerate() {
            let class = if grid.is_failed(r, c) {
                " class=\"failed\""
            } else if c > 0 && text == "yes" {
                " class=\"yes\""
            } else if c > 0 && text == "no" {
                " class=\"no\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", esc(text));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn charts(h: &mut String, report: &RunReport) {
    let arms = arm_columns(report);
    task_charts(h, report, &arms);
    scenario_charts(h, report, &arms);
}

/// Context tokens and round trips per task, and step latency per arm.
fn task_charts(h: &mut String, report: &RunReport, arms: &[String]) {
    let categories: Vec<String> = report.tasks.iter().map(|t| t.id.clone()).collect();
    let per_task = |get: fn(&TaskArmReport) -> f64| -> Vec<(String, Vec<Option<Bar>>)> {
        arms.iter()
            .map(|arm| {
                let bars = report
                    .tasks
                    .iter()
                    .map(|t| {
                        t.arms.iter().find(|a| &a.arm == arm).map(|a| Bar {
                            value: get(a),
                            failed: !a.passed,
                        })
                    })
                    .collect();
                (arm.clone(), bars)
            })
            .collect()
    };
    if categories.is_empty() {
        h.push_str("<p>No tasks ran.</p>\n");
    } else {
        // On a log scale: the full-catalogue MCP arms resend thousands of tokens of schema a
        // turn, and on a linear axis every other arm's bars were a few pixels high.
        h.push_str(&svg::grouped_bars_on(
            &format!(
                "Context tokens per task per arm ({}, median)",
                primary_tokenizer(report)
            ),
            &categories,
            &per_task(|a| a.summary.context_tokens.median),
            "tokens",
            svg::Scale::Log,
        ));
        h.push('\n');
        if let Some(ratios) = ratio_to_cli(report, arms) {
            h.push_str(&svg::grouped_bars_on(
                "Context tokens per task, each arm's ratio to the cli arm (below 1: fewer than the cli arm)",
                &categories,
                &ratios,
                "× cli context tokens",
                svg::Scale::Ratio,
            ));
            h.push('\n');
        }
        h.push_str(&svg::grouped_bars(
            "Round trips per task per arm (median)",
            &categories,
            &per_task(|a| a.summary.round_trips.median),
            "round trips",
        ));
        h.push('\n');
        let latencies: Vec<(String, Vec<f64>)> = arms
            .iter()
            .map(|arm| {
                let samples = report
                    .tasks
                    .iter()
                    .flat_map(|t| t.arms.iter().filter(|a| &a.arm == arm))
                    .flat_map(|a| a.attempts.iter())
                    .flat_map(|at| at.step_latency_ms.iter().copied())
                    .collect();
                (arm.clone(), samples)
            })
            .filter(|(_, s): &(String, Vec<f64>)| !s.is_empty())
            .collect();
        h.push_str(&svg::box_plots(
            "Per-step latency per arm, all tasks and repeats",
            &latencies,
            "ms",
        ));
        h.push('\n');
    }
}

/// Per arm other than `cli`, per task, its median context tokens over the cli arm's; `None`
/// when the cli arm did not run. A bar is missing where either arm has no figure, and marked
/// failed where either failed.
fn ratio_to_cli(report: &RunReport, arms: &[String]) -> Option<Vec<(String, Vec<Option<Bar>>)>> {
    let cli = "cli";
    if !arms.iter().any(|a| a == cli) {
        return None;
    }
    let series = arms
        .iter()
        .filter(|a| *a != cli)
        .map(|arm| {
            let bars = report
                .tasks
                .iter()
                .map(|t| {
                    let base = t.arms.iter().find(|a| a.arm == cli)?;
                    let mine = t.arms.iter().find(|a| &a.arm == arm)?;
                    let denominator = base.summary.context_tokens.median;
                    (denominator > 0.0).then(|| Bar {
                        value: mine.summary.context_tokens.median / denominator,
                        failed: !(mine.passed && base.passed),
                    })
                })
                .collect();
            (arm.clone(), bars)
        })
        .collect();
    Some(series)
}

/// Scenario shares as bars, and every other finding and figure as a table.
fn scenario_charts(h: &mut String, report: &RunReport, arms: &[String]) {
    let shares: Vec<(String, f64, usize)> = report
        .scenarios
        .iter()
        .flat_map(|s| {
            let k = arms.iter().position(|a| a == &s.arm).unwrap_or(0);
            s.figures
                .iter()
                .filter(|(name, _)| name.ends_with("_share"))
                .map(move |(name, v)| (format!("{} · {}", s.arm, humanize(name)), *v, k))
        })
        .collect();
    if shares.is_empty() {
        h.push_str("<p>No scenarios ran.</p>\n");
    } else {
        h.push_str(&svg::share_bars(
            "Scenario findings: shares per arm",
            &shares,
        ));
        h.push('\n');
        table(h, &scenario_grid(report, arms));
    }
}

/// The scenario findings (yes/no) and non-share figures, one row each, one column per arm.
fn scenario_grid(report: &RunReport, arms: &[String]) -> Grid {
    let mut grid = Grid {
        title: "Scenario findings".to_owned(),
        header: std::iter::once("finding".to_owned())
            .chain(arms.iter().cloned())
            .collect(),
        ..Grid::default()
    };
    let mut names: Vec<(String, String)> = Vec::new();
    for s in &report.scenarios {
        for (k, _) in s.figures.iter().filter(|(k, _)| !k.ends_with("_share")) {
            let key = (s.scenario.clone(), k.clone());
            if !names.contains(&key) {
                names.push(key);
            }
        }
        for k in s.findings.keys() {
            let key = (s.scenario.clone(), k.clone());
            if !names.contains(&key) {
                names.push(key);
            }
        }
    }
    for (scenario, name) in names {
        let mut row = vec![format!("{}: {}", humanize(&scenario), humanize(&name))];
        for arm in arms {
            let s = report
                .scenarios
                .iter()
                .find(|s| &s.arm == arm && s.scenario == scenario);
            row.push(match s {
                Some(s) => match (s.findings.get(&name), s.figures.get(&name)) {
                    (Some(b), _) => if *b { "yes" } else { "no" }.to_owned(),
                    (None, Some(v)) => format_figure(&name, *v),
                    (None, None) => "—".to_owned(),
                },
                None => "—".to_owned(),
            });
        }
        grid.rows.push(row);
    }
    grid
}
