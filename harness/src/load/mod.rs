//! `gitgate-bench load`: many users, each with their own token and MCP session, calling one
//! gitgate HTTP server at once; reports calls/s, latency quantiles, errors, the server's memory,
//! and whether the audit log holds exactly one event per call that reached its tool.
//!
//! With a second binary the same load runs against both in alternating short rounds
//! (A B A B ..): on a noisy machine only side-by-side ratios mean anything.

pub mod drive;
pub mod report;
pub mod rss;
pub mod session;
pub mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use drive::{Driver, Load, Outcome};
use report::{AuditReport, LoadResult, MemoryReport, RunReport};
use session::Session;
use setup::{Fixture, Server, Store};

/// A load run, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gitgate binary measured.
    pub gitgate: PathBuf,
    /// A second binary to measure side by side (`--compare`).
    pub compare: Option<PathBuf>,
    pub store: Store,
    pub users: usize,
    pub load: Load,
    pub warmup: Duration,
    /// Measured time per round and binary.
    pub duration: Duration,
    /// Rounds per binary (alternating when comparing).
    pub rounds: usize,
    /// Quiet time after the sessions are closed before the settled RSS is read.
    pub settle: Duration,
}

/// How often the server's VmRSS is sampled while load runs: often enough to catch a peak that
/// lasts a fraction of a second, rare enough to cost nothing (one small file read).
const RSS_SAMPLE: Duration = Duration::from_millis(100);

/// One binary under load: its store, server, sessions and what was measured so far.
struct Arm {
    bin: PathBuf,
    fixture: Fixture,
    server: Server,
    driver: Arc<Driver>,
    setup_calls: u64,
    warmup_calls: u64,
    warmup_unanswered: u64,
    idle: rss::Memory,
    peak_rss_kib: u64,
    outcomes: Vec<Outcome>,
    seconds: f64,
    round_calls_per_s: Vec<f64>,
}

/// Runs the benchmark; `progress` gets a line per stage and one a second while load runs.
pub async fn run(config: &Config, progress: &(dyn Fn(&str) + Sync)) -> Result<LoadResult> {
    let mut bins = vec![config.gitgate.clone()];
    bins.extend(config.compare.clone());
    let http = http_client()?;
    let mut arms = Vec::new();
    for bin in &bins {
        arms.push(Arm::setup(bin, config, &http, progress).await?);
    }
    for arm in &mut arms {
        if config.warmup.is_zero() {
            continue;
        }
        progress(&format!(
            "{}: warm-up {:?}",
            arm.bin.display(),
            config.warmup
        ));
        let outcomes = arm.driver.run(config.load, config.warmup).await;
        let reached = outcomes
            .iter()
            .filter(|o| o.error.is_none_or(|(_, reached)| reached))
            .count() as u64;
        arm.warmup_calls += reached;
        arm.warmup_unanswered += outcomes.len() as u64 - reached;
    }
    for round in 1..=config.rounds {
        for arm in &mut arms {
            let label = if config.rounds > 1 {
                format!("{} round {round}/{}", arm.bin.display(), config.rounds)
            } else {
                arm.bin.display().to_string()
            };
            arm.round(config, &label, progress).await;
        }
    }
    let mut runs = Vec::new();
    for arm in arms {
        runs.push(arm.finish(config, progress).await?);
    }
    Ok(LoadResult::new(runs))
}

/// One keep-alive HTTP/1.1 client for every session: its pool holds a connection per call in
/// flight, reused across calls as an MCP client keeps its connection.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

impl Arm {
    async fn setup(
        bin: &std::path::Path,
        config: &Config,
        http: &reqwest::Client,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Self> {
        progress(&format!(
            "{}: {} store, {} users",
            bin.display(),
            config.store.name(),
            config.users
        ));
        let fixture = Fixture::new(&config.store).await?;
        let tokens = setup::add_users(bin, &fixture, config.users)?;
        let server = Server::start(bin, &fixture)?;
        let mut sessions = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let session = Session::open(http, &server.url, token)
                .await
                .with_context(|| format!("opening the session of user load-{i}"))?;
            // One call per session before any load: a session that cannot call fails the run
            // here, with its user named, rather than as a pile of errors later.
            let (tool, args) = drive::call_for(0, false);
            session
                .call(tool, args)
                .await
                .with_context(|| format!("first call of user load-{i}"))?;
            sessions.push(Arc::new(session));
        }
        let setup_calls = sessions.len() as u64;
        let idle = rss::read(server.pid()).unwrap_or_default();
        Ok(Self {
            bin: bin.to_owned(),
            fixture,
            server,
            driver: Driver::new(sessions, false),
            setup_calls,
            warmup_calls: 0,
            warmup_unanswered: 0,
            idle,
            peak_rss_kib: idle.rss_kib,
            outcomes: Vec::new(),
            seconds: 0.0,
            round_calls_per_s: Vec::new(),
        })
    }

