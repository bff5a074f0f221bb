//! The CLI executor: each step is a fresh `bash -c LINE` in the working clone, with git, gh (one
//! shared token) and jq, as a team's agent box runs them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::Command;

use super::{Executor, Start, StepRun};
use crate::forge::demo_token;
use crate::task::Step;
use crate::tokens::Call;

/// The login whose token gh uses when the arm names none: the team's shared bot.
const SHARED_LOGIN: &str = "ci-bot";

/// Shell steps of one attempt.
#[derive(Debug)]
pub struct ShellExecutor {
    /// The arm's one shell tool, as a one-element JSON array.
    interface: String,
    env: Vec<(String, String)>,
    clone: PathBuf,
    /// Where per-step traces go, when the attempt is traced.
    traces: Option<PathBuf>,
    steps: usize,
    processes: u32,
}

impl Executor for ShellExecutor {
    async fn start(start: &Start<'_>) -> Result<Self> {
        let text = start.arm.interface.as_deref().unwrap_or("{}");
        let value: Value = serde_json::from_str(text).context("the arm's interface JSON")?;
        let home = start.scratch.join("home");
        std::fs::create_dir_all(&home).context("creating the shell home")?;
        let login = start
            .arm
            .github_login
            .as_deref()
            .filter(|l| !l.is_empty())
            .unwrap_or(SHARED_LOGIN);
        Ok(Self {
            interface: Value::Array(vec![value]).to_string(),
            env: environment(&home, start.forge_addr, login),
            clone: start.clone.to_owned(),
            traces: start.traced.then(|| start.scratch.to_owned()),
            steps: 0,
            processes: 0,
        })
    }

    fn interface(&self) -> String {
        self.interface.clone()
    }

    fn cold_start_ms(&self) -> Option<f64> {
        None
    }

    fn definition(&self, _tool: &str) -> Option<String> {
        // git, gh and jq are known from pretraining: nothing to teach.
        None
    }

    async fn lookup(&mut self, _tool: &str) -> Option<(Call, String)> {
        None
    }

    async fn step(&mut self, step: &Step) -> Result<StepRun> {
        let Step::Shell(line) = step else {
            bail!("a cli arm got a tool step");
        };
        let trace = self
            .traces
            .as_ref()
            .map(|dir| dir.join(format!("trace-{}.txt", self.steps)));
        self.steps += 1;
        let run = run_step(line, &self.clone, &self.env, trace.as_deref()).await?;
        // Counted by strace when traced, else statically: the operations plus bash itself.
        self.processes += run.processes.unwrap_or(run.operations + 1);
        Ok(run)
    }

    async fn close(self) -> u32 {
        self.processes
    }
}

/// Fixed author and committer dates for commits the CLI arm makes, so commit ids (and the
/// tokens of results showing them) are the same on every run.
pub const COMMIT_DATE: &str = "2024-02-01T12:00:00Z";

