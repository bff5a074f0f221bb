//! The terminal summary: one aligned table per dimension, then the failed tasks.

use super::{Grid, RunReport, dimension_grids, failures, primary_tokenizer};

pub fn summary(report: &RunReport) -> String {
    let mut out = format!(
        "gitgate-bench: {} tasks x {} arms, {} repeat(s), tokens counted with {}\n",
        report.tasks.len(),
        report.arms.len(),
        report.meta.repeat,
        primary_tokenizer(report)
    );
    for grid in dimension_grids(report) {
        out.push('\n');
        out.push_str(&table(&grid));
    }
    let failed = failures(report);
    out.push('\n');
    if failed.is_empty() {
        out.push_str("All tasks passed on every arm.\n");
    } else {
        out.push_str(&format!(
            "FAILED tasks ({}): they count for no figure above\n",
            failed.len()
        ));
        for f in failed {
            out.push_str(&format!(
                "  FAILED {} on {} ({}/{} repeats): {}\n",
                f.task,
                f.arm,
                f.failed,
                f.repeats,
                one_line(&f.reason)
            ));
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A title line and the grid with columns padded; numbers right-aligned.
fn table(grid: &Grid) -> String {
    let cols = grid.header.len();
    let mut widths = vec![0; cols];
    for row in std::iter::once(&grid.header).chain(&grid.rows) {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        format!("  {}\n", cells.join("  ").trim_end())
    };
    let mut out = format!("{}\n", grid.title);
    out.push_str(&line(&grid.header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("  {}\n", rule.join("  ")));
    for row in &grid.rows {
        out.push_str(&line(row));
    }
    out
}
