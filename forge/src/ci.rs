//! A deterministic CI: one workflow ("CI", `.github/workflows/ci.yml`) with one job ("test")
//! that runs when a branch with an open pull request is pushed (and when the seed says so).
//! Its outcome is a function of the tree: the job fails while a Rust file under `src/` or
//! `tests/` has a line calling `todo!(` or `unimplemented!(`, as `cargo test` would when a test
//! reaches it, and its log reads like a GitHub Actions log of `cargo test`. No program runs.

use git2::{Oid, Repository};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::store::{Repo, Result, Store, Time};

/// The one workflow.
pub const WORKFLOW_ID: i64 = 161_335;
pub const WORKFLOW_NAME: &str = "CI";
pub const WORKFLOW_PATH: &str = ".github/workflows/ci.yml";

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos(id), run_number INTEGER NOT NULL,
  head_branch TEXT NOT NULL, head_sha TEXT NOT NULL, event TEXT NOT NULL, actor_id INTEGER NOT NULL,
  status TEXT NOT NULL, conclusion TEXT, run_attempt INTEGER NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
  conclusion TEXT NOT NULL, started_at INTEGER NOT NULL, completed_at INTEGER NOT NULL,
  steps TEXT NOT NULL, log TEXT NOT NULL);
"#;

/// One step of a job, as the jobs API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub number: i64,
    pub conclusion: String,
    /// This step's part of the job's log.
    #[serde(default)]
    pub log: String,
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub repo_id: i64,
    pub run_number: i64,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    pub actor_id: i64,
    pub status: String,
    pub conclusion: Option<String>,
    pub run_attempt: i64,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A job of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub run_id: i64,
    pub name: String,
    pub conclusion: String,
    pub started_at: Time,
    pub completed_at: Time,
    pub steps: Vec<Step>,
    pub log: String,
}

/// Where a test would fail: the file, the line (1-based), the function around it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    path: String,
    line: usize,
    column: usize,
    function: String,
    message: &'static str,
}

/// The first failing spot of the tree at `sha`, in path order.
fn first_failure(repo: &Repository, sha: Oid) -> Option<Failure> {
    let files = crate::git::all_files(repo, sha).ok()?;
    let mut rust: Vec<_> = files
        .iter()
        .filter(|(path, _, _)| {
            (path.starts_with("src/") || path.starts_with("tests/")) && path.ends_with(".rs")
        })
        .collect();
    rust.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, _, data) in rust {
        let text = String::from_utf8_lossy(data);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let (at, message) = match (line.find("todo!("), line.find("unimplemented!(")) {
                (Some(at), _) => (at, "not yet implemented"),
                (None, Some(at)) => (at, "not implemented"),
                (None, None) => continue,
            };
            let function = lines[..i]
                .iter()
                .rev()
                .find_map(|l| {
                    let rest = l.split("fn ").nth(1)?;
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    (!name.is_empty()).then_some(name)
                })
                .unwrap_or_else(|| "main".into());
            return Some(Failure {
                path: path.clone(),
                line: i + 1,
                column: at + 1,
                function,
                message,
            });
        }
    }
    None
}

