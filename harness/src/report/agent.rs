//! `gitgate-bench agent`'s report as a terminal table, Markdown (`agent.md`) and a
//! self-contained HTML page with charts (`agent.html`), all from one table of per-arm rows so a
//! figure reads the same in each; the same section renders inside `report.md` and
//! `report.html` when a run report carries agent results.

use std::fmt::Write as _;

use super::svg::{self, Bar, esc};
use crate::agent_model::{AgentArmSummary, AgentReport};

/// Row headings and the figure of each, per arm.
fn rows(report: &AgentReport) -> Vec<(&'static str, Vec<String>)> {
    let k = report.settings.repeat;
    let col = |f: &dyn Fn(&AgentArmSummary) -> String| report.arms.iter().map(f).collect();
    let cost = |c: Option<f64>| c.map_or_else(|| "n/a".to_owned(), |c| format!("${c:.4}"));
    vec![
        (
            "success rate",
            col(&|a| {
                format!(
                    "{:.0}% ({}/{})",
                    a.success_rate * 100.0,
                    a.successes,
                    a.attempts
                )
            }),
        ),
        (
            if k > 1 {
                "pass^k (every attempt passed)"
            } else {
                "pass^1"
            },
            col(&|a| format!("{:.0}% ({}/{})", a.pass_k * 100.0, a.pass_k_tasks, a.tasks)),
        ),
        ("median turns", col(&|a| fmt(a.median_turns))),
        ("median tool calls", col(&|a| fmt(a.median_tool_calls))),
        ("median input tokens", col(&|a| fmt(a.median_input_tokens))),
        (
            "median output tokens",
            col(&|a| fmt(a.median_output_tokens)),
        ),
        (
            "median cache read tokens",
            col(&|a| fmt(a.median_cache_read_tokens)),
        ),
        (
            "median cache write tokens",
            col(&|a| fmt(a.median_cache_write_tokens)),
        ),
        ("median cost", col(&|a| cost(a.median_cost_usd))),
        ("total cost", col(&|a| cost(a.total_cost_usd))),
        (
            "median wall time (s)",
            col(&|a| format!("{:.2}", a.median_wall_s)),
        ),
        (
            "unknown-tool calls",
            col(&|a| a.tool_errors.unknown_tool.to_string()),
        ),
        (
            "bad-argument calls",
            col(&|a| a.tool_errors.bad_arguments.to_string()),
        ),
        ("failed calls", col(&|a| a.tool_errors.failed.to_string())),
        ("help calls", col(&|a| a.tool_errors.help.to_string())),
    ]
}

/// A number without a trailing `.0` when whole.
fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn setting(report: &AgentReport) -> String {
    let s = &report.settings;
    format!(
        "{} model {} via {}, started {}; k = {} attempt(s) per task and arm; budgets: {} turns, {} tokens, {} s per attempt; {}; cost priced as {}",
        if s.stream {
            "streamed"
        } else {
            "whole-response"
        },
        report.model,
        report.provider,
        report.started_at,
        s.repeat,
        s.max_turns,
        s.max_tokens,
        s.timeout_s,
        format_args!("seed {}", s.seed),
        s.price_model
            .as_deref()
            .unwrap_or("nothing (model not in the price table)"),
    )
}

/// Failed attempts: (task, arm, attempt number, why).
fn failures(report: &AgentReport) -> Vec<(String, String, usize, String)> {
    let mut out = Vec::new();
    for t in &report.tasks {
        for a in &t.arms {
            for (i, at) in a.attempts.iter().enumerate() {
                if !at.passed {
                    let why = at.failure.clone().unwrap_or_default();
                    out.push((t.id.clone(), a.arm.clone(), i + 1, why));
                }
            }
        }
    }
    out
}

/// The terminal summary.
pub fn text(report: &AgentReport) -> String {
    let header: Vec<String> = report.arms.iter().map(|a| a.arm.clone()).collect();
    let rows = rows(report);
    let first = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r.1.get(i).map_or(0, String::len))
                .max()
                .unwrap_or(0)
                .max(h.len())
        })
        .collect();
    let mut out = format!("Agent mode: {}\n", setting(report));
    let _ = write!(out, "{:first$}", "");
    for (h, w) in header.iter().zip(&widths) {
        let _ = write!(out, "  {h:>w$}");
    }
    out.push('\n');
    for (name, cells) in &rows {
        let _ = write!(out, "{name:first$}");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {c:>w$}");
        }
        out.push('\n');
    }
    for (task, arm, n, why) in failures(report) {
        let _ = writeln!(out, "FAILED {task} on {arm} (attempt {n}): {why}");
    }
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown section (`agent.md`).
pub fn markdown(report: &AgentReport) -> String {
    let mut out = String::from("## Agent mode\n\n");
    let _ = writeln!(out, "{}.\n", md_cell(&setting(report)));
    out.push_str("| |");
    for a in &report.arms {
        let _ = write!(out, " {} |", md_cell(&a.arm));
    }
    out.push_str("\n|---|");
    for _ in &report.arms {
        out.push_str("---:|");
    }
    out.push('\n');
    for (name, cells) in rows(report) {
        let _ = write!(out, "| {name} |");
        for c in cells {
            let _ = write!(out, " {} |", md_cell(&c));
        }
        out.push('\n');
    }
    let failed = failures(report);
    if !failed.is_empty() {
        out.push_str("\n### Failed attempts\n\n");
        for (task, arm, n, why) in failed {
            let _ = writeln!(
                out,
                "- `{task}` on `{arm}` (attempt {n}): {}",
                md_cell(&why)
            );
        }
    }
    out
}

