//! An optional JSON Lines copy of the audit log for a SIEM: a file opened for appending, or stdout.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use super::{Appended, Error};

/// Appends one line per event ([`Appended::to_jsonl`]) and flushes it. The store stays the
/// source of truth; the mirror is written after the append has committed.
pub struct JsonlMirror {
    name: String,
    // std Mutex: held only for one write and flush, never across an await.
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for JsonlMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlMirror")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl JsonlMirror {
    /// Opens `path` for appending (created if missing). With O_APPEND each line lands at the end
    /// even when another process writes the same file.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::Mirror {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            name: path.display().to_string(),
            out: Mutex::new(Box::new(file)),
        })
    }

    /// A mirror to standard output.
    pub fn stdout() -> Self {
        Self {
            name: "-".to_owned(),
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    /// Writes `entry` as one line and flushes.
    pub fn write(&self, entry: &Appended) -> Result<(), Error> {
        let mut line = entry.to_jsonl();
        line.push('\n');
        // A panic while holding the lock cannot leave a half-written line we would care about.
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write call per line keeps lines whole under O_APPEND.
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|source| Error::Mirror {
                path: self.name.clone(),
                source,
            })
    }
}