/// The job's steps and log for the tree at `sha`: each step has its own part of the log (the
/// run's log archive has one file per step), the job's log is their concatenation.
fn test_job(repo: &Repository, sha: Oid, branch: &str) -> (String, Vec<Step>, String) {
    let failure = first_failure(repo, sha);
    let setup = "Current runner version: '2.321.0'\nOperating System\n  Ubuntu 24.04.1 LTS\n\
                 Runner Image: ubuntu-24.04\n"
        .to_owned();
    let checkout = format!(
        "##[group]Run actions/checkout@v4\nSyncing repository: acme/widgets\n\
         Fetching the repository\nChecking out the ref: {branch}\nHEAD is now at {}\n##[endgroup]\n",
        &sha.to_string()[..7]
    );
    let mut tests = String::from(
        "##[group]Run cargo test --locked\ncargo test --locked\nshell: /usr/bin/bash -e {0}\n\
         ##[endgroup]\nCompiling widgets v1.0.0 (/home/runner/work/widgets/widgets)\n\
         Finished `test` profile [unoptimized + debuginfo] target(s) in 4.21s\n\
         Running unittests src/lib.rs (target/debug/deps/widgets-5f1c2a9e)\n\n\
         running 12 tests\n",
    );
    let outcome = match &failure {
        None => {
            tests.push_str(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s\n",
            );
            "success"
        }
        Some(f) => {
            let module = f
                .path
                .trim_start_matches("src/")
                .trim_start_matches("tests/")
                .trim_end_matches(".rs")
                .replace('/', "::");
            let test = format!("{module}::{}", f.function);
            tests.push_str(&format!(
                "test {test} ... FAILED\n\nfailures:\n\n---- {test} stdout ----\n\
                 thread '{test}' panicked at {}:{}:{}:\n{}\n\
                 note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\
                 failures:\n    {test}\n\n\
                 test result: FAILED. 11 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s\n\n\
                 error: test failed, to rerun pass `--lib`\n\
                 ##[error]Process completed with exit code 101.\n",
                f.path, f.line, f.column, f.message
            ));
            "failure"
        }
    };
    let complete = "Cleaning up orphan processes\n".to_owned();
    let parts = [
        ("Set up job", "success", setup),
        ("Run actions/checkout@v4", "success", checkout),
        ("Run cargo test --locked", outcome, tests),
        ("Complete job", "success", complete),
    ];
    let steps: Vec<Step> = parts
        .into_iter()
        .enumerate()
        .map(|(i, (name, conclusion, text))| Step {
            name: name.to_owned(),
            number: i as i64 + 1,
            conclusion: conclusion.to_owned(),
            log: stamped(&text),
        })
        .collect();
    let log = steps.iter().map(|s| s.log.as_str()).collect();
    (outcome.to_owned(), steps, log)
}

/// Every line of an Actions log carries its timestamp, blank ones too.
fn stamped(text: &str) -> String {
    const STAMP: &str = "2024-01-11T00:00:00.0000000Z";
    text.lines().map(|l| format!("{STAMP} {l}\n")).collect()
}

/// Runs CI for `sha` of `branch` and records the run and its job (completed at once).
#[allow(clippy::too_many_arguments)]
pub fn start(
    store: &Store,
    git: &Repository,
    repo: &Repo,
    branch: &str,
    sha: Oid,
    event: &str,
    actor_id: i64,
    at: Time,
) -> Result<Run> {
    let (conclusion, steps, log) = test_job(git, sha, branch);
    let conn = store.conn();
    let number: i64 = conn.query_row(
        "SELECT COALESCE(MAX(run_number), 0) + 1 FROM runs WHERE repo_id = ?1",
        [repo.id],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO runs (repo_id, run_number, head_branch, head_sha, event, actor_id, status, \
         conclusion, run_attempt, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'completed', ?7, 1, ?8, ?9)",
        params![
            repo.id,
            number,
            branch,
            sha.to_string(),
            event,
            actor_id,
            conclusion,
            at,
            at + 75
        ],
    )?;
    let run_id = conn.last_insert_rowid();
    insert_job(store, run_id, &conclusion, &steps, &log, at)?;
    run(store, run_id)?.ok_or_else(|| crate::store::Error::Vanished(format!("run {run_id}")))
}

fn insert_job(
    store: &Store,
    run_id: i64,
    conclusion: &str,
    steps: &[Step],
    log: &str,
    at: Time,
) -> Result<()> {
    let steps = serde_json::to_string(steps).unwrap_or_else(|_| "[]".into());
    store.conn().execute(
        "INSERT INTO jobs (run_id, name, conclusion, started_at, completed_at, steps, log) \
         VALUES (?1, 'test', ?2, ?3, ?4, ?5, ?6)",
        params![run_id, conclusion, at + 5, at + 70, steps, log],
    )?;
    Ok(())
}

/// Re-runs `run` on the same commit: a new attempt with a new job, same outcome rules.
pub fn rerun(store: &Store, git: &Repository, run: &Run, at: Time) -> Result<()> {
    let sha = Oid::from_str(&run.head_sha).map_err(|e| crate::store::Error::Git(e.to_string()))?;
    let (conclusion, steps, log) = test_job(git, sha, &run.head_branch);
    store.conn().execute(
        "UPDATE runs SET run_attempt = run_attempt + 1, conclusion = ?2, updated_at = ?3 WHERE id = ?1",
        params![run.id, conclusion, at + 75],
    )?;
    insert_job(store, run.id, &conclusion, &steps, &log, at)
}

