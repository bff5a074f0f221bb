//! The `gitgate-bench` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// gitgate-bench: runs agent tasks through shell CLIs and through MCP and compares them.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the task suite on every arm (CLI, gitgate over stdio and HTTP, peer MCP servers),
    /// check each answer and end state, and report the six dimensions.
    ///
    /// Each task runs on each arm from a fresh copy of one seeded forge and working clone.
    /// Progress goes to stderr; the summary tables to stdout; report.json, report.md and
    /// report.html to --out. Task and arm file formats and every figure's definition:
    /// harness/README.md.
    Run(Box<RunArgs>),
    /// Run the tasks with a real model choosing the calls (Anthropic Messages API or OpenAI
    /// Chat Completions, including OpenAI-compatible local servers), one conversation per
    /// task, arm and repeat; judged by the same checks as `run`.
    ///
    /// The CLI arm gives the model one `bash` tool in the attempt's clone; an MCP arm gives it
    /// the server's tools/list. Writes agent.json, agent.md, agent.html and one JSON Lines
    /// transcript per attempt to --out; --replay DIR re-runs a recorded run without a provider
    /// and reproduces its report. API keys come from ANTHROPIC_API_KEY / OPENAI_API_KEY only.
    Agent(Box<gitgate_bench::agent::cli::AgentArgs>),
    /// Per-call latency of git_log (5 commits), git_status and git_diff through a stdio MCP
    /// client, against `bash -c 'git ...'` giving the same information, on a fixed repository;
    /// then the cost of auth plus audit per git_status call (stdio and HTTP, on SQLite).
    Micro {
        /// The gitgate binary (default: next to this one, else `gitgate` on PATH).
        #[arg(long, env = "GITGATE_BIN")]
        gitgate: Option<PathBuf>,
        /// Commits in the fixture history.
        #[arg(long, default_value_t = 1000)]
        commits: usize,
        /// Measured calls per operation and arm.
        #[arg(long, default_value_t = 300)]
        iterations: usize,
        /// Unmeasured warm-up calls per operation and arm.
        #[arg(long, default_value_t = 30)]
        warmup: usize,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Measure only the cost of auth plus audit (skip the MCP-against-CLI latency table).
        #[arg(long)]
        auth_cost_only: bool,
    },
    /// Load: N users, each with their own token and MCP session, calling one gitgate HTTP
    /// server at once; reports calls/s, p50/p95/p99 latency, errors, the server's RSS and the
    /// audit check.
    ///
    /// Sets up a temporary repository and a fresh store (a SQLite file, or a new schema on
    /// PostgreSQL with --postgres), adds the users with `gitgate users`, starts `gitgate serve
    /// --http`, opens one session per user and makes one call each, then drives git_status and
    /// git_log (5 commits) alternately: closed loop with --concurrency callers, or open loop at
    /// --rate calls/s (latency counted from each call's scheduled send time). Every reply is
    /// checked (HTTP 200, a JSON-RPC result, not isError); errors are counted by kind. After
    /// the run the server is stopped and `gitgate audit verify` must find exactly one event per
    /// call that reached its tool (successes and tool errors; refusals before the tool, such
    /// as HTTP 429, may or may not have one). RSS is the server's VmRSS idle (after setup), peak (sampled every 100 ms
    /// under load; VmHWM too), after the load, and settled (--settle seconds after the
    /// sessions closed). Progress goes to stderr, a table to stdout.
    ///
    /// --compare OLD runs the same load on a second binary (own store and server) in
    /// alternating rounds, A B A B ..., and reports both and their ratio.
    ///
    /// Exits 1 when the audit check fails.
    Load(Box<LoadArgs>),
    /// Write the JSON Schema of report.json (generated from the report model), or with
    /// --check fail when the file differs from it.
    Schema {
        /// The schema file.
        #[arg(long, default_value = "schemas/report.schema.json")]
        out: PathBuf,
        /// Only check that the file is current.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Directory of task files (*.toml) to run instead of the embedded suite.
    #[arg(long, value_name = "DIR")]
    tasks: Option<PathBuf>,
    /// Only these task ids (comma-separated).
    #[arg(long = "task", value_name = "ID", value_delimiter = ',')]
    task_ids: Vec<String>,
    /// Arms to run, in this order (comma-separated; default every arm of the arms file:
    /// cli, mcp, mcp-http, peer:mcp-server-git).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    arms: Vec<String>,
    /// Arms file (TOML) to use instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    arms_file: Option<PathBuf>,
    /// Attempts per task and arm; medians and min/max are taken over them.
    #[arg(long, default_value_t = 1, value_name = "N")]
    repeat: u32,
    /// Forge seed every attempt starts from.
    #[arg(long, default_value = "demo")]
    seed: String,
    /// Output directory for report.json, report.md and report.html.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The gitgate binary (default: next to this one, else `gitgate` on PATH).
    #[arg(long, env = "GITGATE_BIN", value_name = "BIN")]
    gitgate: Option<PathBuf>,
    /// The gitgate-forge binary (default: next to this one, else `gitgate-forge` on PATH).
    #[arg(long, env = "GITGATE_FORGE_BIN", value_name = "BIN")]
    forge: Option<PathBuf>,
    /// Price table (TOML: [models.NAME] input = USD/Mtok, output = USD/Mtok).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Tokenizers, primary first (o200k_base, cl100k_base).
    #[arg(long, value_delimiter = ',', default_values_t = ["o200k_base".to_string(), "cl100k_base".to_string()])]
    tokenizers: Vec<String>,
    /// Do not count processes with strace (use the static count instead).
    #[arg(long)]
    no_trace: bool,
    /// Skip the multi-user auth and governance scenarios.
    #[arg(long)]
    no_scenarios: bool,
    /// Keep every attempt's files (forge data, clone, logs, traces) in this directory.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// The gitgate binary (default: next to this one, else `gitgate` on PATH).
    #[arg(long, env = "GITGATE_BIN", value_name = "BIN")]
    gitgate: Option<PathBuf>,
    /// A second gitgate binary to run the same load against, in alternating rounds; the report
    /// gives both and the ratio (--gitgate over this one).
    #[arg(long, value_name = "OLD_GITGATE")]
    compare: Option<PathBuf>,
    /// The store: a SQLite file in a temporary directory, or PostgreSQL (see --postgres).
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreKind,
    /// PostgreSQL server to use (implies --store postgres; default with --store postgres:
    /// postgres://postgres@127.0.0.1:5432/test). Each run creates its own schema there and
    /// drops it at the end, so runs never collide.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Users, each with their own token and MCP session.
    #[arg(long, default_value_t = 50, value_name = "N")]
    users: usize,
    /// Closed loop: this many callers, each sending its next call when the last one is
    /// answered (default 16). Raise it until calls/s stops growing to find saturation. With
    /// --rate: the callers (connections) that send the schedule's calls, and so the calls in
    /// flight at most (default 64); a call due while all are busy waits and is charged the
    /// wait.
    #[arg(long, value_name = "C")]
    concurrency: Option<usize>,
    /// Open loop: send this many calls per second on a fixed schedule, whatever the latency.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Measured seconds (per round and binary).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    duration: f64,
    /// Unmeasured seconds of the same load first, per binary.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    warmup: f64,
    /// Measured rounds per binary (default 1, or 3 with --compare).
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Quiet seconds after the last round, with every session closed, before the server's
    /// "settled" RSS is read: how much of the burst's memory it gives back. The default
    /// outlasts the idle time (10 s) after which the server's blocking threads end.
    #[arg(long, default_value_t = 12.0, value_name = "SECS")]
    settle: f64,
    /// Also write the result as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// The load run's configuration from its options, checked.
fn load_config(args: &LoadArgs) -> Result<gitgate_bench::load::Config> {
    use gitgate_bench::load::{Config, drive::Load, setup::Store};
    if args.users == 0 {
        anyhow::bail!("--users must be at least 1");
    }
    let seconds = |name: &str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(std::time::Duration::from_secs_f64(value))
        } else {
            Err(anyhow::anyhow!(
                "--{name} must be a number of seconds, not {value}"
            ))
        }
    };
    let duration = seconds("duration", args.duration)?;
    if duration.is_zero() {
        anyhow::bail!("--duration must be more than 0 seconds");
    }
    let load = match (args.rate, args.concurrency) {
        (Some(rate), _) if !(rate.is_finite() && rate > 0.0) => {
            anyhow::bail!("--rate must be more than 0 calls/s, not {rate}")
        }
        (_, Some(0)) => anyhow::bail!("--concurrency must be at least 1"),
        (Some(rate), callers) => Load::Open {
            rate,
            callers: callers.unwrap_or(64),
        },
        (None, c) => Load::Closed {
            concurrency: c.unwrap_or(16),
        },
    };
    let store = match (&args.postgres, args.store) {
        (Some(url), _) => Store::Postgres(url.clone()),
        (None, StoreKind::Postgres) => {
            Store::Postgres("postgres://postgres@127.0.0.1:5432/test".into())
        }
        (None, StoreKind::Sqlite) => Store::Sqlite,
    };
    let rounds = args
        .rounds
        .unwrap_or(if args.compare.is_some() { 3 } else { 1 });
    if rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    Ok(Config {
        gitgate: args.gitgate.clone().unwrap_or_else(sibling_gitgate),
        compare: args.compare.clone(),
        store,
        users: args.users,
        load,
        warmup: seconds("warmup", args.warmup)?,
        duration,
        rounds,
        settle: seconds("settle", args.settle)?,
    })
}