    /// One measured round, with the progress line and the RSS sampler running beside it.
    async fn round(&mut self, config: &Config, label: &str, progress: &(dyn Fn(&str) + Sync)) {
        let pid = self.server.pid();
        let counters = &self.driver.counters;
        let (ok0, err0) = (
            counters.ok.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
        );
        let started = Instant::now();
        let mut peak = self.peak_rss_kib;
        let mut last_report = Instant::now();
        let load = self.driver.run(config.load, config.duration);
        tokio::pin!(load);
        let mut tick = tokio::time::interval(RSS_SAMPLE);
        let outcomes = loop {
            tokio::select! {
                outcomes = &mut load => break outcomes,
                _ = tick.tick() => {
                    if let Some(m) = rss::read(pid) {
                        peak = peak.max(m.rss_kib);
                    }
                    if last_report.elapsed() >= Duration::from_secs(1) {
                        last_report = Instant::now();
                        let secs = started.elapsed().as_secs_f64();
                        let ok = counters.ok.load(Ordering::Relaxed) - ok0;
                        let errors = counters.errors.load(Ordering::Relaxed) - err0;
                        progress(&format!(
                            "{label}: {secs:4.1} s, {ok} calls, {errors} errors, {:.0} calls/s, RSS {} MiB",
                            ok as f64 / secs,
                            peak / 1024
                        ));
                    }
                }
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let measured = report::measure(&outcomes, seconds);
        progress(&format!(
            "{label}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            measured.calls_per_s,
            measured.latency_us.p50_us / 1000.0,
            measured.latency_us.p99_us / 1000.0,
            measured.errors
        ));
        self.peak_rss_kib = peak;
        self.round_calls_per_s.push(measured.calls_per_s);
        self.seconds += seconds;
        self.outcomes.extend(outcomes);
    }

    /// Stops the server, checks the audit log against the calls made, and drops the store.
    async fn finish(self, config: &Config, progress: &(dyn Fn(&str) + Sync)) -> Result<RunReport> {
        let after = rss::read(self.server.pid()).unwrap_or_default();
        for session in self.driver.sessions() {
            session.close().await;
        }
        if !config.settle.is_zero() {
            progress(&format!(
                "{}: sessions closed; reading RSS after {:?} idle",
                self.bin.display(),
                config.settle
            ));
            tokio::time::sleep(config.settle).await;
        }
        let settled = rss::read(self.server.pid()).unwrap_or_default();
        self.server.stop()?;
        let measured = report::measure(&self.outcomes, self.seconds);
        let verify = setup::audit_verify(&self.bin, &self.fixture)?;
        let expected = self.setup_calls + self.warmup_calls + measured.reached_tool;
        let unanswered = self.warmup_unanswered + (measured.calls - measured.reached_tool);
        let audit = AuditReport::new(verify, expected, unanswered);
        progress(&format!(
            "{}: audit {} events for {expected} calls that reached their tool: {}",
            self.bin.display(),
            audit.events,
            audit.verify_output
        ));
        let store = self.fixture.store().name();
        self.fixture.cleanup().await?;
        Ok(RunReport {
            gitgate: self.bin.display().to_string(),
            store,
            users: config.users,
            load: config.load,
            warmup_s: config.warmup.as_secs_f64(),
            settle_s: config.settle.as_secs_f64(),
            rounds: config.rounds,
            setup_calls: self.setup_calls,
            warmup_calls: self.warmup_calls,
            measured,
            round_calls_per_s: self.round_calls_per_s,
            memory: MemoryReport::new(self.idle, self.peak_rss_kib, after, settled),
            audit,
        })
    }
}
