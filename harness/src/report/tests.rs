//! Rendering a small hand-built report in every format.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::model::{
    ArmInfo, ArmSummary, Attempt, RunMeta, ScenarioResult, Stat, Summary, TaskArmReport,
    TaskReport, Tokens,
};

const REASON: &str = "answer mismatch: expected 7 open bugs, got 6";

fn stat(v: f64) -> Stat {
    Stat {
        median: v,
        min: v,
        max: v,
    }
}

fn arm_run(arm: &str, passed: bool, context: f64, trips: f64, latencies: &[f64]) -> TaskArmReport {
    let attempt = Attempt {
        passed,
        failure: (!passed).then(|| REASON.to_owned()),
        tokens: BTreeMap::from([(
            "o200k_base".to_owned(),
            Tokens {
                context: context as u64,
                worst_context: 2 * context as u64,
                ..Tokens::default()
            },
        )]),
        round_trips: trips as u32,
        worst_round_trips: trips as u32 + 1,
        operations: trips as u32,
        processes_spawned: 0,
        api_connections: 0,
        api_requests: 0,
        step_latency_ms: latencies.to_vec(),
        cold_start_ms: None,
        answer: None,
        steps: Vec::new(),
    };
    TaskArmReport {
        arm: arm.to_owned(),
        step_list: String::new(),
        passed,
        attempts: vec![attempt],
        summary: Summary {
            context_tokens: stat(context),
            worst_context_tokens: stat(2.0 * context),
            round_trips: stat(trips),
            worst_round_trips: stat(trips + 1.0),
            latency_ms_p50: stat(latencies.first().copied().unwrap_or(0.0)),
            ..Summary::default()
        },
    }
}

/// Two arms, two tasks; `open-bugs` fails on mcp.
pub(crate) fn sample() -> RunReport {
    let arms = ["cli", "mcp"].map(|name| ArmInfo {
        name: name.to_owned(),
        kind: if name == "cli" { "cli" } else { "mcp" }.to_owned(),
        description: format!("the {name} arm <with markup & such>"),
        skipped: None,
    });
    let tasks = vec![
        TaskReport {
            id: "log-last-5".to_owned(),
            category: "git-read".to_owned(),
            prompt: "Show the last 5 commits".to_owned(),
            arms: vec![
                arm_run("cli", true, 1200.0, 1.0, &[12.0, 14.0]),
                arm_run("mcp", true, 2400.0, 1.0, &[0.4, 0.5]),
            ],
        },
        TaskReport {
            id: "open-bugs".to_owned(),
            category: "compose".to_owned(),
            prompt: "Count open bugs".to_owned(),
            arms: vec![
                arm_run("cli", true, 3100.0, 2.0, &[30.0]),
                arm_run("mcp", false, 2900.0, 3.0, &[1.5, 2.0, 2.5]),
            ],
        },
    ];
    let summary = ["cli", "mcp"]
        .map(|arm| ArmSummary {
            arm: arm.to_owned(),
            tasks_run: 2,
            tasks_passed: if arm == "cli" { 2 } else { 1 },
            dimensions: BTreeMap::from([(
                "token_cost".to_owned(),
                BTreeMap::from([(
                    "context_tokens_total".to_owned(),
                    if arm == "cli" { 4300.0 } else { 5300.0 },
                )]),
            )]),
        })
        .to_vec();
    let scenario = |arm: &str, share: f64, cut: f64, blocked: bool| ScenarioResult {
        scenario: "multi-user-auth".to_owned(),
        dimension: "multi_user_auth".to_owned(),
        arm: arm.to_owned(),
        figures: BTreeMap::from([
            ("attribution_share".to_owned(), share),
            ("users_cut_off_by_one_revocation".to_owned(), cut),
        ]),
        findings: BTreeMap::from([("only_revoked_user_cut_off".to_owned(), blocked)]),
        notes: vec![format!("{arm} note")],
    };
    RunReport {
        version: 1,
        meta: RunMeta {
            started_at: "2026-11-28T12:00:00Z".to_owned(),
            duration_s: 42.0,
            repeat: 1,
            seed: "demo".to_owned(),
            tokenizers: vec!["o200k_base".to_owned(), "cl100k_base".to_owned()],
            versions: BTreeMap::from([("gitgate".to_owned(), "0.1.0".to_owned())]),
            machine: BTreeMap::from([("cores".to_owned(), "2".to_owned())]),
            prices_per_mtok: BTreeMap::from([("model-a".to_owned(), 3.0)]),
            output_prices_per_mtok: BTreeMap::new(),
            process_count_method: String::new(),
        },
        arms: arms.to_vec(),
        tasks,
        scenarios: vec![
            scenario("cli", 0.0, 3.0, false),
            scenario("mcp", 1.0, 1.0, true),
        ],
        summary,
        agent: None,
    }
}

#[test]
fn terminal_summary_has_every_dimension_and_the_failure() {
    let text = summary_text(&sample());
    for (_, title) in DIMENSIONS {
        assert!(text.contains(title), "{title} missing:\n{text}");
    }
    assert!(
        text.contains(&format!("FAILED open-bugs on mcp (1/1 repeats): {REASON}")),
        "{text}"
    );
    assert!(text.contains("tasks passed"), "{text}");
    // The scenario figures sit in their dimension's table, one column per arm.
    let line = text
        .lines()
        .find(|l| l.contains("attribution share"))
        .unwrap();
    assert!(line.contains("0%") && line.contains("100%"), "{line}");
}

