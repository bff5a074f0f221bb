//! Renders a [`RunReport`]: a summary table per dimension on the terminal, and `report.json`,
//! `report.md` and a self-contained `report.html` in the output directory.
//!
//! All three are built from the same [`Grid`]s, so a figure reads the same everywhere and a
//! failed task is marked in each of them.

pub mod agent;
mod html;
mod markdown;
pub mod schema;
mod svg;
mod text;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::{RunReport, TaskArmReport};

/// The six dimensions in the order every output shows them, with their headings.
pub const DIMENSIONS: [(&str, &str); 6] = [
    ("token_cost", "Token cost"),
    ("native_knowledge", "Native knowledge"),
    ("composability", "Composability"),
    ("multi_user_auth", "Multi-user auth"),
    ("stateful_sessions", "Stateful sessions"),
    ("enterprise_governance", "Enterprise governance"),
];

/// Prints the summary tables (one per dimension, one column per arm) and the failed tasks on
/// stdout.
pub fn print_summary(report: &RunReport) {
    print!("{}", text::summary(report));
}

/// The text [`print_summary`] prints.
pub fn summary_text(report: &RunReport) -> String {
    text::summary(report)
}

/// Writes `report.json`, `report.md` and `report.html` into `out_dir` (created if missing).
pub fn write_all(report: &RunReport, out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let json = serde_json::to_string_pretty(report).context("serialising the report")?;
    let files = [
        ("report.json", json + "\n"),
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ];
    for (name, content) in files {
        let path = out_dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A table: a title, a header row and body rows. The first column names the row; the others
/// are one per arm. `failed` marks cells to show as failures.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grid {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// (row, column) of cells that stand for a failed task.
    pub failed: Vec<(usize, usize)>,
}

impl Grid {
    pub fn is_failed(&self, row: usize, col: usize) -> bool {
        self.failed.contains(&(row, col))
    }
}

/// Arm names as columns: the run's arms in order, then any arm that only a summary or a
/// scenario names.
pub(crate) fn arm_columns(report: &RunReport) -> Vec<String> {
    let mut arms: Vec<String> = report.arms.iter().map(|a| a.name.clone()).collect();
    let extra = report
        .summary
        .iter()
        .map(|s| &s.arm)
        .chain(report.scenarios.iter().map(|s| &s.arm));
    for arm in extra {
        if !arms.contains(arm) {
            arms.push(arm.clone());
        }
    }
    arms
}

/// One grid per dimension (the six, then any other the summaries name): the arms' summary
/// figures, then for scenario dimensions the scenarios' figures and findings.
pub(crate) fn dimension_grids(report: &RunReport) -> Vec<Grid> {
    let arms = arm_columns(report);
    let mut names: Vec<(String, String)> = DIMENSIONS
        .iter()
        .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
        .collect();
    let others = report
        .summary
        .iter()
        .flat_map(|s| s.dimensions.keys())
        .chain(report.scenarios.iter().map(|s| &s.dimension));
    for d in others {
        if !names.iter().any(|(k, _)| k == d) {
            names.push((d.clone(), humanize(d)));
        }
    }
    names
        .into_iter()
        .map(|(key, title)| dimension_grid(report, &arms, &key, title))
        .collect()
}

/// The grid of one dimension: a row per figure or finding, a column per arm.
fn dimension_grid(report: &RunReport, arms: &[String], key: &str, title: String) -> Grid {
    let mut header = vec!["figure".to_owned()];
    header.extend(arms.iter().cloned());
    let mut grid = Grid {
        title,
        header,
        ..Grid::default()
    };
    if key == "token_cost" {
        grid.rows.push(tasks_passed_row(report, arms));
    }
    // figure name -> arm -> cell text, in first-seen order of figure names.
    let mut order: Vec<String> = Vec::new();
    let mut cells: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut put = |figure: String, arm: &str, value: String| {
        if !order.contains(&figure) {
            order.push(figure.clone());
        }
        cells
            .entry(figure)
            .or_default()
            .insert(arm.to_owned(), value);
    };
    for s in &report.summary {
        if let Some(figures) = s.dimensions.get(key) {
            for (name, v) in figures {
                put(name.clone(), &s.arm, format_figure(name, *v));
            }
        }
    }
    for sc in report.scenarios.iter().filter(|s| s.dimension == key) {
        for (name, v) in &sc.figures {
            put(name.clone(), &sc.arm, format_figure(name, *v));
        }
        for (name, b) in &sc.findings {
            put(
                name.clone(),
                &sc.arm,
                if *b { "yes" } else { "no" }.to_owned(),
            );
        }
    }
    for figure in order {
        let mut row = vec![humanize(&figure)];
        for arm in arms {
            row.push(
                cells
                    .get(&figure)
                    .and_then(|m| m.get(arm))
                    .cloned()
                    .unwrap_or_else(|| "—".to_owned()),
            );
        }
        grid.rows.push(row);
    }
    if grid.rows.is_empty() {
        let mut row = vec!["(not measured in this run)".to_owned()];
        row.extend(arms.iter().map(|_| "—".to_owned()));
        grid.rows.push(row);
    }
    grid
}

/// "passed / run" per arm, from the tasks themselves.
fn tasks_passed_row(report: &RunReport, arms: &[String]) -> Vec<String> {
    let mut row = vec!["tasks passed".to_owned()];
    for arm in arms {
        let runs: Vec<&TaskArmReport> = report
            .tasks
            .iter()
            .flat_map(|t| t.arms.iter().filter(|a| &a.arm == arm))
            .collect();
        row.push(if runs.is_empty() {
            "—".to_owned()
        } else {
            format!(
                "{} / {}",
                runs.iter().filter(|r| r.passed).count(),
                runs.len()
            )
        });
    }
    row
}

/// Reads one figure of a task on an arm.
type Metric = fn(&TaskArmReport) -> f64;

/// Per-task grids: median context tokens, round trips and p50 step latency per arm; a failed
/// task's cell says FAILED next to its figure.
pub(crate) fn task_grids(report: &RunReport) -> Vec<Grid> {
    let arms = arm_columns(report);
    let tokenizer = primary_tokenizer(report);
    let metrics: [(String, Metric, &str); 5] = [
        (
            format!("Context tokens per task ({tokenizer}, median)"),
            |a| a.summary.context_tokens.median,
            "context_tokens",
        ),
        (
            format!(
                "Context tokens per task, worst case of native knowledge: every tool's definition fetched before its first call ({tokenizer}, median)"
            ),
            |a| a.summary.worst_context_tokens.median,
            "context_tokens",
        ),
        (
            "Round trips per task, worst case of native knowledge (median)".to_owned(),
            |a| a.summary.worst_round_trips.median,
            "round_trips",
        ),
        (
            "Round trips per task (median)".to_owned(),
            |a| a.summary.round_trips.median,
            "round_trips",
        ),
        (
            "Step latency p50 per task, ms (median over repeats)".to_owned(),
            |a| a.summary.latency_ms_p50.median,
            "latency_ms",
        ),
    ];
    metrics
        .into_iter()
        .map(|(title, get, figure)| {
            let mut header = vec!["task".to_owned()];
            header.extend(arms.iter().cloned());
            let mut grid = Grid {
                title,
                header,
                ..Grid::default()
            };
            for (r, task) in report.tasks.iter().enumerate() {
                let mut row = vec![task.id.clone()];
                for (c, arm) in arms.iter().enumerate() {
                    let cell = match task.arms.iter().find(|a| &a.arm == arm) {
                        None => "—".to_owned(),
                        Some(a) if a.passed => format_figure(figure, get(a)),
                        Some(a) => {
                            grid.failed.push((r, c + 1));
                            format!("FAILED ({})", format_figure(figure, get(a)))
                        }
                    };
                    row.push(cell);
                }
                grid.rows.push(row);
            }
            grid
        })
        .collect()
}

/// One failed task on one arm, with the first failure reason among its repeats.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub task: String,
    pub arm: String,
    pub reason: String,
    /// Repeats that failed, of all repeats.
    pub failed: usize,
    pub repeats: usize,
}