/// The HTML page (`agent.html`): setting, table, charts and failed attempts.
pub fn html(report: &AgentReport) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>gitgate-bench agent</title>\n<style>",
    );
    h.push_str(
        "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}svg{display:block;margin:.5em 0 1.5em;max-width:100%;height:auto}",
    );
    h.push_str("</style>\n</head>\n<body>\n<h1>gitgate-bench agent</h1>\n");
    h.push_str(&section_html(report));
    h.push_str("</body>\n</html>\n");
    h
}

/// The agent section as HTML (table and charts), for a page of its own or another report.
pub fn section_html(report: &AgentReport) -> String {
    let mut h = String::from("<h2>Agent mode</h2>\n");
    let _ = writeln!(h, "<p>{}.</p>", esc(&setting(report)));
    h.push_str("<table>\n<tr><th></th>");
    for a in &report.arms {
        let _ = write!(h, "<th>{}</th>", esc(&a.arm));
    }
    h.push_str("</tr>\n");
    for (name, cells) in rows(report) {
        let _ = write!(h, "<tr><td>{}</td>", esc(name));
        for c in cells {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    let arms: Vec<String> = report.arms.iter().map(|a| a.arm.clone()).collect();
    let bars = |f: &dyn Fn(&AgentArmSummary) -> f64| -> Vec<Option<Bar>> {
        report
            .arms
            .iter()
            .map(|a| {
                Some(Bar {
                    value: f(a),
                    failed: false,
                })
            })
            .collect()
    };
    h.push_str(&svg::grouped_bars(
        "Success per arm",
        &arms,
        &[
            ("success rate".into(), bars(&|a| a.success_rate * 100.0)),
            ("pass^k".into(), bars(&|a| a.pass_k * 100.0)),
        ],
        "%",
    ));
    h.push_str(&svg::grouped_bars(
        "Median tokens per attempt",
        &arms,
        &[
            ("input".into(), bars(&|a| a.median_input_tokens)),
            ("output".into(), bars(&|a| a.median_output_tokens)),
            ("cache read".into(), bars(&|a| a.median_cache_read_tokens)),
        ],
        "tokens",
    ));
    let failed = failures(report);
    if !failed.is_empty() {
        h.push_str("<h3>Failed attempts</h3>\n<ul>\n");
        for (task, arm, n, why) in failed {
            let _ = writeln!(
                h,
                "<li><code>{}</code> on <code>{}</code> (attempt {n}): {}</li>",
                esc(&task),
                esc(&arm),
                esc(&why)
            );
        }
        h.push_str("</ul>\n");
    }
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::agent_model::{
        AgentAttempt, AgentSettings, AgentTask, AgentTaskArm, ToolErrors, Usage, summarize,
    };

    fn sample() -> AgentReport {
        let attempt = |passed: bool| AgentAttempt {
            passed,
            failure: (!passed).then(|| "answer: expected the number 3, got \"4\"".to_owned()),
            stop: "answered".into(),
            answer: Some(if passed { "3" } else { "4" }.into()),
            turns: 2,
            tool_calls: 1,
            tool_errors: ToolErrors {
                help: 1,
                ..ToolErrors::default()
            },
            usage: Usage {
                input: 1200,
                output: 40,
                cache_read: 0,
                cache_write: 0,
            },
            cost_usd: Some(0.0042),
            wall_s: 3.25,
            transcript: "transcripts/t/cli/1.jsonl".into(),
            replay_divergences: 0,
        };
        let tasks = vec![AgentTask {
            id: "t".into(),
            arms: vec![
                AgentTaskArm {
                    arm: "cli".into(),
                    pass_k: true,
                    attempts: vec![attempt(true), attempt(true)],
                },
                AgentTaskArm {
                    arm: "mcp|<lean>".into(),
                    pass_k: false,
                    attempts: vec![attempt(true), attempt(false)],
                },
            ],
        }];
        AgentReport {
            version: 1,
            provider: "anthropic".into(),
            model: "m".into(),
            started_at: "2026-12-06T12:00:00Z".into(),
            settings: AgentSettings {
                max_turns: 30,
                max_tokens: 1000,
                timeout_s: 60.0,
                repeat: 2,
                stream: true,
                seed: "demo".into(),
                price_model: Some("m".into()),
            },
            arms: summarize(&["cli".into(), "mcp|<lean>".into()], &tasks),
            tasks,
        }
    }

    #[test]
    fn agent_section_renders_the_same_figures_in_every_format() {
        let report = sample();
        let md = markdown(&report);
        assert!(md.contains("| | cli | mcp\\|<lean> |"), "{md}");
        assert!(
            md.contains("| success rate | 100% (2/2) | 50% (1/2) |"),
            "{md}"
        );
        assert!(
            md.contains("| pass^k (every attempt passed) | 100% (1/1) | 0% (0/1) |"),
            "{md}"
        );
        assert!(md.contains("| median cost | $0.0042 | $0.0042 |"), "{md}");
        assert!(md.contains("| help calls | 2 | 2 |"), "{md}");
        assert!(
            md.contains("- `t` on `mcp|<lean>` (attempt 2): answer: expected"),
            "{md}"
        );
        let html = html(&report);
        assert!(html.contains("<th>mcp|&lt;lean&gt;</th>"), "{html}");
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("<td>50% (1/2)</td>"));
        let text = text(&report);
        assert!(
            text.contains("FAILED t on mcp|<lean> (attempt 2)"),
            "{text}"
        );

        // Inside a run report, the same section.
        let mut run = super::super::tests::sample();
        assert!(!super::super::markdown::render(&run).contains("## Agent mode"));
        run.agent = Some(report);
        assert!(super::super::markdown::render(&run).contains(&md));
        let page = super::super::html::render(&run);
        assert!(page.contains("<h2>Agent mode</h2>"));
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["agent"]["arms"][1]["pass_k"], 0.0);
    }
}
