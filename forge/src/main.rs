//! `gitgate-forge serve`: the forge as a program.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// A faithful local GitHub for tests, demos and benchmark runs.
#[derive(Debug, Parser)]
#[command(name = "gitgate-forge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve REST (api.github.com shapes), GraphQL at /graphql and git over HTTP.
    ///
    /// With the gh CLI: GH_HOST=github.localhost GH_TOKEN=<token>
    /// HTTP_PROXY=http://ADDR http_proxy=http://ADDR gh issue list -R acme/widgets.
    /// With git: git clone http://x:<token>@ADDR/acme/widgets.git.
    /// Instruments: GET /_forge/stats, POST /_forge/faults, DELETE /_forge/tokens/NAME.
    Serve {
        /// Address to listen on (port 0 picks a free port; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Data directory: forge.db (SQLite), repos/ (bare repositories), tokens.json.
        #[arg(long)]
        data: PathBuf,
        /// Fixture to build when the directory does not hold it yet (only "demo").
        #[arg(long, value_parser = ["demo"])]
        seed: Option<String>,
        /// Base URL for URL fields in answers; default: the Host each request names.
        #[arg(long)]
        public_url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitgate-forge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Command::Serve {
        addr,
        data,
        seed,
        public_url,
    } = cli.command;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    println!(
        "gitgate-forge listening on http://{bound} (data {})",
        data.display()
    );
    let config = gitgate_forge::Config {
        data_dir: data,
        seed,
        public_url,
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    gitgate_forge::serve(config, listener, shutdown)
        .await
        .context("serving")?;
    Ok(())
}
