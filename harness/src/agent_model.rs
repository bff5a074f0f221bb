//! The results of `gitgate-bench agent`, as `agent.json` holds them (and `report.json`'s
//! optional `agent` section, so the committed schema describes them): per task, arm and repeat
//! one [`AgentAttempt`]; per arm an [`AgentArmSummary`] with success rate, pass^k and medians.
//!
//! Apart from `agent` (which runs attempts) so that the report model and the renderers can
//! name these types without importing the runner.

use serde::{Deserialize, Serialize};

/// Tokens a provider reports for one request or summed over an attempt. `input` excludes
/// cached input on both APIs (OpenAI's `prompt_tokens` includes it; the cached part is moved
/// to `cache_read`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
    }

    /// Every token counted, in and out.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }
}

/// One `gitgate-bench agent` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentReport {
    /// Format version of this section.
    pub version: u32,
    /// `anthropic` or `openai`.
    pub provider: String,
    pub model: String,
    /// RFC 3339, UTC, when the (original, for a replay) run started.
    pub started_at: String,
    pub settings: AgentSettings,
    /// One per arm, in the order they ran.
    pub arms: Vec<AgentArmSummary>,
    pub tasks: Vec<AgentTask>,
}

/// The budgets and options every attempt ran under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentSettings {
    pub max_turns: u32,
    /// Tokens (input, output and cache, as the provider reports them) per attempt.
    pub max_tokens: u64,
    pub timeout_s: f64,
    pub repeat: u32,
    /// Responses were streamed (server-sent events).
    pub stream: bool,
    pub seed: String,
    /// The price-table model the cost is computed with (`None`: the model is not in the table).
    pub price_model: Option<String>,
}

/// One task across arms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentTask {
    pub id: String,
    pub arms: Vec<AgentTaskArm>,
}

/// One task on one arm: its repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentTaskArm {
    pub arm: String,
    /// Every attempt succeeded.
    pub pass_k: bool,
    pub attempts: Vec<AgentAttempt>,
}

/// Tool calls that went wrong, by kind; `help` counts requests for help (not failures, but
/// what the model had to ask).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ToolErrors {
    pub unknown_tool: u32,
    pub bad_arguments: u32,
    pub failed: u32,
    pub help: u32,
}

impl ToolErrors {
    pub fn add(&mut self, o: &ToolErrors) {
        self.unknown_tool += o.unknown_tool;
        self.bad_arguments += o.bad_arguments;
        self.failed += o.failed;
        self.help += o.help;
    }

    /// Errors proper (help requests not counted).
    pub fn errors(&self) -> u32 {
        self.unknown_tool + self.bad_arguments + self.failed
    }
}

/// One attempt: a model given the arm's tools, until it answered or a budget ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentAttempt {
    /// The answer and the end state passed the task's checks.
    pub passed: bool,
    /// Why not, when it did not.
    pub failure: Option<String>,
    /// How the conversation ended: `answered`, `max_turns`, `max_tokens`, `timeout`, `provider_error`,
    /// `interface_error`.
    pub stop: String,
    /// The final answer (abbreviated).
    pub answer: Option<String>,
    /// Model requests made.
    pub turns: u32,
    pub tool_calls: u32,
    pub tool_errors: ToolErrors,
    /// Summed over turns, as the provider reported it.
    pub usage: Usage,
    /// USD under the price table (cache tokens priced as input: the table has no cache prices).
    pub cost_usd: Option<f64>,
    /// Seconds from the first request to the end of the conversation.
    pub wall_s: f64,
    /// The transcript, relative to the output directory.
    pub transcript: String,
    /// A replay's tool results that differ from the recorded ones (not part of the report:
    /// a replay reports them on stderr).
    #[serde(skip)]
    pub replay_divergences: u32,
}

