//! What a run is given: the tasks, the arms, the binaries and the options. Shared by the
//! modules that run tasks (`run`) and that describe a run (`meta`), so neither imports the other.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::arm::Arm;
use crate::prices::Prices;
use crate::task::Task;

/// What to run.
pub struct Config {
    pub tasks: Vec<Task>,
    pub arms: Vec<Arm>,
    pub repeat: u32,
    pub seed: String,
    pub gitgate: PathBuf,
    pub forge: PathBuf,
    pub prices: Prices,
    /// Tokenizer names, primary first.
    pub tokenizers: Vec<String>,
    /// Count processes with strace (in an extra untimed attempt per task and arm) when it works.
    pub trace: bool,
    /// Scratch directory (default: a temporary one, removed afterwards).
    pub work_dir: Option<PathBuf>,
}

/// Keeps the named arms of `all` (all when `names` is empty), in the order given.
pub fn select_arms(all: Vec<Arm>, names: &[String]) -> Result<Vec<Arm>> {
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|a| a.name == *n).cloned().with_context(|| {
                format!(
                    "no arm {n:?}; arms: {}",
                    all.iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
        .collect()
}
