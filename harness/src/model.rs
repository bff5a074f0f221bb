//! The results of a comparison run, as `report.json` holds them. Everything the report renders
//! (terminal table, Markdown, HTML) is read from these types, and their JSON Schema is committed as
//! `schemas/report.schema.json`.
//!
//! Figures are per task, per arm, per repeat ([`Attempt`]); [`Summary`] carries medians and spread
//! over repeats. Scenario-level dimensions (multi-user auth, enterprise governance) are measured
//! once per arm by a scenario, not per task ([`ScenarioResult`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One `gitgate-bench run`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    /// Format version of this document.
    pub version: u32,
    pub meta: RunMeta,
    /// Arms in the order they ran.
    pub arms: Vec<ArmInfo>,
    pub tasks: Vec<TaskReport>,
    pub scenarios: Vec<ScenarioResult>,
    /// Totals and medians per arm and dimension, as the summary table prints them.
    pub summary: Vec<ArmSummary>,
    /// `gitgate-bench agent`'s results (its `agent.json`), when a report carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<crate::agent_model::AgentReport>,
}

/// What ran, where, with what.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunMeta {
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_s: f64,
    pub repeat: u32,
    /// Fixture seed name (e.g. "demo").
    pub seed: String,
    /// Tokenizers counted with; the first is the primary one used in tables.
    pub tokenizers: Vec<String>,
    /// Tool versions: gitgate, gitgate-forge, git, gh, jq, bash, peer servers...
    pub versions: BTreeMap<String, String>,
    /// CPU model, cores, memory, OS.
    pub machine: BTreeMap<String, String>,
    /// Price table used for cost: model name -> USD per million input tokens.
    pub prices_per_mtok: BTreeMap<String, f64>,
    /// Model name -> USD per million output tokens (calls and final answer).
    #[serde(default)]
    pub output_prices_per_mtok: BTreeMap<String, f64>,
    /// How `processes_spawned` was obtained: `strace` (counted in an untimed traced attempt per
    /// task and arm) or `static` (one per shell pipeline element plus bash; one per server).
    #[serde(default)]
    pub process_count_method: String,
}

/// One arm: how tasks were run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArmInfo {
    /// `cli`, `mcp`, `mcp-http`, `mcp-lean`, `peer:mcp-server-git`, ...
    pub name: String,
    /// `cli` or `mcp`.
    pub kind: String,
    /// Human description (command line of the server, transport).
    pub description: String,
    /// Why the arm did not run (a tool it needs is missing), when it did not.
    #[serde(default)]
    pub skipped: Option<String>,
}

/// One task across arms.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskReport {
    pub id: String,
    pub category: String,
    pub prompt: String,
    /// One entry per arm that has steps for this task (an arm without steps is absent).
    pub arms: Vec<TaskArmReport>,
}

/// One task on one arm: every repeat and the summary over them.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskArmReport {
    pub arm: String,
    /// The task's step list this arm ran (`mcp-lean` falls back to `mcp`).
    #[serde(default)]
    pub step_list: String,
    /// True only when every repeat's check passed.
    pub passed: bool,
    pub attempts: Vec<Attempt>,
    pub summary: Summary,
}

/// One run of one task on one arm.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attempt {
    pub passed: bool,
    /// Why the check failed (answer or end state), or why a step could not run.
    pub failure: Option<String>,
    /// Token counts per tokenizer name.
    pub tokens: BTreeMap<String, Tokens>,
    /// Round trips: model turns that call a tool (one per step).
    pub round_trips: u32,
    /// Round trips in the worst case of native knowledge: `round_trips` plus one fetch per
    /// distinct tool whose definition the model does not know (see [`Tokens::worst_teach`]).
    #[serde(default)]
    pub worst_round_trips: u32,
    /// Primitive operations done (commands in a pipeline, inner calls of a pipeline tool).
    pub operations: u32,
    pub processes_spawned: u32,
    /// TCP connections the arm opened to the API (forge `/_forge/stats`).
    pub api_connections: u32,
    /// API requests the arm made (forge `/_forge/stats`).
    pub api_requests: u32,
    /// Wall time per step, milliseconds.
    pub step_latency_ms: Vec<f64>,
    /// Server start until it answered `initialize` (MCP arms), milliseconds.
    pub cold_start_ms: Option<f64>,
    /// The answer as read off the final result (what the model would reply).
    #[serde(default)]
    pub answer: Option<String>,
    pub steps: Vec<StepRecord>,
}

