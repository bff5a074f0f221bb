//! Transcripts: one JSON Lines file per attempt holding every request body, every response
//! body as received (raw JSON or event stream), the retries, each tool call with its result,
//! and how the attempt ended. A replay reads the responses back instead of asking a provider.
//!
//! Headers are never recorded, so the API key never reaches a transcript; as a second guard
//! the writer replaces any occurrence of a secret it is given (a provider echoing it back).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a transcript could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Bad {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Largest transcript a replay reads (256 MiB).
const MAX_FILE: u64 = 256 << 20;

/// One line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Start {
        task: String,
        arm: String,
        attempt: u32,
        provider: String,
        model: String,
        stream: bool,
        system: String,
        prompt: String,
        tools: Vec<String>,
    },
    Request {
        turn: u32,
        body: Value,
    },
    Retry {
        turn: u32,
        status: u16,
        wait_s: f64,
    },
    Response {
        turn: u32,
        status: u16,
        body: String,
    },
    /// The provider gave no usable answer (after retries), or it could not be parsed.
    ProviderError {
        turn: u32,
        message: String,
    },
    Tool {
        turn: u32,
        id: String,
        name: String,
        arguments: String,
        result: String,
        error: Option<super::interface::ErrorKind>,
        help: bool,
    },
    End {
        stop: String,
        wall_s: f64,
    },
}

/// Appends entries to one attempt's transcript.
pub struct Writer {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    secrets: Vec<String>,
}

impl Writer {
    /// Creates `path` (and its directory); `secrets` are replaced wherever they appear.
    pub fn create(path: &Path, secrets: &[String]) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = std::fs::File::create(path).map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            file: std::io::BufWriter::new(file),
            secrets: secrets.iter().filter(|s| s.len() >= 8).cloned().collect(),
        })
    }

    /// Writes one entry as a line.
    pub fn write(&mut self, entry: &Entry) -> Result<(), Error> {
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        for s in &self.secrets {
            line = line.replace(s.as_str(), "[redacted]");
        }
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// Reads every entry of a transcript.
pub fn read(path: &Path) -> Result<Vec<Entry>, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE {
        return Err(Error::Bad {
            path: path.to_owned(),
            line: 0,
            message: format!("larger than {MAX_FILE} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Bad {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// What a replay takes from a transcript: the answers the provider gave, in order, and how
/// the attempt ended.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Per turn: the response body, or the provider error's message.
    pub answers: std::collections::VecDeque<Result<String, String>>,
    /// The tool results, in order (a replay compares its own with them).
    pub results: std::collections::VecDeque<String>,
    pub stop: String,
    pub wall_s: f64,
}

impl Recorded {
    pub fn from_entries(entries: &[Entry]) -> Self {
        let mut r = Self::default();
        for e in entries {
            match e {
                Entry::Response { body, .. } => r.answers.push_back(Ok(body.clone())),
                Entry::ProviderError { message, .. } => r.answers.push_back(Err(message.clone())),
                Entry::Tool { result, .. } => r.results.push_back(result.clone()),
                Entry::End { stop, wall_s } => {
                    r.stop.clone_from(stop);
                    r.wall_s = *wall_s;
                }
                _ => {}
            }
        }
        r
    }
}
