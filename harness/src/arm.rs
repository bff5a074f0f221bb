//! Arms as data (`harness/arms.toml`, format in `harness/README.md`): how an interface runs a
//! task's steps, which step lists it takes, what it needs installed, and for MCP servers the
//! command line that starts them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use crate::task::{Step, StepList};

/// The embedded default arms.
pub const DEFAULT_TOML: &str = include_str!("../arms.toml");

/// Errors in an arms file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("arms file: {0}")]
    Parse(#[from] Box<toml::de::Error>),
    #[error("arm {arm}: {message}")]
    Invalid { arm: String, message: String },
}

/// CLI (shell steps) or MCP (tool calls through an MCP client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cli,
    Mcp,
}

/// How an MCP client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Stdio,
    Http,
}

/// One arm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    pub kind: Kind,
    #[serde(default)]
    pub description: String,
    /// Step lists this arm runs, first present in a task wins (`["mcp-lean", "mcp"]`).
    pub steps: Vec<String>,
    /// The forge user whose GitHub token the arm uses (`{github_token}`).
    pub github_login: Option<String>,
    /// Commands that must succeed for the arm to run; otherwise it is skipped with the reason.
    #[serde(default)]
    pub requires: Vec<Vec<String>>,
    /// A command printing the arm's version (for the report).
    pub version: Option<Vec<String>>,
    /// Text the agent's system prompt carries for this arm (counted as teach and context).
    #[serde(default)]
    pub preamble: String,
    /// CLI arms: the shell tool definition the model is given (JSON).
    pub interface: Option<String>,
    /// MCP arms: transport.
    #[serde(default)]
    pub transport: Transport,
    /// MCP arms: the server's command line.
    #[serde(default)]
    pub command: Vec<String>,
    /// MCP arms whose server lists one meta tool (gitgate's lean mode): a step calling any other
    /// tool is sent through this one as `{"tool": NAME, "args": ARGS}`, as a model that sees only
    /// the meta tool would call it.
    pub via: Option<String>,
    /// MCP arms with `via`: the programs the meta tool's run form (`{"run": LINE}`) runs. A
    /// shell step list named in `steps` (`cli`) is taken when every program of every line is
    /// one of these and the line uses no shell construct the run form refuses; each line is
    /// then sent unchanged as `{"run": LINE}`, as the model would type it to a shell.
    #[serde(default)]
    pub run_programs: Vec<String>,
    /// Where the working clone's `origin` points for this arm (placeholders expanded); default
    /// the forge's public URL, as gh finds the repository. A server that pushes and fetches
    /// itself is given the address it was configured with (`{forge_url}/acme/widgets.git`).
    pub origin: Option<String>,
    /// MCP arms: extra environment of the server.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Run once per run before the first attempt (users, keys).
    #[serde(default)]
    pub setup: Vec<SetupStep>,
    /// HTTP arms: a command printing the bearer token to send (run once, after setup).
    pub bearer: Option<Vec<String>>,
    /// HTTP arms: the server prints its URL on stderr after this prefix.
    pub ready_prefix: Option<String>,
}

/// One setup command.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupStep {
    pub run: Vec<String>,
    /// Write the command's stdout to this file.
    pub stdout_to: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArmsFile {
    arm: Vec<Arm>,
}

/// Parses and validates an arms file.
pub fn parse(text: &str) -> Result<Vec<Arm>, Error> {
    let file: ArmsFile = toml::from_str(text).map_err(Box::new)?;
    let mut seen = std::collections::BTreeSet::new();
    for arm in &file.arm {
        let invalid = |message: &str| Error::Invalid {
            arm: arm.name.clone(),
            message: message.to_owned(),
        };
        if !seen.insert(arm.name.as_str()) {
            return Err(invalid("defined twice"));
        }
        if arm.steps.is_empty() {
            return Err(invalid("`steps` names no step list"));
        }
        match arm.kind {
            Kind::Cli => {
                let Some(interface) = &arm.interface else {
                    return Err(invalid(
                        "a cli arm needs `interface` (its shell tool definition)",
                    ));
                };
                if serde_json::from_str::<serde_json::Value>(interface).is_err() {
                    return Err(invalid("`interface` is not JSON"));
                }
            }
            Kind::Mcp => {
                if arm.command.is_empty() {
                    return Err(invalid("an mcp arm needs `command`"));
                }
                if arm.transport == Transport::Http
                    && (arm.ready_prefix.is_none() || arm.bearer.is_none())
                {
                    return Err(invalid("an http arm needs `ready_prefix` and `bearer`"));
                }
            }
        }
    }
    Ok(file.arm)
}

/// The embedded default arms.
pub fn defaults() -> Vec<Arm> {
    parse(DEFAULT_TOML).expect("the embedded arms file parses (unit-tested)")
}

