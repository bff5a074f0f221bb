//! Medians and spread over repeats ([`task_summary`]) and per-arm totals by dimension
//! ([`arm_summaries`]), computed from the attempts alone.

use std::collections::BTreeMap;

use crate::model::{ArmSummary, Attempt, Stat, Summary, TaskArmReport, TaskReport, Tokens};
use crate::stats::quantile;

/// Median (mean of the middle two for an even count), min and max; zeros when empty.
pub fn stat(values: &[f64]) -> Stat {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return Stat::default();
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Stat {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

fn step_quantile(a: &Attempt, q: f64) -> f64 {
    let mut l = a.step_latency_ms.clone();
    l.sort_by(f64::total_cmp);
    quantile(&l, q)
}

/// The attempts a summary is taken over: the passing ones when any passed, else all.
pub fn counted(attempts: &[Attempt]) -> Vec<&Attempt> {
    let passing: Vec<&Attempt> = attempts.iter().filter(|a| a.passed).collect();
    if passing.is_empty() {
        attempts.iter().collect()
    } else {
        passing
    }
}

/// Summary of one task on one arm under the primary tokenizer.
pub fn task_summary(attempts: &[Attempt], primary: &str) -> Summary {
    let a = counted(attempts);
    let tok = |f: fn(&Tokens) -> u64| -> Stat {
        stat(
            &a.iter()
                .map(|x| x.tokens.get(primary).map_or(f64::NAN, |t| f(t) as f64))
                .collect::<Vec<_>>(),
        )
    };
    let by = |f: &dyn Fn(&Attempt) -> f64| stat(&a.iter().map(|x| f(x)).collect::<Vec<_>>());
    let cold: Vec<f64> = a.iter().filter_map(|x| x.cold_start_ms).collect();
    Summary {
        context_tokens: tok(|t| t.context),
        interface_tokens: tok(|t| t.interface),
        result_tokens: tok(|t| t.results),
        call_tokens: tok(|t| t.calls),
        round_trips: by(&|x| f64::from(x.round_trips)),
        worst_context_tokens: tok(|t| t.worst_context),
        worst_round_trips: by(&|x| f64::from(x.worst_round_trips)),
        operations_per_round_trip: by(&|x| {
            f64::from(x.operations) / f64::from(x.round_trips.max(1))
        }),
        processes_spawned: by(&|x| f64::from(x.processes_spawned)),
        api_connections: by(&|x| f64::from(x.api_connections)),
        latency_ms_p50: by(&|x| step_quantile(x, 0.5)),
        latency_ms_p95: by(&|x| step_quantile(x, 0.95)),
        cold_start_ms: (!cold.is_empty()).then(|| stat(&cold)),
    }
}

/// Per-arm totals. A task counts towards the totals when every arm that ran it passed it
/// (so arms are compared on the same tasks); `tasks_counted` says how many that is.
pub fn arm_summaries(arms: &[String], tasks: &[TaskReport], primary: &str) -> Vec<ArmSummary> {
    let common: Vec<&TaskReport> = tasks
        .iter()
        .filter(|t| !t.arms.is_empty() && t.arms.iter().all(|a| a.passed))
        .collect();
    arms.iter()
        .map(|arm| {
            let ran: Vec<_> = tasks
                .iter()
                .filter_map(|t| t.arms.iter().find(|a| a.arm == *arm))
                .collect();
            let mine = Counted(
                common
                    .iter()
                    .filter_map(|t| t.arms.iter().find(|a| a.arm == *arm))
                    .collect(),
            );
            let mut native = BTreeMap::new();
            native.insert("teach_tokens".into(), mine.tokens(primary, |t| t.teach));
            // The worst case: every distinct tool's definition fetched before its first call.
            native.insert(
                "worst_teach_tokens".into(),
                mine.tokens(primary, |t| t.worst_teach),
            );
            native.insert(
                "worst_context_tokens".into(),
                mine.tokens(primary, |t| t.worst_context),
            );
            native.insert(
                "worst_round_trips".into(),
                mine.sum(&|a| f64::from(a.worst_round_trips)),
            );
            let mut dimensions = BTreeMap::new();
            dimensions.insert("token_cost".into(), token_cost(&mine, primary));
            dimensions.insert("native_knowledge".into(), native);
            dimensions.insert("composability".into(), composability(&mine));
            dimensions.insert("stateful_sessions".into(), sessions(&mine));
            ArmSummary {
                arm: arm.clone(),
                tasks_run: ran.len() as u32,
                tasks_passed: ran.iter().filter(|r| r.passed).count() as u32,
                dimensions,
            }
        })
        .collect()
}

/// One arm's reports of the tasks counted towards the totals.
struct Counted<'a>(Vec<&'a TaskArmReport>);

impl Counted<'_> {
    /// Per task, the median attempt figure; then summed over tasks.
    fn sum(&self, f: &dyn Fn(&Attempt) -> f64) -> f64 {
        self.0
            .iter()
            .map(|r| {
                stat(
                    &counted(&r.attempts)
                        .iter()
                        .map(|a| f(a))
                        .collect::<Vec<_>>(),
                )
                .median
            })
            .sum()
    }

    /// [`sum`](Self::sum) of one token figure under tokenizer `name`.
    fn tokens(&self, name: &str, f: fn(&Tokens) -> u64) -> f64 {
        self.sum(&|a: &Attempt| a.tokens.get(name).map_or(0.0, |t| f(t) as f64))
    }

    /// The first attempt's tokens under `name`, for the keys every attempt shares.
    fn first_tokens(&self, name: &str) -> Option<&Tokens> {
        self.0
            .first()
            .and_then(|r| r.attempts.first())
            .and_then(|a| a.tokens.get(name))
    }
}

