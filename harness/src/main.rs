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
    },
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

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitgate-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn sibling_gitgate() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("gitgate")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("gitgate"))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
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
        } => {
            let config = gitgate_bench::micro::Config {
                gitgate: gitgate.unwrap_or_else(sibling_gitgate),
                commits,
                iterations,
                warmup,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let results = runtime.block_on(gitgate_bench::micro::run(&config, |line| {
                eprintln!("[micro] {line}");
            }))?;
            println!("{}", gitgate_bench::micro::table(&results));
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
