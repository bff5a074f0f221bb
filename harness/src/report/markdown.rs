//! `report.md`: the run's setting, the dimension tables, the per-task tables, the failed tasks
//! with their reasons, and the scenarios' observations.

use super::{
    Grid, RunReport, dimension_grids, failures, format_figure, humanize, primary_tokenizer,
    task_grids,
};

pub fn render(report: &RunReport) -> String {
    let mut out = String::from("# gitgate-bench run\n\n");
    setting(&mut out, report);
    failed_tasks(&mut out, report);
    out.push_str("\n## Summary per dimension\n");
    for grid in dimension_grids(report) {
        out.push_str(&format!("\n### {}\n\n", grid.title));
        out.push_str(&table(&grid));
    }
    scenarios(&mut out, report);
    out.push_str("\n## Per task\n");
    for grid in task_grids(report) {
        out.push_str(&format!("\n### {}\n\n", grid.title));
        out.push_str(&table(&grid));
    }
    if let Some(agent) = &report.agent {
        out.push('\n');
        out.push_str(&super::agent::markdown(agent));
    }
    out
}

/// When and how the run ran: time, tokenizers, versions, machine, prices, arms.
fn setting(out: &mut String, report: &RunReport) {
    let meta = &report.meta;
    out.push_str(&format!(
        "Started {} · {:.1} s · {} repeat(s) · seed `{}` · tokens counted with {} (also: {})\n\n",
        cell(&meta.started_at),
        meta.duration_s,
        meta.repeat,
        cell(&meta.seed),
        cell(&primary_tokenizer(report)),
        cell(
            &meta
                .tokenizers
                .iter()
                .skip(1)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));
    for (title, map) in [("Versions", &meta.versions), ("Machine", &meta.machine)] {
        out.push_str(&format!("**{title}:** "));
        let parts: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{} {}", cell(k), cell(v)))
            .collect();
        out.push_str(&if parts.is_empty() {
            "not recorded".to_owned()
        } else {
            parts.join(" · ")
        });
        out.push_str("\n\n");
    }
    if !meta.prices_per_mtok.is_empty() {
        let parts: Vec<String> = meta
            .prices_per_mtok
            .iter()
            .map(|(k, v)| format!("{} ${v}/Mtok", cell(k)))
            .collect();
        out.push_str(&format!("**Prices:** {}\n\n", parts.join(" · ")));
    }
    out.push_str("Arms:\n\n");
    for arm in &report.arms {
        out.push_str(&format!(
            "- `{}` ({}): {}\n",
            cell(&arm.name),
            cell(&arm.kind),
            cell(&arm.description)
        ));
    }
}

/// The failed tasks with their reasons.
fn failed_tasks(out: &mut String, report: &RunReport) {
    let failed = failures(report);
    out.push_str("\n## Failed tasks\n\n");
    if failed.is_empty() {
        out.push_str("None: every task passed its check on every arm.\n");
    } else {
        out.push_str(
            "A failed task counts for no figure; its cells below say **FAILED**.\n\n\
             | task | arm | failed repeats | reason |\n|---|---|---:|---|\n",
        );
        for f in &failed {
            out.push_str(&format!(
                "| **FAILED** {} | {} | {}/{} | {} |\n",
                cell(&f.task),
                cell(&f.arm),
                f.failed,
                f.repeats,
                cell(&f.reason)
            ));
        }
    }
}

/// Each scenario's figures, findings and notes.
fn scenarios(out: &mut String, report: &RunReport) {
    out.push_str("\n## Scenarios\n");
    for s in &report.scenarios {
        out.push_str(&format!(
            "\n### {} on `{}`\n\n",
            humanize(&s.scenario),
            cell(&s.arm)
        ));
        for (k, v) in &s.figures {
            out.push_str(&format!(
                "- {}: **{}**\n",
                humanize(k),
                format_figure(k, *v)
            ));
        }
        for (k, v) in &s.findings {
            out.push_str(&format!(
                "- {}: **{}**\n",
                humanize(k),
                if *v { "yes" } else { "no" }
            ));
        }
        for n in &s.notes {
            out.push_str(&format!("- {}\n", cell(n)));
        }
    }
}

/// A Markdown table; failed cells in bold.
fn table(grid: &Grid) -> String {
    let mut out = format!(
        "| {} |\n|{}|\n",
        grid.header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | "),
        grid.header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    );
    for (r, row) in grid.rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, text)| {
                if grid.is_failed(r, c) {
                    format!("**{}**", cell(text))
                } else {
                    cell(text)
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// Text safe inside a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
