//! `gitgate-bench run`: every task on every arm from the same seeded state, checked, measured
//! and summarised into a [`RunReport`].
//!
//! The phases, in order: [`prepare`] (tokenizers, work directory, the seeded template),
//! [`setup_arms`] (availability and one-time setup), [`trace_processes`] (untimed traced
//! attempts that count processes), [`run_task`] per task (each arm's timed attempts: execute,
//! check and measure, in [`attempt`]), then [`report`].

pub(crate) mod attempt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::arm::{self, Arm, Kind, Vars};
pub use crate::config::{Config, select_arms};
use crate::forge;
use crate::model::{ArmInfo, Attempt, RunMeta, RunReport, TaskArmReport, TaskReport};
use crate::task::{StepList, Task};
use crate::tokens::Tokenizers;
use crate::workspace::Template;

use self::attempt::{attempt, failed_attempt};

/// One progress event.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub task: &'a str,
    pub arm: &'a str,
    /// `None` while starting; `Some(passed)` after an attempt.
    pub passed: Option<bool>,
    pub note: &'a str,
}

/// An arm of this run: its one-time setup's outcome.
pub(crate) struct ArmRun {
    pub(crate) arm: Arm,
    pub(crate) bearer: Option<String>,
    pub(crate) state: PathBuf,
    pub(crate) skipped: Option<String>,
}

/// What every attempt of the run shares.
struct Ctx<'a> {
    config: &'a Config,
    template: Template,
    tokenizers: Tokenizers,
    work: PathBuf,
    counter: AtomicUsize,
}

/// Progress events with the running count of finished attempts.
struct Tracker<'p> {
    done: usize,
    total: usize,
    progress: &'p mut dyn FnMut(Progress<'_>),
}

impl Tracker<'_> {
    fn emit(&mut self, task: &str, arm: &str, passed: Option<bool>, note: &str) {
        (self.progress)(Progress {
            done: self.done,
            total: self.total,
            task,
            arm,
            passed,
            note,
        });
    }

    /// A line about a task, outside the count (`total` 0 marks it).
    fn note(&mut self, task: &str, note: &str) {
        (self.progress)(Progress {
            done: 0,
            total: 0,
            task,
            arm: "",
            passed: None,
            note,
        });
    }
}

/// The run's scratch space and seeded template.
pub(crate) struct Prepared {
    pub(crate) tokenizers: Tokenizers,
    /// Keeps a temporary work directory alive (removed when the run ends).
    pub(crate) _temp: Option<tempfile::TempDir>,
    pub(crate) work: PathBuf,
    pub(crate) template: Template,
}

/// (task id, arm name): processes counted in the task's traced attempt on the arm.
type Traced = BTreeMap<(String, String), u32>;

/// Runs every task on every available arm and returns the report (without scenarios).
pub async fn run(config: &Config, progress: &mut dyn FnMut(Progress<'_>)) -> Result<RunReport> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    if config.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let prepared = prepare(config).await?;
    let arms = setup_arms(config, &prepared.work);
    let mut tracker = Tracker {
        done: 0,
        total: 0,
        progress,
    };
    note_unused_lists(config, &mut tracker);
    let trace = config.trace && crate::trace::available();
    let runnable: Vec<&ArmRun> = arms.iter().filter(|a| a.skipped.is_none()).collect();
    tracker.total = total_attempts(config, &runnable, trace);
    let ctx = Ctx {
        config,
        template: prepared.template,
        tokenizers: prepared.tokenizers,
        work: prepared.work,
        counter: AtomicUsize::new(0),
    };
    let traced = if trace {
        trace_processes(&ctx, &runnable, &mut tracker).await
    } else {
        Traced::new()
    };
    let mut tasks = Vec::new();
    for task in &config.tasks {
        tasks.push(run_task(&ctx, task, &runnable, &traced, &mut tracker).await?);
    }
    let report = report(config, &arms, tasks, (started_at, started), trace)?;
    drop(ctx);
    Ok(report)
}

/// Tokenizers, the work directory and the template seeded once for every attempt.
pub(crate) async fn prepare(config: &Config) -> Result<Prepared> {
    let names: Vec<&str> = config.tokenizers.iter().map(String::as_str).collect();
    let tokenizers = Tokenizers::load(&names)?;
    config.tokenizers.first().context("no tokenizer")?;
    let (temp, work) = match &config.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            (None, d.clone())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("gitgate-bench-")
                .tempdir()
                .context("creating the work directory")?;
            let work = temp.path().to_owned();
            (Some(temp), work)
        }
    };
    let template = Template::build(&config.forge, &config.seed, &work.join("template"))
        .await
        .context("seeding the template")?;
    Ok(Prepared {
        tokenizers,
        _temp: temp,
        work,
        template,
    })
}

