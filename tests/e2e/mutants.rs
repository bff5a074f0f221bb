//! Mutation test of the compose tasks: a task whose steps can be changed without its check
//! noticing does not measure what it claims (an answer baked into a reader, an id copied into a
//! step instead of read off a result). For every compose task and every arm that has steps for
//! it, each number in a step's arguments (or command line) is changed, and each step of a
//! list of two or more is dropped; every mutant must fail its check, on the real arms against
//! the forge. The unchanged list runs too and must pass, so a failure is the mutation's.
//!
//! Bounds of 100 or more (`limit = 100`, `max_count = 500`) are left alone: raising a bound
//! past the size of the data changes nothing, by design. Runtime is kept modest by running
//! each (task, step list) once per way of executing it: the lean arm and the lean JSON arm
//! run the same server with the same calls, so a list both take is mutated on the first only;
//! `mcp-http` runs the `mcp` lists over another transport and is not repeated.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::binaries::binary;
use gitgate_bench::arm::{self, Kind};
use gitgate_bench::task::{Step, StepList, Task};
use gitgate_bench::{prices::Prices, run, task};

/// Arms the mutants run on, cheapest first.
const ARMS: [&str; 4] = ["cli", "mcp", "mcp-lean", "mcp-lean-json"];

/// Bounds at or above this are not mutated (see the module docs).
const BOUND: u64 = 100;

/// `text` with its `k`-th run of digits (under [`BOUND`]) raised by one; `None` when there
/// are fewer.
fn bump_digits(text: &str, k: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    let (range, n) = runs
        .into_iter()
        .filter_map(|r| text[r.clone()].parse::<u64>().ok().map(|n| (r, n)))
        .filter(|(_, n)| *n < BOUND)
        .nth(k)?;
    Some(format!(
        "{}{}{}",
        &text[..range.start],
        n + 1,
        &text[range.end..]
    ))
}