/// The environment of every step: nothing inherited but PATH, gh pointed at the forge with the
/// shared token, git isolated from the machine's own configuration.
pub fn environment(home: &Path, forge_addr: &str, github_login: &str) -> Vec<(String, String)> {
    let proxy = format!("http://{forge_addr}");
    let home = home.display().to_string();
    [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", home.clone()),
        ("LANG", "C.UTF-8".into()),
        ("TZ", "UTC".into()),
        ("GH_CONFIG_DIR", home.clone()),
        // gh caches run logs in $TMPDIR by run id and time (fixed by the seed): per attempt.
        ("TMPDIR", home),
        ("GH_HOST", "github.localhost".into()),
        ("GH_TOKEN", demo_token(github_login)),
        ("HTTP_PROXY", proxy.clone()),
        ("http_proxy", proxy),
        ("GH_PROMPT_DISABLED", "1".into()),
        ("GH_NO_UPDATE_NOTIFIER", "1".into()),
        ("NO_COLOR", "1".into()),
        ("GH_PAGER", "cat".into()),
        ("GIT_PAGER", "cat".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GIT_AUTHOR_DATE", COMMIT_DATE.into()),
        ("GIT_COMMITTER_DATE", COMMIT_DATE.into()),
        // The shared token for git's pushes, as a CI job's credential helper hands it over
        // (`gh auth setup-git` would, but gh 2.23's helper answers for https hosts only and
        // the forge is plain http).
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", "credential.helper".into()),
        (
            "GIT_CONFIG_VALUE_0",
            "!f() { echo username=x-access-token; echo \"password=$GH_TOKEN\"; }; f".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs one line; with `trace`, under strace writing there (and the process count is read).
pub async fn run_step(
    line: &str,
    clone: &Path,
    env: &[(String, String)],
    trace: Option<&Path>,
) -> Result<StepRun> {
    let mut argv: Vec<String> = trace.map(crate::trace::prefix).unwrap_or_default();
    argv.extend(["bash".into(), "-c".into(), line.to_owned()]);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(clone)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        // Agent mode gives up on a model's command at its time budget by dropping this.
        .kill_on_drop(true);
    let started = Instant::now();
    let out = cmd.output().await.context("running bash")?;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let code = out.status.code().unwrap_or(-1);
    let result = render(
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
        code,
    );
    Ok(StepRun {
        call: Call {
            name: "bash".into(),
            arguments: serde_json::json!({ "command": line }).to_string(),
        },
        shown: line.to_owned(),
        result,
        is_error: code != 0,
        latency_ms,
        operations: operations(line),
        processes: trace.and_then(crate::trace::count_file),
    })
}

/// The tool result an agent framework returns for a shell call: stdout, then stderr, then the
/// exit status when it is not 0.
pub fn render(stdout: &str, stderr: &str, code: i32) -> String {
    let mut text = stdout.to_owned();
    for part in [
        stderr.to_owned(),
        if code == 0 {
            String::new()
        } else {
            format!("(exit status {code})\n")
        },
    ] {
        if part.is_empty() {
            continue;
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&part);
    }
    text
}

/// Operations in a command line: the elements of its pipelines and lists (separated by
/// unquoted `|`, `||`, `&&`, `;`, `&` or newlines, including inside `$(...)`), empty elements
/// not counted. A static count: a loop body counts once.
pub fn operations(line: &str) -> u32 {
    let mut count = 0;
    let mut current_has_text = false;
    let mut chars = line.chars().peekable();
    let (mut single, mut double) = (false, false);
    let mut end_segment = |has: &mut bool| {
        if *has {
            count += 1;
        }
        *has = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
                current_has_text = true;
            }
            '\'' if !double => {
                single = !single;
                current_has_text = true;
            }
            '"' if !single => {
                double = !double;
                current_has_text = true;
            }
            '|' | '&' | ';' | '\n' if !single && !double => {
                // `>&2`, `2>&1`, `&>`: redirections, not separators.
                if c == '&' && (chars.peek() == Some(&'>') || next_is_fd(&chars)) {
                    continue;
                }
                if (c == '|' || c == '&') && chars.peek() == Some(&c) {
                    chars.next();
                }
                end_segment(&mut current_has_text);
            }
            '(' | ')' if !single && !double => {}
            c if c.is_whitespace() => {}
            _ => current_has_text = true,
        }
    }
    end_segment(&mut current_has_text);
    count
}

/// Whether a `&` is followed by a file descriptor (`2>&1`, `>&-`): a redirection.
fn next_is_fd(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    chars
        .clone()
        .next()
        .is_some_and(|n| n.is_ascii_digit() || n == '-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(line: &str, expected: u32) {
        assert_eq!(operations(line), expected, "{line}");
    }

    #[test]
    fn counts_pipeline_and_list_elements() {
        check("git log -1", 1);
        check(
            "git log --format=%an | sort | uniq -c | sort -rn | head -1",
            5,
        );
        check("git switch -c x && git commit -am 'a; b | c'", 2);
        check("gh issue list --json number --jq 'length'", 1);
        check("x=$(git rev-parse HEAD); echo \"$x\"", 2);
        check(
            "git log -3 --name-only --format= | sort -u | xargs -n1 basename",
            3,
        );
        check("git grep -c TODO 2>&1 || true", 2);
        check("git status >/dev/null 2>&1; echo done", 2);
        check("cmd &>/dev/null", 1);
        check("a;", 1);
        check("a ; ; b", 2);
    }

    #[test]
    fn renders_results_as_frameworks_do() {
        assert_eq!(render("out\n", "", 0), "out\n");
        assert_eq!(render("out", "warn\n", 0), "out\nwarn\n");
        assert_eq!(
            render("", "fatal: x\n", 128),
            "fatal: x\n(exit status 128)\n"
        );
        assert_eq!(render("", "", 1), "(exit status 1)\n");
    }
}