/// Each arm's availability, then its one-time setup; an arm that cannot run is skipped with
/// the reason.
pub(crate) fn setup_arms(config: &Config, work: &Path) -> Vec<ArmRun> {
    let mut arms = Vec::new();
    for a in &config.arms {
        let state = work.join("arms").join(sanitize(&a.name));
        let vars = Vars {
            gitgate: config.gitgate.display().to_string(),
            state: state.display().to_string(),
            github_token: a
                .github_login
                .as_deref()
                .map(forge::demo_token)
                .unwrap_or_default(),
            ..Default::default()
        };
        let mut skipped = a.unavailable(&vars);
        let mut bearer = None;
        if skipped.is_none() {
            match arm::setup(a, &vars, &state) {
                Ok(b) => bearer = b,
                Err(e) => skipped = Some(format!("setup failed: {e:#}")),
            }
        }
        arms.push(ArmRun {
            arm: a.clone(),
            bearer,
            state,
            skipped,
        });
    }
    arms
}

/// Notes a task's step list that no arm takes: almost always a typo.
fn note_unused_lists(config: &Config, tracker: &mut Tracker<'_>) {
    let known: BTreeSet<&str> = config
        .arms
        .iter()
        .flat_map(|a| a.steps.iter().map(String::as_str))
        .collect();
    for t in &config.tasks {
        if let Some(name) = t.lists.keys().find(|n| !known.contains(n.as_str())) {
            let note = format!("note: step list [{name}] is taken by none of the selected arms");
            tracker.note(&t.id, &note);
        }
    }
}

/// Attempts the run makes: per task and arm that takes it, the repeats plus the traced one.
fn total_attempts(config: &Config, runnable: &[&ArmRun], trace: bool) -> usize {
    let per_pair = config.repeat as usize + usize::from(trace);
    config
        .tasks
        .iter()
        .map(|t| {
            runnable
                .iter()
                .filter(|a| a.arm.pick(&t.lists).is_some())
                .count()
                * per_pair
        })
        .sum()
}

/// Processes are counted in untimed traced attempts, run first and two at a time (nothing of
/// theirs is timed, and the machine has two cores).
async fn trace_processes(ctx: &Ctx<'_>, runnable: &[&ArmRun], tracker: &mut Tracker<'_>) -> Traced {
    let mut traced = Traced::new();
    let all: Vec<(&Task, &ArmRun, &StepList)> = ctx
        .config
        .tasks
        .iter()
        .flat_map(|t| {
            runnable
                .iter()
                .filter_map(move |a| a.arm.pick(&t.lists).map(|(_, l)| (t, *a, l)))
        })
        .collect();
    for chunk in all.chunks(2) {
        let first = attempt(ctx, chunk[0].0, chunk[0].1, chunk[0].2, true);
        let second = async {
            match chunk.get(1) {
                Some((t, a, l)) => Some(attempt(ctx, t, a, l, true).await),
                None => None,
            }
        };
        let (r1, r2) = tokio::join!(first, second);
        for (result, (t, a, _)) in std::iter::once(r1).chain(r2).zip(chunk) {
            tracker.done += 1;
            let note = match result {
                Ok(at) => {
                    traced.insert((t.id.clone(), a.arm.name.clone()), at.processes_spawned);
                    String::from("traced")
                }
                Err(e) => format!("traced attempt failed: {e:#}"),
            };
            tracker.emit(&t.id, &a.arm.name, None, &note);
        }
    }
    traced
}

