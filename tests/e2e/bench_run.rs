//! `gitgate-bench run` end to end: the real gitgate and gitgate-forge binaries, real git, gh and
//! (when installed) the peer mcp-server-git, on small task sets written here. Figures are
//! checked against values worked out by hand for these tasks.

use std::collections::BTreeMap;
use std::path::Path;

use crate::binaries::binary;
use gitgate_bench::model::{Attempt, RunReport, TaskArmReport};
use gitgate_bench::{arm, prices::Prices, run, task};

fn write_tasks(dir: &Path, tasks: &[(&str, &str)]) {
    for (name, text) in tasks {
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }
}

async fn run_tasks(tasks: &[(&str, &str)], arms: &[&str]) -> RunReport {
    let dir = tempfile::tempdir().unwrap();
    write_tasks(dir.path(), tasks);
    let config = run::Config {
        tasks: task::load_dir(dir.path()).unwrap(),
        arms: run::select_arms(
            arm::defaults(),
            &arms.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap(),
        repeat: 1,
        seed: "demo".into(),
        gitgate: binary("gitgate"),
        forge: binary("gitgate-forge"),
        prices: Prices::from_toml("[models.m]\ninput = 2.0\noutput = 10.0\n").unwrap(),
        tokenizers: vec!["o200k_base".into(), "cl100k_base".into()],
        trace: true,
        work_dir: None,
    };
    run::run(&config, &mut |_| {}).await.unwrap()
}

fn arm_report<'a>(report: &'a RunReport, task: &str, arm: &str) -> &'a TaskArmReport {
    report
        .tasks
        .iter()
        .find(|t| t.id == task)
        .and_then(|t| t.arms.iter().find(|a| a.arm == arm))
        .unwrap_or_else(|| panic!("no {task} on {arm}"))
}

fn only_attempt<'a>(report: &'a RunReport, task: &str, arm: &str) -> &'a Attempt {
    let r = arm_report(report, task, arm);
    assert_eq!(r.attempts.len(), 1);
    &r.attempts[0]
}

fn o200k(text: &str) -> u64 {
    let bpe = tiktoken_rs::o200k_base().unwrap();
    bpe.encode_with_special_tokens(text).len() as u64
}

fn ran(report: &RunReport, arm: &str) -> bool {
    report
        .arms
        .iter()
        .any(|a| a.name == arm && a.skipped.is_none())
}

const LAST_AUTHOR: &str = r#"
id = "last-author"
category = "git-read"
prompt = "Who?"

[cli]
steps = ["git log -1 --format=%an | cat"]

[mcp]
steps = [{ tool = "git_log", args = { max_count = 1 } }]

[peer.mcp-server-git]
steps = [{ tool = "git_log", args = { repo_path = "{clone}", max_count = 1 } }]

[check]
answer = { contains = "Bob Builder" }
"#;

const REPO_DESCRIPTION: &str = r#"
id = "repo-description"
category = "github-read"
prompt = "What is the description?"

[cli]
steps = ["gh repo view --json description --jq .description"]

[mcp]
steps = [{ tool = "gh_repo_view", args = { json = ["description"] } }]