pub(crate) fn failures(report: &RunReport) -> Vec<Failure> {
    let mut out = Vec::new();
    for task in &report.tasks {
        for arm in task.arms.iter().filter(|a| !a.passed) {
            let reason = arm
                .attempts
                .iter()
                .find_map(|a| a.failure.clone())
                .unwrap_or_else(|| "check failed (no reason recorded)".to_owned());
            out.push(Failure {
                task: task.id.clone(),
                arm: arm.arm.clone(),
                reason,
                failed: arm.attempts.iter().filter(|a| !a.passed).count(),
                repeats: arm.attempts.len(),
            });
        }
    }
    out
}

/// The tokenizer the tables count with (the first the run used).
pub(crate) fn primary_tokenizer(report: &RunReport) -> String {
    report
        .meta
        .tokenizers
        .first()
        .cloned()
        .unwrap_or_else(|| "tokens".to_owned())
}

/// `snake_case_name` as words.
pub(crate) fn humanize(name: &str) -> String {
    name.replace('_', " ")
}

/// A figure as a cell: shares as percentages, money in dollars, counts with thousands
/// separators, other values to three significant digits.
pub(crate) fn format_figure(name: &str, v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if name.ends_with("_share") || name.ends_with("_rate") {
        return format!("{:.0}%", v * 100.0);
    }
    if name.contains("usd") || name.contains("cost") {
        return format!("${v:.4}");
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return thousands(v as i64);
    }
    let magnitude = v.abs();
    if magnitude >= 100.0 {
        format!("{v:.0}")
    } else if magnitude >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
pub(crate) mod tests;