const RUN_COLS: &str = "id, repo_id, run_number, head_branch, head_sha, event, actor_id, status, \
                        conclusion, run_attempt, created_at, updated_at";

fn run_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        repo_id: r.get(1)?,
        run_number: r.get(2)?,
        head_branch: r.get(3)?,
        head_sha: r.get(4)?,
        event: r.get(5)?,
        actor_id: r.get(6)?,
        status: r.get(7)?,
        conclusion: r.get(8)?,
        run_attempt: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

/// One run by id.
pub fn run(store: &Store, id: i64) -> Result<Option<Run>> {
    Ok(store
        .conn()
        .query_row(
            &format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"),
            [id],
            run_from,
        )
        .optional()?)
}

/// The runs of `repo`, newest first.
pub fn runs(store: &Store, repo: &Repo) -> Result<Vec<Run>> {
    let mut stmt = store.conn().prepare(&format!(
        "SELECT {RUN_COLS} FROM runs WHERE repo_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([repo.id], run_from)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The jobs of a run's latest attempt (every attempt's with `all`), oldest first.
pub fn jobs(store: &Store, run: &Run, all: bool) -> Result<Vec<Job>> {
    let mut stmt = store.conn().prepare(
        "SELECT id, run_id, name, conclusion, started_at, completed_at, steps, log FROM jobs \
         WHERE run_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([run.id], |r| {
        let steps: String = r.get(6)?;
        Ok(Job {
            id: r.get(0)?,
            run_id: r.get(1)?,
            name: r.get(2)?,
            conclusion: r.get(3)?,
            started_at: r.get(4)?,
            completed_at: r.get(5)?,
            steps: serde_json::from_str(&steps).unwrap_or_default(),
            log: r.get(7)?,
        })
    })?;
    let mut jobs: Vec<Job> = rows.collect::<rusqlite::Result<_>>()?;
    if !all && let Some(last) = jobs.pop() {
        jobs = vec![last];
    }
    Ok(jobs)
}

/// One job by id, within `repo`.
pub fn job(store: &Store, repo: &Repo, id: i64) -> Result<Option<Job>> {
    let found: Option<i64> = store
        .conn()
        .query_row(
            "SELECT j.run_id FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?1 AND r.repo_id = ?2",
            params![id, repo.id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(run_id) = found else {
        return Ok(None);
    };
    let Some(run) = run(store, run_id)? else {
        return Ok(None);
    };
    Ok(jobs(store, &run, true)?.into_iter().find(|j| j.id == id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_todo_fails_the_test_job_and_its_log_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let mut b = crate::git::CommitBuilder::new(&repo, None).unwrap();
        b.write("src/lib.rs", "pub mod valve;\n");
        b.write(
            "src/valve.rs",
            "pub struct Valve;\n\nimpl Valve {\n    pub fn open(&self) -> bool {\n        todo!()\n    }\n}\n",
        );
        let sig = crate::git::signature("a", "a@x", 1_704_067_200).unwrap();
        let failing = b.commit(None, &sig, "wip", &[]).unwrap();
        let (conclusion, steps, log) = test_job(&repo, failing, "feature/valve");
        assert_eq!(conclusion, "failure");
        assert_eq!(steps[2].conclusion, "failure");
        assert!(log.contains("test valve::open ... FAILED"), "{log}");
        assert!(log.contains("panicked at src/valve.rs:5:9:"), "{log}");
        assert!(log.contains("not yet implemented"), "{log}");
        assert!(log.contains("Z Finished `test`"), "{log}");

        let mut b = crate::git::CommitBuilder::new(&repo, Some(failing)).unwrap();
        b.write("src/valve.rs", "pub struct Valve;\n");
        let fixed = b.commit(None, &sig, "fix", &[failing]).unwrap();
        let (conclusion, steps, log) = test_job(&repo, fixed, "feature/valve");
        assert_eq!(conclusion, "success");
        assert!(steps.iter().all(|s| s.conclusion == "success"));
        assert!(log.contains("test result: ok."), "{log}");
    }
}
