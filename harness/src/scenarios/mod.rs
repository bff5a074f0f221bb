//! Scenario-level dimensions, measured once per arm against real processes: multi-user auth
//! (who the forge says did each write, who loses access when one user is revoked) and
//! enterprise governance (what the record of each action tells, whether an edited record is
//! detected, whether a read-only user's merge is blocked).
//!
//! The CLI arm is a team's agent box: one OS user, one shared GitHub token for `gh`, a bash
//! history as its only record. The gitgate arm is gitgate over Streamable HTTP with a token per
//! user, each user's own GitHub token stored encrypted, and the audit log as the record.

mod agent_box;
pub mod governance;
pub mod multi_user;
mod procs;
pub mod record;
mod session;

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};

use crate::model::ScenarioResult;

/// The demo seed's repository every action targets.
pub const REPO: &str = "acme/widgets";
/// The people in both scenarios (forge users of the demo seed).
pub const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// The one token a team's agent box holds for `gh`, and its name at the forge.
pub const SHARED_TOKEN: &str = "ghp_demo_ci_bot";
pub const SHARED_TOKEN_NAME: &str = "ci-bot";

/// What the scenarios need: the binaries under test, a scratch directory, the arms to measure.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    /// The `gitgate` binary.
    pub gitgate: PathBuf,
    /// The `gitgate-forge` binary.
    pub forge: PathBuf,
    /// Scratch directory; each scenario and arm gets its own subdirectory (forge data, gitgate
    /// state, gh config, shell history).
    pub work_dir: PathBuf,
    /// Arm names as the run names them. `cli` runs the CLI side; `mcp` and `mcp-http` (and
    /// any other name starting with `mcp`) run the gitgate side once, reported under each of
    /// those names. Other arms (peer servers) have no users or audit log and are skipped.
    pub arms: Vec<String>,
}

/// Runs both scenarios on every arm that has them and returns one result per scenario and arm.
///
/// Synchronous on purpose: it runs on its own thread with its own runtime, so the caller may
/// be inside an async runtime or not. `progress` gets one line per stage, on the caller's
/// thread.
pub fn run_all(
    config: &ScenarioConfig,
    mut progress: impl FnMut(&str),
) -> Result<Vec<ScenarioResult>> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let config = config.clone();
    let worker = std::thread::Builder::new()
        .name("scenarios".into())
        .spawn(move || -> Result<Vec<ScenarioResult>> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the scenario runtime")?;
            runtime.block_on(run_arms(&config, move |line| {
                // The receiver only goes away when the caller stopped listening; nothing to do.
                let _ = tx.send(line.to_owned());
            }))
        })
        .context("starting the scenario thread")?;
    for line in rx {
        progress(&line);
    }
    worker
        .join()
        .map_err(|_| anyhow!("the scenario thread panicked"))?
}

/// Whether `arm` is served by gitgate (and so measured by its side of the scenarios).
fn is_gitgate_arm(arm: &str) -> bool {
    arm.starts_with("mcp")
}

async fn run_arms(
    config: &ScenarioConfig,
    mut progress: impl FnMut(&str),
) -> Result<Vec<ScenarioResult>> {
    let progress: &mut dyn FnMut(&str) = &mut progress;
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("creating {}", config.work_dir.display()))?;
    let dir = |name: &str| -> Result<PathBuf> {
        let d = config.work_dir.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("clearing {}", d.display()))?;
        }
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        Ok(d)
    };
    let mut results = Vec::new();
    if config.arms.iter().any(|a| a == "cli") {
        results.push(multi_user::cli(config, &dir("multi-user-cli")?, progress).await?);
        results.push(governance::cli(config, &dir("governance-cli")?, progress).await?);
    }
    let gitgate_arms: Vec<&String> = config.arms.iter().filter(|a| is_gitgate_arm(a)).collect();
    if !gitgate_arms.is_empty() {
        // Measured once over HTTP (per-user bearer tokens need it) and reported under every
        // gitgate arm: the stdio and HTTP arms run the same server code.
        let measured = [
            multi_user::gitgate(config, &dir("multi-user-mcp")?, progress).await?,
            governance::gitgate(config, &dir("governance-mcp")?, progress).await?,
        ];
        for arm in gitgate_arms {
            for r in &measured {
                let mut r = r.clone();
                r.arm = arm.clone();
                if arm != "mcp-http" {
                    r.notes
                        .insert(0, "measured on gitgate over Streamable HTTP".to_owned());
                }
                results.push(r);
            }
        }
    }
    Ok(results)
}

/// `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_survives_bash() {
        for text in ["plain", "it's", "a b  c", "$HOME `x` \"q\""] {
            let out = std::process::Command::new("bash")
                .args(["-c", &format!("printf %s {}", shell_quote(text))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), text);
        }
    }

    #[test]
    fn gitgate_arms_are_the_mcp_ones() {
        assert!(is_gitgate_arm("mcp") && is_gitgate_arm("mcp-http"));
        assert!(!is_gitgate_arm("cli") && !is_gitgate_arm("peer:mcp-server-git"));
    }
}