/// The timed attempts of one task on every arm that takes it, `repeat` rounds over the arms.
async fn run_task(
    ctx: &Ctx<'_>,
    task: &Task,
    runnable: &[&ArmRun],
    traced: &Traced,
    tracker: &mut Tracker<'_>,
) -> Result<TaskReport> {
    let primary = ctx.config.tokenizers.first().context("no tokenizer")?;
    let mut attempts: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    let pairs: Vec<(&ArmRun, &str, &StepList)> = runnable
        .iter()
        .filter_map(|a| a.arm.pick(&task.lists).map(|(n, l)| (*a, n, l)))
        .collect();
    for _ in 0..ctx.config.repeat {
        for (a, _, list) in &pairs {
            tracker.emit(&task.id, &a.arm.name, None, "");
            let mut at = match attempt(ctx, task, a, list, false).await {
                Ok(at) => at,
                Err(e) => failed_attempt(format!("could not run: {e:#}")),
            };
            if let Some(p) = traced.get(&(task.id.clone(), a.arm.name.clone())) {
                at.processes_spawned = *p;
            }
            tracker.done += 1;
            let note = at.failure.clone().unwrap_or_default();
            tracker.emit(&task.id, &a.arm.name, Some(at.passed), &note);
            attempts.entry(a.arm.name.clone()).or_default().push(at);
        }
    }
    let arms = pairs
        .iter()
        .map(|(a, list_name, _)| {
            let at = attempts.remove(&a.arm.name).unwrap_or_default();
            TaskArmReport {
                arm: a.arm.name.clone(),
                step_list: (*list_name).to_owned(),
                passed: !at.is_empty() && at.iter().all(|x| x.passed),
                summary: crate::summary::task_summary(&at, primary),
                attempts: at,
            }
        })
        .collect();
    Ok(TaskReport {
        id: task.id.clone(),
        category: task.category.clone(),
        prompt: task.prompt.clone(),
        arms,
    })
}

/// The report: per-arm summaries over the task reports, the arms and the run's metadata.
fn report(
    config: &Config,
    arms: &[ArmRun],
    tasks: Vec<TaskReport>,
    (started_at, started): (String, Instant),
    trace: bool,
) -> Result<RunReport> {
    let primary = config.tokenizers.first().context("no tokenizer")?;
    let ran: Vec<String> = arms
        .iter()
        .filter(|a| a.skipped.is_none())
        .map(|a| a.arm.name.clone())
        .collect();
    let summary = crate::summary::arm_summaries(&ran, &tasks, primary);
    let arm_infos = arms
        .iter()
        .map(|a| ArmInfo {
            name: a.arm.name.clone(),
            kind: match a.arm.kind {
                Kind::Cli => "cli".into(),
                Kind::Mcp => "mcp".into(),
            },
            description: a.arm.description.clone(),
            skipped: a.skipped.clone(),
        })
        .collect();
    let meta = RunMeta {
        started_at,
        duration_s: started.elapsed().as_secs_f64(),
        repeat: config.repeat,
        seed: config.seed.clone(),
        tokenizers: config.tokenizers.clone(),
        versions: crate::meta::versions(config, &arms.iter().map(|a| &a.arm).collect::<Vec<_>>()),
        machine: crate::meta::machine(),
        prices_per_mtok: config.prices.input_per_mtok(),
        output_prices_per_mtok: config.prices.output_per_mtok(),
        process_count_method: if trace { "strace" } else { "static" }.into(),
    };
    Ok(RunReport {
        version: 1,
        meta,
        arms: arm_infos,
        tasks,
        scenarios: Vec::new(),
        summary,
        agent: None,
    })
}

pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The current time as RFC 3339 UTC, from the system clock (no date crate needed).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
