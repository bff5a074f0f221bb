//! The jq sandbox: filters that read the server's environment, stop it, exhaust its stack or
//! memory, or run forever. Each bomb must come back as an error naming its limit, leave no
//! worker behind, and leave the server answering other users. The examples are those of the
//! security issue "Close the escapes" (classes 1-3); the fuzz test below tries many more.

use std::time::{Duration, Instant};

use gitgate::jq::{JqError, Limits, Sandbox};
use serde_json::{Value, json};

use crate::harness::{BIN, Client, Env, ServerProcess, connect_http, spawn_http_with_vars, text};

/// Filters of the issue that stopped, starved or read the server, and what each must be now.
/// `None` accepts any of the limit errors: which bound a bomb meets first depends on the
/// allocator and the machine, but it must meet one.
const BOMBS: &[&str] = &[
    "def f: [f]; f",
    "def f: 1 + f; f",
    "[range(1e9)] | length",
    "reduce range(64) as $i (\"ab\"; . + .)",
    "[repeat(\"abcdefgh\")]",
    "last(range(1e18))",
    "def f: f; f",
    "[limit(1000000000; repeat(1))] | length",
];

fn sandbox() -> Sandbox {
    Sandbox::new(BIN.into(), Limits::default())
}

fn is_limit(e: &JqError) -> bool {
    matches!(
        e,
        JqError::Recursion(_)
            | JqError::Memory(_)
            | JqError::Fuel(_)
            | JqError::Timeout(_)
            | JqError::TooDeep
    )
}

/// Live jq workers started by this test process (the sandbox's children) that have used more
/// than a second of CPU: a filter still running after its call returned would be one. Idle
/// workers (kept for their user, or the fresh spare) have used next to nothing.
fn busy_workers_of_this_process() -> Vec<String> {
    let me = std::process::id().to_string();
    let ticks_per_sec = 100; // USER_HZ on Linux
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // Fields after `(comm)`: state ppid pgrp session tty tpgid flags minflt cminflt
            // majflt cmajflt utime stime ...
            let f: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cpu: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            let mine = f.get(1) == Some(&me.as_str()) && f.first() != Some(&"Z");
            (mine && String::from_utf8_lossy(&cmd).contains("jq-worker") && cpu > ticks_per_sec)
                .then(|| stat.clone())
        })
        .collect()
}

#[test]
fn plain_filters_run_in_the_sandbox() {
    let s = sandbox();
    let out = s
        .run(
            "alice",
            "[.[] | select(.n > 1) | .n]",
            json!([{"n": 1}, {"n": 2}, {"n": 3}]),
            json!([]),
            10,
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(out, vec![json!([2, 3])]);
    let e = s
        .run(
            "alice",
            ".a",
            json!([1]),
            json!([]),
            10,
            Duration::from_secs(30),
        )
        .unwrap_err();
    assert!(matches!(e, JqError::Runtime(_)), "{e}");
    let e = s
        .run(
            "alice",
            "range(20)",
            json!(0),
            json!([]),
            10,
            Duration::from_secs(30),
        )
        .unwrap_err();
    assert_eq!(e, JqError::TooManyValues(10));
}

/// A filter that builds a large value well inside the memory budget (`RLIMIT_DATA`, 256 MiB)
/// runs: the worker's allocator (mimalloc, which reserves address space up front) must leave
/// the budget to the filter, not refuse its allocations early.
#[test]
fn a_filter_well_inside_the_memory_budget_runs() {
    let s = sandbox();
    let out = s
        .run(
            "alice",
            "[range(1000000)] | length",
            json!(null),
            json!([]),
            10,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(out, vec![json!(1000000)]);
}

/// Regression (security issue, classes 2 and 3): each bomb aborted the server (stack), took
/// it to gigabytes (memory) or kept a thread spinning after its call returned (runaways). Now
/// each ends in its worker with an error naming the limit, no worker outlives its call, and the
/// next filter runs normally.
#[test]
fn every_bomb_meets_a_limit_and_leaves_nothing_running() {
    let s = sandbox();
    for bomb in BOMBS {
        let e = s
            .run(
                "mallory",
                bomb,
                json!(null),
                json!([]),
                10,
                Duration::from_secs(30),
            )
            .expect_err(bomb);
        assert!(is_limit(&e), "{bomb}: {e}");
        eprintln!("{bomb} -> {e}");
        let said = e.to_string();
        assert!(
            ["MiB", " s of CPU", " ms", "levels"]
                .iter()
                .any(|unit| said.contains(unit)),
            "{bomb}: the error names no limit: {said}"
        );
        let busy = busy_workers_of_this_process();
        assert!(
            busy.is_empty(),
            "{bomb}: a worker outlived its call: {busy:?}"
        );
        let out = s
            .run(
                "alice",
                "1 + 1",
                json!(null),
                json!([]),
                10,
                Duration::from_secs(30),
            )
            .expect("a plain filter after a bomb");
        assert_eq!(out, vec![json!(2)]);
    }
}

/// Regression (security issue, class 3): once two filters overran their deadline, every other
/// user's jq was refused ("jq filters are paused"). Now a user's filters occupy at most their
/// own slots, and another user's filter runs while they spin.
#[test]
fn one_users_runaways_do_not_pause_another_users_filters() {
    let s = std::sync::Arc::new(sandbox());
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.run(
                    "mallory",
                    "last(range(1e18))",
                    json!(null),
                    json!([]),
                    10,
                    Duration::from_secs(30),
                )
            })
        })
        .collect();
    // Wait (a condition, not a time) until both of mallory's filters hold their slots; they
    // hold them for seconds, until their CPU budget ends them.
    while s.running("mallory") < 2 {
        std::thread::yield_now();
    }
    // A third of hers is refused at once: it never waits behind the others.
    let third = s.run(
        "mallory",
        "1",
        json!(null),
        json!([]),
        10,
        Duration::from_secs(30),
    );
    assert_eq!(third, Err(JqError::UserBusy(2)));
    let out = s
        .run(
            "alice",
            "[1,2] | add",
            json!(null),
            json!([]),
            10,
            Duration::from_secs(30),
        )
        .expect("alice is not paused by mallory");
    assert_eq!(out, vec![json!(3)]);
    for t in spinners {
        let e = t.join().unwrap().expect_err("spinner");
        assert!(is_limit(&e), "{e}");
    }
}