/// Every mutation of one JSON value that changes one number (a number, or digits in a string).
fn bump_value(v: &Value) -> Vec<Value> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(n) if n < BOUND => vec![Value::from(n + 1)],
            _ => Vec::new(),
        },
        Value::String(s) => (0..)
            .map_while(|k| bump_digits(s, k))
            .map(Value::String)
            .collect(),
        Value::Array(items) => (0..items.len())
            .flat_map(|i| {
                bump_value(&items[i]).into_iter().map(move |x| {
                    let mut c = items.clone();
                    c[i] = x;
                    Value::Array(c)
                })
            })
            .collect(),
        Value::Object(o) => o
            .iter()
            .flat_map(|(k, x)| {
                bump_value(x).into_iter().map(move |y| {
                    let mut c = o.clone();
                    c.insert(k.clone(), y);
                    Value::Object(c)
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The mutants of a step list, each with a short description.
fn mutants(list: &StepList) -> Vec<(String, StepList)> {
    let mut out = Vec::new();
    for (i, step) in list.steps.iter().enumerate() {
        let changed: Vec<Step> = match step {
            Step::Shell(line) => (0..)
                .map_while(|k| bump_digits(line, k))
                .map(Step::Shell)
                .collect(),
            Step::Tool { tool, args, ops } => bump_value(&Value::Object(args.clone()))
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(args) => Some(Step::Tool {
                        tool: tool.clone(),
                        args,
                        ops: *ops,
                    }),
                    _ => None,
                })
                .collect(),
        };
        for (k, s) in changed.into_iter().enumerate() {
            let mut m = list.clone();
            m.steps[i] = s;
            out.push((format!("step {} number {}", i + 1, k + 1), m));
        }
        if list.steps.len() > 1 {
            let mut m = list.clone();
            m.steps.remove(i);
            out.push((format!("step {} dropped", i + 1), m));
        }
    }
    out
}

/// `task` with only `list` under `name`, renamed so the report tells mutants apart.
fn variant(task: &Task, id: String, name: &str, list: StepList) -> Task {
    let mut t = task.clone();
    t.id = id;
    t.lists = BTreeMap::from([(name.to_owned(), list)]);
    t
}

fn config(tasks: Vec<Task>, arm: &str) -> run::Config {
    run::Config {
        tasks,
        arms: run::select_arms(arm::defaults(), &[arm.to_owned()]).unwrap(),
        repeat: 1,
        seed: "demo".into(),
        gitgate: binary("gitgate"),
        forge: binary("gitgate-forge"),
        prices: Prices::from_toml("[models.m]\ninput = 1.0\noutput = 1.0\n").unwrap(),
        tokenizers: vec!["o200k_base".into()],
        trace: false,
        work_dir: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_of_a_compose_step_list_fails_its_check() {
    let compose: Vec<Task> = task::embedded()
        .unwrap()
        .into_iter()
        .filter(|t| t.category == "compose")
        .collect();
    assert!(compose.len() >= 6, "{} compose tasks", compose.len());
    let all_arms = arm::defaults();
    // (task, list, kind, through a meta tool): one way of executing a list, mutated once.
    let mut done = BTreeSet::new();
    let (mut mutated, mut survivors, mut broken) = (0, Vec::new(), Vec::new());
    let mut per_arm = Vec::new();
    for arm_name in ARMS {
        let arm = all_arms.iter().find(|a| a.name == arm_name).unwrap();
        let mut tasks = Vec::new();
        for t in &compose {
            let Some((name, list)) = arm.pick(&t.lists) else {
                continue;
            };
            let way = (
                t.id.clone(),
                name.to_owned(),
                arm.kind == Kind::Cli,
                arm.via.is_some(),
            );
            if !done.insert(way) {
                continue;
            }
            tasks.push(variant(t, format!("{}~original", t.id), name, list.clone()));
            for (k, (what, m)) in mutants(list).into_iter().enumerate() {
                let id = format!("{}~{k}~{}", t.id, what.replace(' ', "-"));
                tasks.push(variant(t, id, name, m));
            }
        }
        if tasks.is_empty() {
            continue;
        }
        per_arm.push(format!(
            "{arm_name} {}",
            tasks
                .iter()
                .filter(|t| !t.id.ends_with("~original"))
                .count()
        ));
        let report = run::run(&config(tasks, arm_name), &mut |_| {})
            .await
            .unwrap();
        for t in &report.tasks {
            let a = t
                .arms
                .first()
                .unwrap_or_else(|| panic!("{} did not run on {arm_name}", t.id));
            let failure = a.attempts[0].failure.clone().unwrap_or_default();
            if t.id.ends_with("~original") {
                if !a.passed {
                    // What the failing step answered, so a red run says why.
                    let answered = a.attempts[0]
                        .steps
                        .iter()
                        .find(|s| s.is_error)
                        .map(|s| format!(" ({} answered: {})", s.call, s.result))
                        .unwrap_or_default();
                    broken.push(format!("{} on {arm_name}: {failure}{answered}", t.id));
                }
            } else {
                mutated += 1;
                if a.passed {
                    let calls: Vec<&str> = a.attempts[0]
                        .steps
                        .iter()
                        .map(|s| s.call.as_str())
                        .collect();
                    survivors.push(format!("{} on {arm_name}: {calls:?}", t.id));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "unmutated lists failed:\n{}",
        broken.join("\n")
    );
    assert!(mutated >= 40, "only {mutated} mutants");
    assert!(
        survivors.is_empty(),
        "{} of {mutated} mutants passed their check:\n{}",
        survivors.len(),
        survivors.join("\n")
    );
    eprintln!(
        "{mutated} mutants ({}), every one failed its check",
        per_arm.join(", ")
    );
}

#[test]
fn mutations_change_one_number_or_drop_one_step() {
    assert_eq!(
        bump_digits("git log -3 | head -1", 0).unwrap(),
        "git log -4 | head -1"
    );
    assert_eq!(
        bump_digits("git log -3 | head -1", 1).unwrap(),
        "git log -3 | head -2"
    );
    assert_eq!(bump_digits("gh issue list -L 100", 0), None);
    let bumped = bump_value(&serde_json::json!({"n": 3, "limit": 100, "q": "{steps.1:jq:.[0]}"}));
    let expected = [
        serde_json::json!({"n": 4, "limit": 100, "q": "{steps.1:jq:.[0]}"}),
        serde_json::json!({"n": 3, "limit": 100, "q": "{steps.2:jq:.[0]}"}),
        serde_json::json!({"n": 3, "limit": 100, "q": "{steps.1:jq:.[1]}"}),
    ];
    assert_eq!(bumped.len(), expected.len(), "{bumped:?}");
    assert!(expected.iter().all(|e| bumped.contains(e)), "{bumped:?}");
    let list = task::parse(
        "t.toml",
        "id = \"t\"\ncategory = \"compose\"\nprompt = \"p\"\n[mcp]\nsteps = [{ tool = \"a\" }, { tool = \"b\", args = { n = 2 } }]\n[check]\nanswer = { exact = \"x\" }\n",
    )
    .unwrap()
    .lists
    .remove("mcp")
    .unwrap();
    let names: Vec<String> = mutants(&list).into_iter().map(|(w, _)| w).collect();
    assert_eq!(
        names,
        ["step 1 dropped", "step 2 number 1", "step 2 dropped"]
    );
}
