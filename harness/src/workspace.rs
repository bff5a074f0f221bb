//! Identical starting states. The forge is seeded once per run into a template (forge data plus
//! a working clone of acme/widgets); every attempt gets its own copy of both, then the task's
//! fixture (branch, uncommitted edits) is applied to the copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fixture::git;
use crate::forge::{Forge, REPO};
use crate::task::{Edit, Fixture};

/// The seeded template of a run.
#[derive(Debug, Clone)]
pub struct Template {
    pub forge_data: PathBuf,
    pub clone: PathBuf,
    pub seed: String,
}

/// Author of commits made in the clone (the developer the agent works for).
pub const GIT_NAME: &str = "Alice Liddell";
pub const GIT_EMAIL: &str = "alice@acme.example";

impl Template {
    /// Seeds a forge in `dir/forge`, stops it cleanly, and clones its repository to
    /// `dir/widgets` with `origin` at the public URL (where gh finds the repository).
    pub async fn build(forge_bin: &Path, seed: &str, dir: &Path) -> Result<Self> {
        let forge_data = dir.join("forge");
        let clone = dir.join("widgets");
        std::fs::create_dir_all(&forge_data)
            .with_context(|| format!("creating {}", forge_data.display()))?;
        let forge = Forge::start(forge_bin, &forge_data, seed, &dir.join("seed.log")).await?;
        forge.stop().await?;
        let bare = forge_data.join("repos").join(format!("{REPO}.git"));
        if !bare.exists() {
            bail!("the seed made no {}", bare.display());
        }
        let (bare_s, clone_s) = (bare.display().to_string(), clone.display().to_string());
        // One pack instead of ~900 loose objects: every attempt copies the template, and on
        // this 2-core machine under load copying the loose objects took 0.4-1.2 s an attempt
        // where the packed repository takes 25 ms. The clone then starts from the pack too.
        git(&bare, &["repack", "-adq"])?;
        git(&bare, &["prune-packed"])?;
        git(dir, &["clone", "-q", &bare_s, &clone_s])?;
        let origin = format!("{}/{REPO}.git", crate::forge::PUBLIC_URL);
        git(&clone, &["remote", "set-url", "origin", &origin])?;
        git(&clone, &["config", "user.name", GIT_NAME])?;
        git(&clone, &["config", "user.email", GIT_EMAIL])?;
        Ok(Self {
            forge_data,
            clone,
            seed: seed.to_owned(),
        })
    }
}

/// One attempt's copy of the template.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub forge_data: PathBuf,
    pub clone: PathBuf,
}

impl Workspace {
    /// Copies the template into `root` (which must not exist) and applies `fixture`.
    pub fn create(template: &Template, root: &Path, fixture: &Fixture) -> Result<Self> {
        if let Some(seed) = &fixture.seed
            && *seed != template.seed
        {
            bail!(
                "the task needs seed {seed:?}; this run seeded {:?}",
                template.seed
            );
        }
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let forge_data = root.join("forge");
        let clone = root.join("widgets");
        // cp -a keeps modes and times, so git's stat cache stays valid in the copy.
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template.forge_data)
            .arg(&template.clone)
            .arg(root)
            .status()
            .context("running cp")?;
        if !status.success() {
            bail!("copying the template into {} failed", root.display());
        }
        if let Some(branch) = &fixture.branch
            && branch != "main"
        {
            git(&clone, &["checkout", "-q", branch])?;
        }
        for edit in &fixture.edits {
            apply_edit(&clone, edit)?;
        }
        for args in &fixture.git {
            fixture_git(&clone, args)?;
        }
        Ok(Self {
            root: root.to_owned(),
            forge_data,
            clone,
        })
    }

    /// Removes the copy on a background thread (deleting takes as long as copying, and
    /// nothing waits for it).
    pub fn remove(self) {
        let root = self.root;
        let spawned = std::thread::Builder::new()
            .name("remove-attempt".into())
            .spawn({
                let root = root.clone();
                move || {
                    let _ = std::fs::remove_dir_all(root);
                }
            });
        if spawned.is_err() {
            let _ = std::fs::remove_dir_all(&root);
        }
    }
}