[check]
answer = { contains = "Widgets, gears and sprockets for the Acme toolkit" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_task_set_on_every_arm_with_figures_worked_out_by_hand() {
    let report = run_tasks(
        &[("a", LAST_AUTHOR), ("b", REPO_DESCRIPTION)],
        &["cli", "mcp", "mcp-http", "peer:mcp-server-git"],
    )
    .await;
    for t in &report.tasks {
        for a in &t.arms {
            assert!(
                a.passed,
                "{} on {}: {:?}",
                t.id, a.arm, a.attempts[0].failure
            );
        }
    }

    // CLI, by hand: the call is "bash" (1 token) plus {"command":"git log -1 --format=%an | cat"}
    // (14 tokens: {" command ":" git  log  - 1  -- format =% an  |  cat "}); the result
    // "Bob Builder\n" is 3 tokens (Bob, " Builder", "\n"); the answer "Bob Builder" 2.
    let cli = only_attempt(&report, "last-author", "cli");
    let t = &cli.tokens["o200k_base"];
    assert_eq!((t.calls, t.results, t.answer, t.teach), (15, 3, 2, 0));
    assert_eq!(cli.steps[0].result, "Bob Builder\n");
    // The interface is the arm's one shell tool, as a one-element JSON array.
    let def: serde_json::Value =
        serde_json::from_str(arm::defaults()[0].interface.as_deref().unwrap()).unwrap();
    let interface = o200k(&serde_json::Value::Array(vec![def]).to_string());
    assert_eq!(t.interface, interface);
    // Two turns (the call, then the answer), each resending interface and prompt ("Who?" is
    // 2 tokens: Who, ?); the second also the call and its result.
    assert_eq!(o200k("Who?"), 2);
    assert_eq!(t.context, 2 * (interface + 2) + 15 + 3);
    // Cost: context at $2/Mtok in, calls and answer at $10/Mtok out.
    let cost = t.cost_usd["m"];
    assert!((cost - ((t.context as f64) * 2.0 + 17.0 * 10.0) / 1e6).abs() < 1e-12);
    // One round trip; a two-command pipeline; bash plus two forked children (git, cat).
    assert_eq!((cli.round_trips, cli.operations), (1, 2));
    assert_eq!(report.meta.process_count_method, "strace");
    assert_eq!(cli.processes_spawned, 3);
    assert_eq!((cli.api_requests, cli.api_connections), (0, 0));
    assert!(cli.cold_start_ms.is_none());

    // gh: one process tree (bash execs gh directly, gh runs git to find the repository), one
    // GraphQL request on one connection with the shared token.
    let gh = only_attempt(&report, "repo-description", "cli");
    assert_eq!((gh.api_requests, gh.api_connections), (1, 1));
    assert_eq!(
        gh.tokens["o200k_base"].results,
        o200k("Widgets, gears and sprockets for the Acme toolkit\n")
    );
    assert_eq!(
        o200k("Widgets, gears and sprockets for the Acme toolkit\n"),
        13
    );

    for arm in ["mcp", "mcp-http"] {
        let a = only_attempt(&report, "last-author", arm);
        let t = &a.tokens["o200k_base"];
        assert_eq!(a.round_trips, 1, "{arm}");
        assert_eq!(a.operations, 1, "{arm}");
        // The server is the only process: gitgate runs git in process.
        assert_eq!(a.processes_spawned, 1, "{arm}");
        assert!(a.cold_start_ms.is_some(), "{arm}");
        assert!(a.steps[0].result.contains("Bob Builder"), "{arm}");
        assert_eq!(t.results, o200k(&a.steps[0].result), "{arm}");
        // git_log {"max_count":1}: "git_log" is 3 tokens (git, _log... counted here), the
        // arguments {"max_count":1} as written.
        assert_eq!(
            t.calls,
            o200k("git_log") + o200k(r#"{"max_count":1}"#),
            "{arm}"
        );
        assert_eq!(
            t.context,
            2 * (t.interface + 2) + t.calls + t.results,
            "{arm}"
        );
        // Native knowledge: the definition of the one tool used, taken from the interface.
        assert!(t.teach > 0 && t.teach < t.interface, "{arm}");
        let g = only_attempt(&report, "repo-description", arm);
        assert_eq!((g.api_requests, g.api_connections), (1, 1), "{arm}");
        assert_eq!(g.round_trips, 1);
    }
    // Both gitgate arms offer the same tools.
    assert_eq!(
        only_attempt(&report, "last-author", "mcp").tokens["o200k_base"].interface,
        only_attempt(&report, "last-author", "mcp-http").tokens["o200k_base"].interface
    );

    if ran(&report, "peer:mcp-server-git") {
        let p = only_attempt(&report, "last-author", "peer:mcp-server-git");
        assert_eq!(p.round_trips, 1);
        // GitPython runs git in child processes: more than the server alone.
        assert!(p.processes_spawned > 1, "{}", p.processes_spawned);
        // The peer has no GitHub tools: the GitHub task is not its.
        let b = report
            .tasks
            .iter()
            .find(|t| t.id == "repo-description")
            .unwrap();
        assert!(b.arms.iter().all(|a| a.arm != "peer:mcp-server-git"));
    } else {
        let why = report
            .arms
            .iter()
            .find(|a| a.name == "peer:mcp-server-git")
            .and_then(|a| a.skipped.clone())
            .unwrap();
        assert!(why.contains("mcp_server_git"), "{why}");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs mcp-server-git: {why}"
        );
    }
    assert_eq!(
        report.summary.len(),
        report.arms.iter().filter(|a| a.skipped.is_none()).count()
    );
}

/// Issue "Speak git and gh", item 6: the lean arm types the CLI's own line through gitgate's run
/// form, and the JSON arm keeps the short JSON form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_arm_sends_the_cli_line_through_the_run_form() {
    let report = run_tasks(&[("a", LAST_AUTHOR)], &["cli", "mcp-lean", "mcp-lean-json"]).await;
    let lean = only_attempt(&report, "last-author", "mcp-lean");
    assert!(lean.passed, "{:?}", lean.failure);
    let line = "git log -1 --format=%an | cat";
    let args = serde_json::json!({ "run": line }).to_string();
    assert_eq!(lean.steps[0].call, format!("gitgate({args})"));
    // The same bytes git prints through a shell.
    let cli = only_attempt(&report, "last-author", "cli");
    assert_eq!(lean.steps[0].result, cli.steps[0].result);
    let t = &lean.tokens["o200k_base"];
    assert_eq!(t.calls, o200k("gitgate") + o200k(&args));
    assert_eq!(t.results, o200k(&cli.steps[0].result));
    // Operations counted as the shell counts them: git and cat.
    assert_eq!((lean.round_trips, lean.operations), (1, 2));

    let json = only_attempt(&report, "last-author", "mcp-lean-json");
    assert!(json.passed, "{:?}", json.failure);
    assert_eq!(
        json.steps[0].call,
        r#"gitgate({"max_count":1,"tool":"git_log"})"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_mcp_steps_fail_the_check_and_the_report_says_so() {
    // The MCP steps ask for another author's commits: the answer cannot be right.
    let wrong = LAST_AUTHOR.replace(
        "args = { max_count = 1 }",
        "args = { max_count = 1, author = \"Carol Danvers\" }",
    );
    let report = run_tasks(&[("a", &wrong)], &["cli", "mcp"]).await;
    assert!(arm_report(&report, "last-author", "cli").passed);
    let mcp = arm_report(&report, "last-author", "mcp");
    assert!(!mcp.passed);
    let failure = mcp.attempts[0].failure.clone().unwrap();
    assert!(failure.contains("Bob Builder"), "{failure}");
    // The failed task counts towards no total.
    let mcp_summary = report.summary.iter().find(|s| s.arm == "mcp").unwrap();
    assert_eq!((mcp_summary.tasks_run, mcp_summary.tasks_passed), (1, 0));
    assert_eq!(mcp_summary.dimensions["token_cost"]["tasks_counted"], 0.0);

    let out = tempfile::tempdir().unwrap();
    gitgate_bench::report::write_all(&report, out.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["tasks"][0]["arms"][1]["passed"], false);
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("FAILED") && md.contains("last-author"), "{md}");
}