fn run_load(args: &LoadArgs) -> Result<()> {
    use gitgate_bench::load;
    let config = load_config(args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(load::run(&config, &|line| eprintln!("[load] {line}")))?;
    println!("{}", load::report::table(&result));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(bad) = result.runs.iter().find(|r| !r.audit.consistent) {
        anyhow::bail!(
            "audit check failed for {}: {} events for {} calls that reached their tool ({})",
            bad.gitgate,
            bad.audit.events,
            bad.audit.expected,
            bad.audit.verify_output
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitgate-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn sibling_gitgate() -> PathBuf {
    sibling("gitgate")
}

fn run_suite(args: RunArgs) -> Result<()> {
    use gitgate_bench::{report, run};
    let config = suite_config(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut bar = ProgressBar::new();
    let mut report = runtime.block_on(run::run(&config, &mut |p| bar.update(&p)))?;
    bar.finish();
    drop(runtime);
    if !args.no_scenarios {
        let started = std::time::Instant::now();
        report.scenarios = run_scenarios(&config, &report)?;
        report.meta.duration_s += started.elapsed().as_secs_f64();
    }
    report::print_summary(&report);
    report::write_all(&report, &args.out)?;
    eprintln!(
        "gitgate-bench: {} tasks, {} arms, {:.1} s; reports in {}",
        report.tasks.len(),
        report.arms.iter().filter(|a| a.skipped.is_none()).count(),
        report.meta.duration_s,
        args.out.display()
    );
    Ok(())
}

/// The run's configuration from the options: tasks, arms and prices (embedded unless given).
fn suite_config(args: &RunArgs) -> Result<gitgate_bench::config::Config> {
    use gitgate_bench::config::{Config, select_arms};
    use gitgate_bench::{arm, prices::Prices, task};
    let mut tasks = match &args.tasks {
        Some(dir) => task::load_dir(dir)?,
        None => task::embedded()?,
    };
    if !args.task_ids.is_empty() {
        for id in &args.task_ids {
            if !tasks.iter().any(|t| t.id == *id) {
                anyhow::bail!("no task {id:?}");
            }
        }
        tasks.retain(|t| args.task_ids.contains(&t.id));
    }
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let all_arms = match &args.arms_file {
        Some(path) => arm::parse(&read(path)?)?,
        None => arm::defaults(),
    };
    let arms = select_arms(all_arms, &args.arms)?;
    let prices = match &args.prices {
        Some(path) => Prices::from_toml(&read(path)?)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("price table {}", path.display()))?,
        None => Prices::default_table(),
    };
    Ok(Config {
        tasks,
        arms,
        repeat: args.repeat,
        seed: args.seed.clone(),
        gitgate: args.gitgate.clone().unwrap_or_else(sibling_gitgate),
        forge: args
            .forge
            .clone()
            .unwrap_or_else(|| sibling("gitgate-forge")),
        prices,
        tokenizers: args.tokenizers.clone(),
        trace: !args.no_trace,
        work_dir: args.work_dir.clone(),
    })
}

/// The multi-user auth and governance scenarios on the arms that ran.
fn run_scenarios(
    config: &gitgate_bench::config::Config,
    report: &gitgate_bench::model::RunReport,
) -> Result<Vec<gitgate_bench::model::ScenarioResult>> {
    use gitgate_bench::scenarios;
    let work = tempfile::Builder::new()
        .prefix("gitgate-bench-scenarios-")
        .tempdir()
        .context("creating the scenario directory")?;
    let ran: Vec<String> = report
        .arms
        .iter()
        .filter(|a| a.skipped.is_none())
        .map(|a| a.name.clone())
        .collect();
    let scenario_config = scenarios::ScenarioConfig {
        gitgate: config.gitgate.clone(),
        forge: config.forge.clone(),
        work_dir: work.path().to_owned(),
        arms: ran,
    };
    scenarios::run_all(&scenario_config, |line| eprintln!("[scenarios] {line}"))
}

/// A one-line progress bar on stderr (redrawn in place on a terminal, one line per finished
/// attempt otherwise), plus a line for every failure.
struct ProgressBar {
    tty: bool,
    started: std::time::Instant,
}

impl ProgressBar {
    fn new() -> Self {
        use std::io::IsTerminal;
        Self {
            tty: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
        }
    }

    fn update(&mut self, p: &gitgate_bench::run::Progress<'_>) {
        if p.total == 0 {
            eprintln!("{}: {}", p.task, p.note);
            return;
        }
        const WIDTH: usize = 30;
        let filled = WIDTH * p.done / p.total.max(1);
        let bar = format!(
            "[{}{}] {:>3}/{}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            p.done,
            p.total
        );
        let elapsed = self.started.elapsed().as_secs_f64();
        let status = match p.passed {
            None => "...",
            Some(true) => "ok",
            Some(false) => "FAILED",
        };
        let line = format!("{bar} {elapsed:5.1}s {} on {} {status}", p.task, p.arm);
        if p.passed == Some(false) {
            if self.tty {
                eprint!("\r\x1b[K");
            }
            eprintln!("{} on {}: FAILED: {}", p.task, p.arm, p.note);
        }
        if self.tty {
            eprint!("\r\x1b[K{line}");
        } else if p.passed.is_some() {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Load(args) => run_load(&args),
        Command::Run(args) => run_suite(*args),
        Command::Agent(args) => gitgate_bench::agent::cli::main(&args, &sibling),
        Command::Schema { out, check } => {
            if check {
                gitgate_bench::report::schema::check(&out)?;
                println!("{} is up to date", out.display());
            } else {
                gitgate_bench::report::schema::write(&out)?;
                println!("wrote {}", out.display());
            }
            Ok(())
        }
        Command::Micro {
            gitgate,
            commits,
            iterations,
            warmup,
            json,
            auth_cost_only,
        } => {
            let config = gitgate_bench::micro::Config {
                gitgate: gitgate.unwrap_or_else(sibling_gitgate),
                commits,
                iterations,
                warmup,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let results = if auth_cost_only {
                Vec::new()
            } else {
                let results = runtime.block_on(gitgate_bench::micro::run(&config, |line| {
                    eprintln!("[micro] {line}");
                }))?;
                println!("{}", gitgate_bench::micro::table(&results));
                results
            };
            let auth = runtime.block_on(gitgate_bench::micro::auth_cost(&config, |line| {
                eprintln!("[micro] {line}");
            }))?;
            println!("{}", gitgate_bench::micro::auth_table(&auth));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(
                    &serde_json::json!({"latency": results, "auth_cost": auth}),
                )?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
    }
}