/// Token counts of one attempt under one tokenizer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tokens {
    /// The tool definitions the model is given (CLI: one shell tool; MCP: `tools/list`).
    pub interface: u64,
    /// What must be taught before the first call (native knowledge).
    pub teach: u64,
    /// What the model writes: the tool calls.
    pub calls: u64,
    /// What comes back: tool results as forwarded to the model.
    pub results: u64,
    /// Sum over turns of what the model is sent (interface + prompt + history so far).
    pub context: u64,
    /// What the model writes as its final answer.
    #[serde(default)]
    pub answer: u64,
    /// Native knowledge, worst case: tokens of the definitions the model fetches when it
    /// fetches the definition of every distinct tool before its first call (lean mode: the
    /// meta tool's `help` per inner tool; full MCP: the tool's `tools/list` entry; CLI and
    /// command lines through a run form: none). Equals `teach` minus the interface's share
    /// when nothing needs fetching.
    #[serde(default)]
    pub worst_teach: u64,
    /// `context` in that worst case: each fetch an extra round trip before the tool's first
    /// call.
    #[serde(default)]
    pub worst_context: u64,
    /// `context` priced under each entry of the price table, USD (plus `calls` and `answer`
    /// at the output price).
    pub cost_usd: BTreeMap<String, f64>,
}

/// One step as it ran (kept for the report's detail view and for debugging a failed check).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    /// The shell command line, or `tool(arguments-json)`.
    pub call: String,
    /// The result as the model would see it (truncated in the report, not in counting).
    pub result: String,
    pub is_error: bool,
    pub latency_ms: f64,
}

/// Medians and spread over repeats of one task on one arm (passing attempts only when any pass).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Primary tokenizer's median figures.
    pub context_tokens: Stat,
    pub interface_tokens: Stat,
    pub result_tokens: Stat,
    pub call_tokens: Stat,
    pub round_trips: Stat,
    /// Native knowledge, worst case (see [`Tokens::worst_context`]).
    #[serde(default)]
    pub worst_context_tokens: Stat,
    #[serde(default)]
    pub worst_round_trips: Stat,
    pub operations_per_round_trip: Stat,
    pub processes_spawned: Stat,
    pub api_connections: Stat,
    pub latency_ms_p50: Stat,
    pub latency_ms_p95: Stat,
    pub cold_start_ms: Option<Stat>,
}

/// A median with its spread.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// A scenario's figures for one arm (multi-user auth, enterprise governance).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioResult {
    /// `multi-user-auth`, `governance`.
    pub scenario: String,
    /// The dimension it measures (`multi_user_auth`, `enterprise_governance`).
    pub dimension: String,
    pub arm: String,
    /// Named figures, e.g. `attribution_share` 1.0, `users_cut_off_by_one_revocation` 1.
    pub figures: BTreeMap<String, f64>,
    /// Yes/no findings, e.g. `tampering_detected`, `forbidden_merge_blocked`.
    pub findings: BTreeMap<String, bool>,
    /// One line per observation, for the report.
    pub notes: Vec<String>,
}

/// Totals per arm over the tasks every arm passed, and per dimension.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArmSummary {
    pub arm: String,
    pub tasks_run: u32,
    pub tasks_passed: u32,
    /// Dimension name -> figure name -> value (e.g. `token_cost` -> `context_tokens_total`).
    pub dimensions: BTreeMap<String, BTreeMap<String, f64>>,
}