#[test]
fn the_worker_has_no_environment_to_read() {
    // Even if a function reached the environment, the worker's is empty; `env` itself is gone.
    let s = sandbox();
    for filter in [
        "env",
        "$ENV",
        "env.GITGATE_SECRET_KEY",
        "halt",
        "halt_error",
        "input",
    ] {
        let e = s
            .run(
                "alice",
                filter,
                json!(null),
                json!([]),
                10,
                Duration::from_secs(30),
            )
            .expect_err(filter);
        assert!(
            matches!(e, JqError::Undefined(_) | JqError::Syntax(_)),
            "{filter}: {e}"
        );
    }
}

const SECRET: &str = "b3c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1";
const AUDIT_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A gitgate HTTP server in lean mode whose environment holds secrets, as deployments do.
fn spawn_lean(env: &Env) -> ServerProcess {
    spawn_http_with_vars(
        env,
        &["--lean"],
        &[
            ("GITGATE_SECRET_KEY", SECRET),
            ("GITGATE_AUDIT_KEY", AUDIT_KEY),
        ],
    )
}

async fn gitgate_call(client: &Client, args: Value) -> (bool, String) {
    let args = match args {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let r = client
        .call_tool(rmcp::model::CallToolRequestParams::new("gitgate").with_arguments(args))
        .await
        .unwrap();
    (r.is_error == Some(true), text(&r))
}

/// Regression (security issue, classes 1-3, over HTTP with ordinary users): `env.NAME` in `jq`
/// or `each` returned the server's keys (and stored them in the audit log), `each: "halt"`
/// exited the server, recursion aborted it, memory bombs swelled it. Now each is an error,
/// and the server answers another user right after each one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_over_http_neither_leak_nor_stop_the_server() {
    let env = Env::new();
    // mallory has no git scope and a grant on a repository that does not exist: jq must not
    // need either to be refused safely.
    let mallory = env.user("mallory", "git:read", &["nothere"]).await;
    let alice = env.user("alice", "git:read", &["app"]).await;
    let mut server = spawn_lean(&env);
    let m = connect_http(&server.url, &mallory).await.unwrap();
    let a = connect_http(&server.url, &alice).await.unwrap();
    let mut attempts = vec![
        json!({"tool": "git_status", "jq": "env.GITGATE_SECRET_KEY"}),
        json!({"tool": "git_status", "jq": "$ENV.GITGATE_AUDIT_KEY"}),
        json!({"steps": [{"tool": "git_status", "each": "env.GITGATE_SECRET_KEY"}]}),
        json!({"steps": [{"tool": "git_status", "each": "halt"}]}),
        json!({"steps": [{"tool": "git_status", "each": "\"x\" | halt_error(0)"}]}),
        json!({"tool": "git_status", "jq": "[".repeat(900)}),
    ];
    for bomb in BOMBS {
        attempts.push(json!({"tool": "git_status", "jq": bomb}));
        attempts.push(json!({"steps": [{"tool": "git_status", "each": bomb}]}));
    }
    for attempt in &attempts {
        let (is_error, said) = gitgate_call(&m, attempt.clone()).await;
        assert!(is_error, "{attempt}: {said}");
        assert!(
            !said.contains(SECRET) && !said.contains(AUDIT_KEY),
            "{said}"
        );
        assert!(server.is_running(), "{attempt}: the server died");
        let (is_error, status) = gitgate_call(&a, json!({"tool": "git_status"})).await;
        assert!(
            !is_error && status.starts_with("## main"),
            "after {attempt}: {status}"
        );
    }
    // The same filters with alice's grants: the step runs, then jq refuses.
    let (is_error, said) = gitgate_call(
        &a,
        json!({"tool": "git_status", "jq": "env.GITGATE_SECRET_KEY"}),
    )
    .await;
    assert!(
        is_error && said.contains("undefined filter `env`"),
        "{said}"
    );
    drop((m, a));
    let log = serde_json::to_string(&env.audit().await).unwrap();
    assert!(!log.contains(SECRET) && !log.contains(AUDIT_KEY));
    assert!(server.is_running());
}