const COMMENT: &str = r#"
id = "comment"
category = "github-write"
prompt = "Comment on #1."

[cli]
steps = ["gh issue comment 1 --body 'Seen.'"]

[mcp]
steps = [{ tool = "gh_issue_comment", args = { number = 1, body = "Seen." } }]

[check]
[[check.state]]
api = "/repos/acme/widgets/issues/1/comments"
path = ".[].body"
contains = "Seen."
"#;

const OPEN_PR_FILES: &str = r#"
id = "open-pr-files"
category = "compose"
prompt = "Files of the open pull requests?"

[cli]
steps = ["gh pr list --json number --jq '.[].number' | xargs -n1 gh pr diff --name-only | sort -u"]
answer = "lines"

[mcp]
steps = [
  { tool = "gh_pr_list", args = { json = ["number"] } },
  { tool = "gh_pr_files", args = { number = 50 } },
  { tool = "gh_pr_files", args = { number = 45 } },
  { tool = "gh_pr_files", args = { number = 40 } },
  { tool = "gh_pr_files", args = { number = 20 } },
]
answer = "column:2"
answer_steps = [2, 3, 4, 5]

[check]
answer = { set = ["src/valve.rs", "src/piston.rs", "tests/piston_test.rs", "src/gasket.rs", "src/spring.rs"] }
"#;

type Figures = BTreeMap<(String, String), (BTreeMap<String, (u64, u64, u64, u64)>, u32, u32)>;

fn figures(report: &RunReport) -> Figures {
    report
        .tasks
        .iter()
        .flat_map(|t| {
            t.arms.iter().map(move |a| {
                let at = &a.attempts[0];
                assert!(a.passed, "{} on {}: {:?}", t.id, a.arm, at.failure);
                let tokens = at
                    .tokens
                    .iter()
                    .map(|(k, v)| (k.clone(), (v.interface, v.calls, v.results, v.context)))
                    .collect();
                (
                    (t.id.clone(), a.arm.clone()),
                    (tokens, at.round_trips, at.operations),
                )
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_with_the_same_seed_give_identical_tokens_and_round_trips() {
    let tasks = [("a", LAST_AUTHOR), ("b", COMMENT), ("c", OPEN_PR_FILES)];
    let arms = ["cli", "mcp", "mcp-http"];
    let first = figures(&run_tasks(&tasks, &arms).await);
    let second = figures(&run_tasks(&tasks, &arms).await);
    assert_eq!(first.len(), 9);
    assert_eq!(first, second);
    // The compose task: one round trip on the CLI, five on MCP.
    assert_eq!(first[&("open-pr-files".into(), "cli".into())].1, 1);
    assert_eq!(first[&("open-pr-files".into(), "mcp".into())].1, 5);
}

#[test]
fn embedded_suite_is_complete() {
    let tasks = task::embedded().unwrap();
    assert!(tasks.len() >= 24);
    let peer = tasks
        .iter()
        .filter(|t| t.lists.contains_key("peer.mcp-server-git"))
        .count();
    assert!(peer >= 5, "{peer} tasks for the peer");
}
