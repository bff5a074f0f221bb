//! The CLI side as a team runs it: one agent box, one OS user, one `gh` login with a shared
//! token, and bash keeping its history (HISTFILE with HISTTIMEFORMAT, so entries carry times).
//! Each action is a fresh interactive bash reading one command line, as an agent's shell tool
//! runs it; interactive so that bash records the line in the history file at exit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// What one command line did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub ok: bool,
    pub stderr: String,
}

/// The shared agent box.
pub struct AgentBox {
    home: PathBuf,
    /// The history file bash appends to.
    pub histfile: PathBuf,
    env: Vec<(String, String)>,
}

impl AgentBox {
    /// A box whose `gh` reaches the forge at `forge_url` with `token` (the shared one).
    pub fn new(dir: &Path, forge_url: &str, token: &str) -> Result<Self> {
        let home = dir.join("agent-home");
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        let histfile = home.join(".bash_history");
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned());
        let env = [
            ("PATH", path.as_str()),
            ("HOME", &home.display().to_string()),
            (
                "GH_CONFIG_DIR",
                &home.join(".config/gh").display().to_string(),
            ),
            ("HISTFILE", &histfile.display().to_string()),
            ("HISTTIMEFORMAT", "%F %T "),
            // No prompts: they would land on stderr between the command's messages.
            ("PS1", ""),
            ("PS2", ""),
            ("HISTSIZE", "10000"),
            ("HISTFILESIZE", "10000"),
            ("GH_HOST", "github.localhost"),
            ("GH_TOKEN", token),
            ("HTTP_PROXY", forge_url),
            ("http_proxy", forge_url),
            ("GH_PROMPT_DISABLED", "1"),
            ("GH_NO_UPDATE_NOTIFIER", "1"),
            ("NO_COLOR", "1"),
            ("GH_PAGER", "cat"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Ok(Self {
            home,
            histfile,
            env,
        })
    }

    /// Runs `line` in a fresh interactive bash; bash exits with the line's status at the end
    /// of its input and appends the line to the history file.
    pub fn run(&self, line: &str) -> Result<Ran> {
        let mut child = Command::new("bash")
            .args(["--norc", "--noprofile", "-i"])
            .current_dir(&self.home)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting bash")?;
        {
            let mut stdin = child.stdin.take().context("bash stdin")?;
            writeln!(stdin, "{line}").context("writing to bash")?;
        }
        let out = child.wait_with_output().context("waiting for bash")?;
        Ok(Ran {
            ok: out.status.success(),
            stderr: clean_stderr(&String::from_utf8_lossy(&out.stderr), line),
        })
    }
}

/// Interactive bash without a terminal echoes its input and prints job-control warnings on
/// stderr; the command's own messages are what is left.
fn clean_stderr(text: &str, line: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.starts_with("bash: cannot set terminal process group")
                && !l.starts_with("bash: no job control")
                && *l != line
                && l.trim() != "exit"
        })
        .collect::<Vec<_>>()
        .join("\n")
}