/// Token figures, context under every other tokenizer, and cost per model.
fn token_cost(mine: &Counted<'_>, primary: &str) -> BTreeMap<String, f64> {
    let mut token_cost = BTreeMap::new();
    token_cost.insert("tasks_counted".into(), mine.0.len() as f64);
    token_cost.insert("context_tokens".into(), mine.tokens(primary, |t| t.context));
    token_cost.insert("call_tokens".into(), mine.tokens(primary, |t| t.calls));
    token_cost.insert("result_tokens".into(), mine.tokens(primary, |t| t.results));
    token_cost.insert("answer_tokens".into(), mine.tokens(primary, |t| t.answer));
    token_cost.insert(
        "interface_tokens".into(),
        stat(
            &mine
                .0
                .iter()
                .flat_map(|r| r.attempts.iter())
                .filter_map(|a| a.tokens.get(primary).map(|t| t.interface as f64))
                .collect::<Vec<_>>(),
        )
        .median,
    );
    let tokenizers: Vec<String> = mine
        .0
        .first()
        .and_then(|r| r.attempts.first())
        .map(|a| a.tokens.keys().cloned().collect())
        .unwrap_or_default();
    for name in tokenizers.iter().filter(|n| *n != primary) {
        token_cost.insert(
            format!("context_tokens@{name}"),
            mine.tokens(name, |t| t.context),
        );
    }
    let models: Vec<String> = mine
        .first_tokens(primary)
        .map(|t| t.cost_usd.keys().cloned().collect())
        .unwrap_or_default();
    for model in models {
        let cost = mine.sum(&|a: &Attempt| {
            a.tokens
                .get(primary)
                .and_then(|t| t.cost_usd.get(&model))
                .copied()
                .unwrap_or(0.0)
        });
        token_cost.insert(format!("cost_usd:{model}"), cost);
    }
    token_cost
}

/// Round trips, operations and their ratio.
fn composability(mine: &Counted<'_>) -> BTreeMap<String, f64> {
    let round_trips = mine.sum(&|a| f64::from(a.round_trips));
    let operations = mine.sum(&|a| f64::from(a.operations));
    let mut compose = BTreeMap::new();
    compose.insert("round_trips".into(), round_trips);
    compose.insert("operations".into(), operations);
    compose.insert(
        "operations_per_round_trip".into(),
        if round_trips > 0.0 {
            operations / round_trips
        } else {
            0.0
        },
    );
    compose
}

