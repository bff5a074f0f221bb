//! The `gitgate-bench agent` command line: its options (wired into the binary's subcommands)
//! and the run from them.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::wire::Provider;
use super::{AgentConfig, Settings};
use crate::config::{Config, select_arms};
use crate::prices::Prices;
use crate::{arm, task};

/// Arms agent mode runs when `--arms` is not given.
pub const DEFAULT_ARMS: [&str; 3] = ["cli", "mcp", "mcp-lean"];

/// Options of `gitgate-bench agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The API: `anthropic` (Messages API) or `openai` (Chat Completions, also vLLM, llama.cpp
    /// and Ollama through --base-url). The key is read from ANTHROPIC_API_KEY or
    /// OPENAI_API_KEY, and only from there.
    #[arg(long, value_name = "NAME", required_unless_present = "replay")]
    pub provider: Option<Provider>,
    /// The model name the provider knows (also looked up in the price table).
    #[arg(long, value_name = "MODEL", required_unless_present = "replay")]
    pub model: Option<String>,
    /// The API's base URL (default https://api.anthropic.com or https://api.openai.com/v1;
    /// a local server: http://127.0.0.1:8000/v1).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Ask for whole JSON responses instead of server-sent event streams.
    #[arg(long)]
    pub no_stream: bool,
    /// Model requests per attempt before it counts as unanswered.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub max_turns: u32,
    /// Tokens per attempt (input, output and cache, as the provider reports them).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_tokens: u64,
    /// Seconds per attempt's conversation.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Re-run the agent run recorded in DIR from its transcripts, with no provider; the
    /// report is the recorded one (provider, model and budgets come from DIR).
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// Directory of task files (*.toml) to run instead of the embedded suite.
    #[arg(long, value_name = "DIR")]
    pub tasks: Option<PathBuf>,
    /// Only these task ids (comma-separated).
    #[arg(long = "task", value_name = "ID", value_delimiter = ',')]
    pub task_ids: Vec<String>,
    /// Arms to run, in this order (comma-separated; default cli,mcp,mcp-lean).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub arms: Vec<String>,
    /// Arms file (TOML) to use instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    pub arms_file: Option<PathBuf>,
    /// Attempts per task and arm: pass^k is over these, medians too.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub repeat: u32,
    /// Forge seed every attempt starts from.
    #[arg(long, default_value = "demo")]
    pub seed: String,
    /// Output directory: agent.json, agent.md, agent.html and transcripts/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The gitgate binary (default: next to this one, else `gitgate` on PATH).
    #[arg(long, env = "GITGATE_BIN", value_name = "BIN")]
    pub gitgate: Option<PathBuf>,
    /// The gitgate-forge binary (default: next to this one, else `gitgate-forge` on PATH).
    #[arg(long, env = "GITGATE_FORGE_BIN", value_name = "BIN")]
    pub forge: Option<PathBuf>,
    /// Price table (TOML: [models.NAME] input = USD/Mtok, output = USD/Mtok).
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Keep every attempt's files (forge data, clone, logs) in this directory.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// The run's configuration from the options; `sibling` finds a workspace binary by name.
pub fn config(args: &AgentArgs, sibling: &dyn Fn(&str) -> PathBuf) -> Result<AgentConfig> {
    let recorded = args
        .replay
        .as_deref()
        .map(super::read_run_info)
        .transpose()?;
    let tasks = match &args.tasks {
        Some(dir) => task::load_dir(dir)?,
        None => task::embedded()?,
    };
    // A replay runs what was recorded, in the recorded order.
    let (task_ids, arm_names, repeat, seed) = match &recorded {
        Some(r) => (r.tasks.clone(), r.arms.clone(), r.repeat, r.seed.clone()),
        None => (
            args.task_ids.clone(),
            if args.arms.is_empty() {
                DEFAULT_ARMS.iter().map(|s| (*s).to_owned()).collect()
            } else {
                args.arms.clone()
            },
            args.repeat,
            args.seed.clone(),
        ),
    };
    let tasks = pick_tasks(tasks, &task_ids)?;
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let all_arms = match &args.arms_file {
        Some(path) => arm::parse(&read(path)?)?,
        None => arm::defaults(),
    };
    let arms = select_arms(all_arms, &arm_names)?;
    let prices = match &args.prices {
        Some(path) => Prices::from_toml(&read(path)?)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("price table {}", path.display()))?,
        None => Prices::default_table(),
    };
    let settings = match recorded {
        Some(r) => r.settings,
        None => settings(args)?,
    };
    Ok(AgentConfig {
        run: Config {
            tasks,
            arms,
            repeat,
            seed,
            gitgate: args.gitgate.clone().unwrap_or_else(|| sibling("gitgate")),
            forge: args
                .forge
                .clone()
                .unwrap_or_else(|| sibling("gitgate-forge")),
            prices,
            tokenizers: vec!["o200k_base".into()],
            trace: false,
            work_dir: args.work_dir.clone(),
        },
        out: args.out.clone(),
        api_key: std::env::var(settings.provider.key_variable()).ok(),
        replay: args.replay.clone(),
        settings,
    })
}

/// The tasks named by `ids`, in that order (all when none are named).
fn pick_tasks(mut tasks: Vec<task::Task>, ids: &[String]) -> Result<Vec<task::Task>> {
    if ids.is_empty() {
        return Ok(tasks);
    }
    let mut picked = Vec::new();
    for id in ids {
        let i = tasks
            .iter()
            .position(|t| t.id == *id)
            .with_context(|| format!("no task {id:?}"))?;
        picked.push(tasks.swap_remove(i));
    }
    Ok(picked)
}

/// The model and budgets from the options of a live run.
fn settings(args: &AgentArgs) -> Result<Settings> {
    let (Some(provider), Some(model)) = (args.provider, args.model.clone()) else {
        bail!("--provider and --model are needed (or --replay DIR)");
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    Ok(Settings {
        provider,
        model,
        base_url: args
            .base_url
            .clone()
            .unwrap_or_else(|| provider.default_base_url().to_owned()),
        stream: !args.no_stream,
        max_turns: args.max_turns,
        max_tokens: args.max_tokens,
        timeout_s: args.timeout,
    })
}

/// Runs `gitgate-bench agent`: the attempts, the summary on stdout, the reports in --out.
pub fn main(args: &AgentArgs, sibling: &dyn Fn(&str) -> PathBuf) -> Result<()> {
    let config = config(args, sibling)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(super::run(&config, &mut |line| {
        eprintln!("[agent] {line}");
    }))?;
    drop(runtime);
    print!("{}", crate::report::agent::text(&report));
    super::write_reports(&report, &config.out)?;
    eprintln!(
        "gitgate-bench agent: reports and transcripts in {}",
        config.out.display()
    );
    Ok(())
}