/// Values for the placeholders of one arm in one attempt (or in setup, without clone/forge).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub gitgate: String,
    pub clone: String,
    pub forge_url: String,
    pub github_token: String,
    pub state: String,
}

impl Vars {
    /// `text` with its placeholders replaced.
    pub fn expand(&self, text: &str) -> String {
        text.replace("{gitgate}", &self.gitgate)
            .replace("{clone}", &self.clone)
            .replace("{forge_url}", &self.forge_url)
            .replace("{github_token}", &self.github_token)
            .replace("{state}", &self.state)
    }

    /// Every item expanded.
    pub fn expand_all(&self, items: &[String]) -> Vec<String> {
        items.iter().map(|i| self.expand(i)).collect()
    }
}

impl Arm {
    /// The step list of `lists` this arm runs, by its priority order: the first present that
    /// the arm can run (an MCP arm takes a shell list only through its run form).
    pub fn pick<'a>(
        &self,
        lists: &'a BTreeMap<String, StepList>,
    ) -> Option<(&'a str, &'a StepList)> {
        self.steps
            .iter()
            .filter_map(|name| lists.get_key_value(name))
            .find(|(_, list)| self.can_run(list))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Whether the arm can run `list`: tool calls on an MCP arm, shell lines on a cli arm, and
    /// shell lines on an MCP arm whose run form takes every one of them.
    fn can_run(&self, list: &StepList) -> bool {
        let lines = list.steps.iter().map(|s| match s {
            Step::Shell(line) => Some(line.as_str()),
            Step::Tool { .. } => None,
        });
        let shell: Option<Vec<&str>> = lines.collect();
        match (self.kind, shell) {
            (Kind::Cli, shell) => shell.is_some(),
            (Kind::Mcp, None) => true,
            (Kind::Mcp, Some(lines)) => {
                // A reference to an earlier result is a plain word once it is read.
                let lines: Vec<String> = lines.iter().map(|l| without_references(l)).collect();
                self.via.is_some()
                    && crate::run_line::all_runnable(
                        lines.iter().map(String::as_str),
                        &self.run_programs,
                    )
            }
        }
    }

    /// Why the arm cannot run here (a required command is missing or fails), if it cannot.
    pub fn unavailable(&self, vars: &Vars) -> Option<String> {
        let mut needs = self.requires.clone();
        // Without `requires`, a server must at least answer --version.
        if needs.is_empty()
            && let Some(first) = self.command.first()
        {
            needs.push(vec![first.clone(), "--version".into()]);
        }
        for cmd in needs {
            let cmd = vars.expand_all(&cmd);
            let Some((program, args)) = cmd.split_first() else {
                continue;
            };
            match Command::new(program).args(args).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Some(format!(
                        "`{}` failed: {}",
                        cmd.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(e) => return Some(format!("`{program}` cannot run: {e}")),
            }
        }
        None
    }

    /// The arm's version line, if it names a command for it.
    pub fn version(&self, vars: &Vars) -> Option<String> {
        let cmd = vars.expand_all(self.version.as_ref()?);
        let (program, args) = cmd.split_first()?;
        let out = Command::new(program).args(args).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().map(|l| l.trim().to_owned())
    }
}

/// `line` with each `{steps.N:READER}` replaced by a plain word.
fn without_references(line: &str) -> String {
    let Ok(refs) = crate::check::reference::find(line) else {
        return line.to_owned();
    };
    let mut out = String::new();
    let mut last = 0;
    for (range, _) in refs {
        out.push_str(&line[last..range.start]);
        out.push_str("REF");
        last = range.end;
    }
    out.push_str(&line[last..]);
    out
}

/// Runs an arm's setup steps and its bearer command once; returns the bearer token, if any.
pub fn setup(arm: &Arm, vars: &Vars, state: &Path) -> anyhow::Result<Option<String>> {
    use anyhow::{Context, bail};
    std::fs::create_dir_all(state).with_context(|| format!("creating {}", state.display()))?;
    let run = |cmd: &[String], env: &BTreeMap<String, String>| -> anyhow::Result<String> {
        let cmd = vars.expand_all(cmd);
        let (program, args) = cmd.split_first().context("an empty setup command")?;
        let out = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, vars.expand(v))))
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "arm {} setup `{}` failed: {}",
                arm.name,
                cmd.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    for step in &arm.setup {
        let out = run(&step.run, &step.env)?;
        if let Some(to) = &step.stdout_to {
            let path = vars.expand(to);
            std::fs::write(&path, out).with_context(|| format!("writing {path}"))?;
        }
    }
    match &arm.bearer {
        Some(cmd) => {
            let token = run(cmd, &BTreeMap::new())?.trim().to_owned();
            if token.is_empty() {
                bail!("arm {}: the bearer command printed nothing", arm.name);
            }
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_arms_parse() {
        let arms = defaults();
        let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cli",
                "mcp",
                "mcp-http",
                "peer:mcp-server-git",
                "mcp-lean",
                "mcp-lean-json"
            ]
        );
        assert_eq!(arms[2].transport, Transport::Http);
        assert_eq!(arms[4].via.as_deref(), Some("gitgate"));
        assert_eq!(arms[4].steps, ["mcp-lean", "cli", "mcp"]);
        assert!(arms[4].run_programs.iter().any(|p| p == "gh"));
        assert_eq!(arms[5].steps, ["mcp-lean-json", "mcp-lean", "mcp"]);
    }

    fn list(steps: Vec<Step>) -> StepList {
        StepList {
            steps,
            answer: crate::check::Reader::Text,
            answer_refs: None,
            answer_written: "text".into(),
            answer_steps: vec![1],
        }
    }

    fn tool_list() -> StepList {
        list(vec![Step::Tool {
            tool: "git_log".into(),
            args: serde_json::Map::new(),
            ops: None,
        }])
    }

    #[test]
    fn picks_the_first_list_present() {
        let arm = parse(
            "[[arm]]\nname = \"lean\"\nkind = \"mcp\"\nsteps = [\"mcp-lean\", \"mcp\"]\ncommand = [\"x\"]\n",
        )
        .unwrap()
        .remove(0);
        let mut lists = BTreeMap::new();
        lists.insert("mcp".to_owned(), tool_list());
        assert_eq!(arm.pick(&lists).map(|p| p.0), Some("mcp"));
        lists.insert("mcp-lean".to_owned(), tool_list());
        assert_eq!(arm.pick(&lists).map(|p| p.0), Some("mcp-lean"));
        lists.clear();
        assert!(arm.pick(&lists).is_none());
    }

    #[test]
    fn takes_shell_lines_through_a_run_form_only_when_it_runs_them() {
        let arm = parse(
            "[[arm]]\nname = \"lean\"\nkind = \"mcp\"\nsteps = [\"cli\", \"mcp\"]\ncommand = [\"x\"]\n\
             via = \"gitgate\"\nrun_programs = [\"git\", \"sort\"]\n",
        )
        .unwrap()
        .remove(0);
        let mut lists = BTreeMap::new();
        lists.insert("mcp".to_owned(), tool_list());
        lists.insert(
            "cli".to_owned(),
            list(vec![Step::Shell("git log --format=%an | sort -u".into())]),
        );
        assert_eq!(arm.pick(&lists).map(|p| p.0), Some("cli"));
        // A program it does not run, or a shell variable: the next list.
        for line in ["git log | awk 1", "a=$(git log); git show $a"] {
            lists.insert("cli".to_owned(), list(vec![Step::Shell(line.into())]));
            assert_eq!(arm.pick(&lists).map(|p| p.0), Some("mcp"), "{line}");
        }
        // Without a run form, an MCP arm never takes shell lines.
        let plain =
            parse("[[arm]]\nname = \"m\"\nkind = \"mcp\"\nsteps = [\"cli\"]\ncommand = [\"x\"]\n")
                .unwrap()
                .remove(0);
        lists.insert("cli".to_owned(), list(vec![Step::Shell("git log".into())]));
        assert!(plain.pick(&lists).is_none());
    }

    #[test]
    fn rejects_incomplete_arms() {
        for (text, fragment) in [
            (
                "[[arm]]\nname = \"a\"\nkind = \"cli\"\nsteps = [\"cli\"]\n",
                "interface",
            ),
            (
                "[[arm]]\nname = \"a\"\nkind = \"mcp\"\nsteps = [\"mcp\"]\n",
                "command",
            ),
            (
                "[[arm]]\nname = \"a\"\nkind = \"mcp\"\nsteps = []\ncommand = [\"x\"]\n",
                "steps",
            ),
            (
                "[[arm]]\nname = \"a\"\nkind = \"mcp\"\ntransport = \"http\"\nsteps = [\"m\"]\ncommand = [\"x\"]\n",
                "ready_prefix",
            ),
            (
                "[[arm]]\nname = \"a\"\nkind = \"gui\"\nsteps = [\"m\"]\n",
                "unknown variant",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(fragment), "{fragment:?} not in {e}");
        }
    }

    #[test]
    fn missing_tool_makes_the_arm_unavailable() {
        let arm = parse(
            "[[arm]]\nname = \"p\"\nkind = \"mcp\"\nsteps = [\"m\"]\ncommand = [\"x\"]\nrequires = [[\"/nonexistent/tool\", \"-v\"]]\n",
        )
        .unwrap()
        .remove(0);
        let why = arm.unavailable(&Vars::default()).unwrap();
        assert!(why.contains("/nonexistent/tool"), "{why}");
    }

    #[test]
    fn expands_placeholders() {
        let v = Vars {
            clone: "/c".into(),
            forge_url: "http://f".into(),
            ..Default::default()
        };
        assert_eq!(
            v.expand("widgets={clone} {forge_url}/x"),
            "widgets=/c http://f/x"
        );
    }
}