/// Processes, API use, latency pooled over all steps, and the median cold start.
fn sessions(mine: &Counted<'_>) -> BTreeMap<String, f64> {
    let mut latencies: Vec<f64> = mine
        .0
        .iter()
        .flat_map(|r| counted(&r.attempts))
        .flat_map(|a| a.step_latency_ms.iter().copied())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let cold: Vec<f64> = mine
        .0
        .iter()
        .flat_map(|r| counted(&r.attempts))
        .filter_map(|a| a.cold_start_ms)
        .collect();
    let mut sessions = BTreeMap::new();
    sessions.insert(
        "processes_spawned".into(),
        mine.sum(&|a| f64::from(a.processes_spawned)),
    );
    sessions.insert(
        "api_connections".into(),
        mine.sum(&|a| f64::from(a.api_connections)),
    );
    sessions.insert(
        "api_requests".into(),
        mine.sum(&|a| f64::from(a.api_requests)),
    );
    if !latencies.is_empty() {
        sessions.insert("latency_ms_p50".into(), quantile(&latencies, 0.5));
        sessions.insert("latency_ms_p95".into(), quantile(&latencies, 0.95));
    }
    if !cold.is_empty() {
        sessions.insert("cold_start_ms".into(), stat(&cold).median);
    }
    sessions
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn attempt(passed: bool, context: u64, rt: u32, lat: &[f64]) -> Attempt {
        let mut tokens = BTreeMap::new();
        tokens.insert(
            "o200k_base".to_owned(),
            Tokens {
                context,
                interface: 10,
                ..Default::default()
            },
        );
        Attempt {
            passed,
            failure: None,
            tokens,
            round_trips: rt,
            worst_round_trips: rt + 1,
            operations: rt * 2,
            processes_spawned: 3,
            api_connections: 1,
            api_requests: 2,
            step_latency_ms: lat.to_vec(),
            cold_start_ms: None,
            answer: None,
            steps: Vec::new(),
        }
    }

    #[test]
    fn medians_and_spread() {
        let s = stat(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(stat(&[1.0, 4.0]).median, 2.5);
        assert_eq!(stat(&[]).median, 0.0);
    }

    #[test]
    fn task_summary_uses_passing_attempts() {
        let a = [
            attempt(true, 100, 2, &[1.0, 3.0]),
            attempt(false, 999, 9, &[50.0]),
            attempt(true, 120, 2, &[2.0, 4.0]),
        ];
        let s = task_summary(&a, "o200k_base");
        assert_eq!(
            (s.context_tokens.median, s.context_tokens.max),
            (110.0, 120.0)
        );
        assert_eq!(s.round_trips.median, 2.0);
        assert_eq!(s.operations_per_round_trip.median, 2.0);
        assert_eq!(s.latency_ms_p50.min, 1.0);
        assert_eq!(s.latency_ms_p95.max, 4.0);
    }

    fn report(id: &str, arms: &[(&str, bool, u64)]) -> TaskReport {
        TaskReport {
            id: id.into(),
            category: "git-read".into(),
            prompt: String::new(),
            arms: arms
                .iter()
                .map(|(arm, passed, ctx)| TaskArmReport {
                    arm: (*arm).into(),
                    step_list: String::new(),
                    passed: *passed,
                    attempts: vec![attempt(*passed, *ctx, 1, &[1.0])],
                    summary: Summary::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn totals_only_over_tasks_every_arm_passed() {
        let tasks = [
            report("a", &[("cli", true, 100), ("mcp", true, 300)]),
            report("b", &[("cli", true, 50), ("mcp", false, 70)]),
            report("c", &[("cli", true, 10)]),
        ];
        let s = arm_summaries(&["cli".into(), "mcp".into()], &tasks, "o200k_base");
        let cli = &s[0];
        assert_eq!((cli.tasks_run, cli.tasks_passed), (3, 3));
        assert_eq!(cli.dimensions["token_cost"]["context_tokens"], 110.0);
        assert_eq!(cli.dimensions["token_cost"]["tasks_counted"], 2.0);
        let mcp = &s[1];
        assert_eq!((mcp.tasks_run, mcp.tasks_passed), (2, 1));
        assert_eq!(mcp.dimensions["token_cost"]["context_tokens"], 300.0);
        assert_eq!(mcp.dimensions["composability"]["round_trips"], 1.0);
    }
}