/// A filter from a small grammar of jq: recursion, `range`, `repeat`, string building, deep
/// nesting, paths and reductions, combined at random.
fn random_filter(rng: &mut impl rand::RngExt, depth: u32) -> String {
    let leaves = [
        ".",
        "1",
        "\"ab\"",
        "[]",
        "{}",
        "null",
        "range(5)",
        "range(1e9)",
        "repeat(\"xy\")",
        "env",
        "$__loc__",
        "input",
        "now",
        "length",
        "keys",
        "tostring",
        "halt",
        "recurse",
        "paths",
        "\"a\" * 100000",
        "[limit(1e7; repeat(1))]",
    ];
    if depth == 0 || rng.random_range(0..4) == 0 {
        return leaves[rng.random_range(0..leaves.len())].to_owned();
    }
    let a = random_filter(rng, depth - 1);
    let b = random_filter(rng, depth - 1);
    match rng.random_range(0..14) {
        0 => format!("{a} | {b}"),
        1 => format!("[{a}]"),
        2 => format!("{{k: {a}}}"),
        3 => format!("({a}) + ({b})"),
        4 => format!("reduce ({a}) as $x ({b}; . + .)"),
        5 => format!("def f: {a} | f; f"),
        6 => format!("def f: [{a}, f]; f"),
        7 => format!("first({a})"),
        8 => format!("[{a}] | length"),
        9 => format!("{a} as $v | [$v, $v, $v]"),
        10 => format!("tojson | ({a}) | tostring"),
        11 => format!("try ({a}) catch ({b})"),
        12 => format!("if ({a}) then ({b}) else . end"),
        _ => format!(
            "{}{a}{}",
            "[".repeat(rng.random_range(1..100)),
            "]".repeat(100)
        ),
    }
}

/// Property: whatever filter a user sends, the server never dies and never grows past its
/// memory budget, and another user is answered after it. Runs `GITGATE_JQ_FUZZ_SECS` seconds
/// (20 by default in CI; the 10-minute run: `GITGATE_JQ_FUZZ_SECS=600`), seeded by
/// `GITGATE_JQ_FUZZ_SEED` so a failure can be replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_filters_never_stop_or_swell_the_server() {
    use rand::{RngExt, SeedableRng};
    let secs: u64 = std::env::var("GITGATE_JQ_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("GITGATE_JQ_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let env = Env::new();
    let mallory = env.user("mallory", "git:read", &["app"]).await;
    let alice = env.user("alice", "git:read", &["app"]).await;
    let mut server = spawn_lean(&env);
    let pid = server.pid();
    let m = connect_http(&server.url, &mallory).await.unwrap();
    let a = connect_http(&server.url, &alice).await.unwrap();
    // The server's own budget: it never evaluates a filter itself, so its peak stays near its
    // idle size whatever the filters do (the workers' budget is enforced by the kernel).
    const SERVER_BUDGET_KIB: u64 = 256 * 1024;
    let started = Instant::now();
    let mut cases = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let filter = random_filter(&mut rng, 4);
        let call = if rng.random_range(0..2) == 0 {
            json!({"tool": "git_status", "jq": filter})
        } else {
            json!({"steps": [{"tool": "git_status", "each": filter}]})
        };
        let (_, said) = gitgate_call(&m, call.clone()).await;
        assert!(!said.contains(SECRET), "{call}: {said}");
        assert!(server.is_running(), "died on {call}");
        let peak = peak_rss_kib(pid);
        assert!(peak < SERVER_BUDGET_KIB, "{call}: server peak {peak} KiB");
        if cases % 10 == 0 {
            let (is_error, _) = gitgate_call(&a, json!({"tool": "git_status"})).await;
            assert!(!is_error, "alice refused after {call}");
        }
        cases += 1;
    }
    eprintln!(
        "jq fuzz: {cases} filters in {} s (seed {seed}), server peak {} KiB",
        started.elapsed().as_secs(),
        peak_rss_kib(pid)
    );
    assert!(cases > 0);
}

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