/// One edit of the clone: write, append or delete, then stage it if asked.
fn apply_edit(clone: &Path, edit: &Edit) -> Result<()> {
    let path = clone.join(&edit.path);
    if edit.delete {
        std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
    } else {
        let text = match (&edit.write, &edit.append) {
            (Some(w), _) => w.clone(),
            (None, Some(a)) => {
                let mut t = std::fs::read_to_string(&path).unwrap_or_default();
                t.push_str(a);
                t
            }
            (None, None) => return Ok(()),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        std::fs::write(&path, text).with_context(|| format!("editing {}", path.display()))?;
    }
    if edit.stage {
        git(clone, &["add", "-A", "--", &edit.path])?;
    }
    Ok(())
}

/// Commit dates of fixture commits and stashes, so every attempt has the same ids.
const FIXTURE_DATE: &str = "1706700000 +0000";

/// `git ARGS` in the clone through bash (task files quote as a shell does), with pinned dates.
fn fixture_git(clone: &Path, args: &str) -> Result<()> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("git {args}"))
        .current_dir(clone)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", FIXTURE_DATE)
        .env("GIT_COMMITTER_DATE", FIXTURE_DATE)
        .output()
        .context("running a fixture git command")?;
    if !out.status.success() {
        bail!(
            "fixture `git {args}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Points the clone's `origin` at `url` (an arm that reaches the forge by its own address).
pub fn set_origin(clone: &Path, url: &str) -> Result<()> {
    git(clone, &["remote", "set-url", "origin", url]).map(drop)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A template without a forge: a small history in `clone`.
    fn template(dir: &Path) -> Template {
        let clone = dir.join("widgets");
        let forge_data = dir.join("forge");
        std::fs::create_dir_all(&clone).unwrap();
        std::fs::create_dir_all(&forge_data).unwrap();
        crate::fixture::linear_history(&clone, 6).unwrap();
        git(&clone, &["checkout", "-q", "--", "."]).unwrap();
        Template {
            forge_data,
            clone,
            seed: "demo".into(),
        }
    }

    fn check(ws: &Workspace, args: &[&str], expected: &str) {
        assert_eq!(git(&ws.clone, args).unwrap(), expected, "git {args:?}");
    }

    #[test]
    fn fixtures_leave_staged_unstaged_deleted_untracked_files_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let template = template(dir.path());
        let fixture: Fixture = toml::from_str(
            r#"
git = [
  "branch feature/old HEAD~2",
  "tag -a v0.9 -m 'v0.9 notes' HEAD~1",
  "stash push -m 'wip: module 3' -- src/module_03.rs",
]
[[edit]]
path = "src/module_01.rs"
append = "// staged\n"
stage = true
[[edit]]
path = "src/module_02.rs"
append = "// unstaged\n"
[[edit]]
path = "src/module_03.rs"
append = "// stashed\n"
[[edit]]
path = "src/module_04.rs"
delete = true
[[edit]]
path = "src/module_05.rs"
delete = true
stage = true
[[edit]]
path = "notes/todo.md"
write = "- ship it\n"
"#,
        )
        .unwrap();
        let ws = Workspace::create(&template, &dir.path().join("a1"), &fixture).unwrap();
        check(
            &ws,
            &["status", "--porcelain"],
            "M  src/module_01.rs\n M src/module_02.rs\n D src/module_04.rs\nD  src/module_05.rs\n?? notes/\n",
        );
        check(
            &ws,
            &["stash", "list", "--format=%gs"],
            "On main: wip: module 3\n",
        );
        check(
            &ws,
            &["branch", "--format=%(refname:short)"],
            "feature/old\nmain\n",
        );
        check(&ws, &["tag", "-n1"], "v0.9            v0.9 notes\n");
        // The same fixture gives the same ids on every attempt.
        let again = Workspace::create(&template, &dir.path().join("a2"), &fixture).unwrap();
        let stash = |w: &Workspace| git(&w.clone, &["rev-parse", "stash@{0}", "v0.9"]).unwrap();
        assert_eq!(stash(&ws), stash(&again));
    }

    #[test]
    fn a_failing_fixture_command_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let template = template(dir.path());
        let fixture: Fixture = toml::from_str(r#"git = ["branch x no-such-rev"]"#).unwrap();
        let e = Workspace::create(&template, &dir.path().join("a"), &fixture).unwrap_err();
        assert!(format!("{e:#}").contains("no-such-rev"), "{e:#}");
    }
}