/// One arm over every task and repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentArmSummary {
    pub arm: String,
    pub attempts: u32,
    pub successes: u32,
    pub success_rate: f64,
    pub tasks: u32,
    /// Tasks whose every attempt succeeded.
    pub pass_k_tasks: u32,
    /// `pass_k_tasks / tasks`: pass^k with k = the repeat count.
    pub pass_k: f64,
    pub median_turns: f64,
    pub median_tool_calls: f64,
    pub median_input_tokens: f64,
    pub median_output_tokens: f64,
    pub median_cache_read_tokens: f64,
    pub median_cache_write_tokens: f64,
    pub median_cost_usd: Option<f64>,
    pub total_cost_usd: Option<f64>,
    pub median_wall_s: f64,
    /// Summed over attempts.
    pub tool_errors: ToolErrors,
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The per-arm summaries, arms in `order`.
pub fn summarize(order: &[String], tasks: &[AgentTask]) -> Vec<AgentArmSummary> {
    order
        .iter()
        .map(|arm| {
            let runs: Vec<&AgentTaskArm> = tasks
                .iter()
                .flat_map(|t| t.arms.iter().filter(|a| a.arm == *arm))
                .collect();
            let all: Vec<&AgentAttempt> = runs.iter().flat_map(|r| &r.attempts).collect();
            let of = |f: &dyn Fn(&AgentAttempt) -> f64| {
                median(&all.iter().map(|a| f(a)).collect::<Vec<_>>())
            };
            let costs: Option<Vec<f64>> = all.iter().map(|a| a.cost_usd).collect();
            let successes = all.iter().filter(|a| a.passed).count() as u32;
            let pass_k_tasks = runs.iter().filter(|r| r.pass_k).count() as u32;
            let mut tool_errors = ToolErrors::default();
            for a in &all {
                tool_errors.add(&a.tool_errors);
            }
            let ratio = |n: u32, d: usize| if d == 0 { 0.0 } else { f64::from(n) / d as f64 };
            AgentArmSummary {
                arm: arm.clone(),
                attempts: all.len() as u32,
                successes,
                success_rate: ratio(successes, all.len()),
                tasks: runs.len() as u32,
                pass_k_tasks,
                pass_k: ratio(pass_k_tasks, runs.len()),
                median_turns: of(&|a| f64::from(a.turns)),
                median_tool_calls: of(&|a| f64::from(a.tool_calls)),
                median_input_tokens: of(&|a| a.usage.input as f64),
                median_output_tokens: of(&|a| a.usage.output as f64),
                median_cache_read_tokens: of(&|a| a.usage.cache_read as f64),
                median_cache_write_tokens: of(&|a| a.usage.cache_write as f64),
                median_cost_usd: costs.as_deref().filter(|c| !c.is_empty()).map(median),
                total_cost_usd: costs.filter(|c| !c.is_empty()).map(|c| c.iter().sum()),
                median_wall_s: of(&|a| a.wall_s),
                tool_errors,
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn attempt(passed: bool, turns: u32) -> AgentAttempt {
        AgentAttempt {
            passed,
            failure: None,
            stop: "answered".into(),
            answer: None,
            turns,
            tool_calls: turns.saturating_sub(1),
            tool_errors: ToolErrors {
                failed: u32::from(!passed),
                ..ToolErrors::default()
            },
            usage: Usage::default(),
            cost_usd: Some(0.5),
            wall_s: 1.0,
            transcript: String::new(),
            replay_divergences: 0,
        }
    }

    #[test]
    fn agent_summary_takes_pass_k_over_tasks_and_medians_over_attempts() {
        let task = |id: &str, results: &[(bool, u32)]| AgentTask {
            id: id.into(),
            arms: vec![AgentTaskArm {
                arm: "cli".into(),
                pass_k: results.iter().all(|r| r.0),
                attempts: results.iter().map(|&(p, t)| attempt(p, t)).collect(),
            }],
        };
        let tasks = [
            task("a", &[(true, 2), (true, 4)]),
            task("b", &[(true, 3), (false, 9)]),
        ];
        let s = &summarize(&["cli".into()], &tasks)[0];
        assert_eq!(
            (s.attempts, s.successes, s.tasks, s.pass_k_tasks),
            (4, 3, 2, 1)
        );
        assert_eq!((s.success_rate, s.pass_k), (0.75, 0.5));
        assert_eq!(s.median_turns, 3.5);
        assert_eq!(s.total_cost_usd, Some(2.0));
        assert_eq!(s.tool_errors.failed, 1);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}