#[test]
fn a_report_without_failures_says_so() {
    let mut report = sample();
    report.tasks.truncate(1);
    let text = summary_text(&report);
    assert!(!text.contains("FAILED"), "{text}");
    assert!(text.contains("All tasks passed"), "{text}");
}

#[test]
fn markdown_lists_the_failure_with_its_reason_and_marks_cells() {
    let md = markdown::render(&sample());
    assert!(
        md.contains(&format!("| **FAILED** open-bugs | mcp | 1/1 | {REASON} |")),
        "{md}"
    );
    assert!(md.contains("**FAILED (2,900)**"), "{md}");
    for (_, title) in DIMENSIONS {
        assert!(md.contains(&format!("### {title}")), "{title}");
    }
    assert!(md.contains("tokens counted with o200k_base"), "{md}");
    assert!(md.contains("gitgate 0.1.0"), "{md}");
}

#[test]
fn html_marks_the_failure_and_is_self_contained() {
    let html = html::render(&sample());
    assert!(html.contains("FAILED open-bugs"), "failed task listed");
    assert!(html.contains(REASON));
    assert!(html.contains("<td class=\"failed\">FAILED (2,900)</td>"));
    assert!(
        html.contains("class=\"failed\">✗</text>"),
        "failed bar marked"
    );
    assert!(
        html.contains("&lt;with markup &amp; such&gt;"),
        "text is escaped"
    );
    for forbidden in [
        "<script", "<link", "src=", "href=", "url(", "http:", "https:", "@import",
    ] {
        assert!(!html.contains(forbidden), "found {forbidden}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "tokens, ratio to cli, round trips, latency, scenarios"
    );
    // Context tokens on a log scale; the ratio chart has its reference line at ×1.
    assert!(html.contains("tokens (log scale)"));
    assert!(html.contains("×1</text>"));
    assert!(html.contains("ratio to the cli arm"));
    check_balanced(&html);
}

/// The `y` and `height` of every bar (`<rect ...><title>`) of a chart, in order.
fn bars(svg: &str) -> Vec<(f64, f64)> {
    let re = regex::Regex::new(
        r#"<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="[^"]+"><title>"#,
    )
    .unwrap();
    re.captures_iter(svg)
        .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
        .collect()
}

#[test]
fn ratio_bars_rise_above_one_and_fall_below_it_symmetrically() {
    let series = vec![(
        "mcp".to_owned(),
        vec![
            Some(svg::Bar {
                value: 2.0,
                failed: false,
            }),
            Some(svg::Bar {
                value: 0.5,
                failed: false,
            }),
        ],
    )];
    let chart = svg::grouped_bars_on(
        "r",
        &["a".into(), "b".into()],
        &series,
        "x",
        svg::Scale::Ratio,
    );
    let b = bars(&chart);
    assert_eq!(b.len(), 2, "{chart}");
    let ((up_y, up_h), (down_y, down_h)) = (b[0], b[1]);
    // Twice and half are as far from 1 on a log axis; one ends where the other starts.
    assert!((up_h - down_h).abs() < 0.2 && up_h > 10.0, "{b:?}");
    assert!((up_y + up_h - down_y).abs() < 0.2, "{b:?}");
    // On a log axis a value 100 times another is not 100 times as tall.
    let series = vec![(
        "s".to_owned(),
        vec![
            Some(svg::Bar {
                value: 30.0,
                failed: false,
            }),
            Some(svg::Bar {
                value: 3000.0,
                failed: false,
            }),
        ],
    )];
    let log = bars(&svg::grouped_bars_on(
        "l",
        &["a".into(), "b".into()],
        &series,
        "t",
        svg::Scale::Log,
    ));
    let linear = bars(&svg::grouped_bars(
        "l",
        &["a".into(), "b".into()],
        &series,
        "t",
    ));
    assert!(log[1].1 / log[0].1 < 10.0, "{log:?}");
    assert!(linear[1].1 / linear[0].1 > 50.0, "{linear:?}");
}

#[test]
fn every_output_is_written_and_json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let report = sample();
    write_all(&report, dir.path()).unwrap();
    for name in ["report.json", "report.md", "report.html"] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let back: RunReport = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&report).unwrap()
    );
}

fn check_figure(name: &str, v: f64, expected: &str) {
    assert_eq!(format_figure(name, v), expected, "{name} = {v}");
}

#[test]
fn figures_format_by_kind() {
    check_figure("attribution_share", 1.0, "100%");
    check_figure("complete_record_share", 0.5, "50%");
    check_figure("context_tokens_total", 12345.0, "12,345");
    check_figure("round_trips", 3.0, "3");
    check_figure("latency_ms_p50", 0.4321, "0.43");
    check_figure("latency_ms_p50", 12.34, "12.3");
    check_figure("cost_usd", 0.01234, "$0.0123");
    check_figure("anything", f64::NAN, "—");
}

#[test]
fn axis_maximum_is_a_round_number() {
    for (v, expected) in [
        (0.0, 1.0),
        (7.0, 10.0),
        (12.0, 20.0),
        (2400.0, 5000.0),
        (5000.0, 5000.0),
    ] {
        assert_eq!(svg::nice_ceiling(v), expected, "{v}");
    }
}

/// Every element opened in `html` is closed in order (void elements and `/>` aside).
fn check_balanced(html: &str) {
    const VOID: [&str; 3] = ["meta", "br", "hr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').expect("unterminated tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name.trim(), "mismatched close");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
}

#[test]
fn the_balance_check_can_fail() {
    let r = std::panic::catch_unwind(|| check_balanced("<svg><g></svg>"));
    assert!(r.is_err());
    check_balanced("<svg><rect x=\"1\"/><g><title>t</title></g></svg>");
}
