//! Identical starting states. The forge is seeded once per run into a template (forge data plus
//! a working clone of acme/widgets); every attempt gets its own copy of both, then the task's
//! fixture (branch, uncommitted edits) is applied to the copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fixture::git;
use crate::forge::{Forge, REPO};
use crate::task::Fixture;

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
            let path = clone.join(&edit.path);
            let text = match (&edit.write, &edit.append) {
                (Some(w), _) => w.clone(),
                (None, Some(a)) => {
                    let mut t = std::fs::read_to_string(&path).unwrap_or_default();
                    t.push_str(a);
                    t
                }
                (None, None) => continue,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).ok();
            }
            std::fs::write(&path, text).with_context(|| format!("editing {}", path.display()))?;
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

/// Points the clone's `origin` at `url` (an arm that reaches the forge by its own address).
pub fn set_origin(clone: &Path, url: &str) -> Result<()> {
    git(clone, &["remote", "set-url", "origin", url]).map(drop)
}
