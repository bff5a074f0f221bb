//! The HMAC hash chain: the key, checkpoints, and the verifier that walks stored events.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Error;
use super::event::{AuditEvent, normalize_time};

/// `prev_hash` of the first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The secret HMAC-SHA256 key of the chain. Whoever holds it can rewrite the log undetectably, so
/// it lives outside the store (a file or environment variable the lead's CLI loads).
#[derive(Clone)]
pub struct AuditKey {
    mac: Hmac<Sha256>,
}

impl AuditKey {
    /// The least key length accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from raw bytes (at least [`Self::MIN_LEN`], e.g. the contents of a key file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < Self::MIN_LEN {
            return Err(Error::KeyTooShort {
                len: bytes.len(),
                min: Self::MIN_LEN,
            });
        }
        let mac = Hmac::<Sha256>::new_from_slice(bytes).expect("HMAC accepts keys of any length");
        Ok(Self { mac })
    }

    /// 32 fresh bytes from the operating system's RNG, for a new key file.
    pub fn generate_bytes() -> Result<[u8; 32], rand::rngs::SysError> {
        let mut bytes = [0u8; 32];
        rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
        Ok(bytes)
    }

    /// `hex(HMAC-SHA256(key, prev_hash || event_json))`, `prev_hash` as its ASCII hex text.
    pub fn chain_hash(&self, prev_hash: &str, event_json: &str) -> String {
        // Cloning the keyed state skips re-deriving the padded key for every event.
        let mut mac = self.mac.clone();
        mac.update(prev_hash.as_bytes());
        mac.update(event_json.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The MAC of line `line` of spool file `spool` holding `event_json` (see `audit::spool`):
    /// `hex(HMAC-SHA256(key, "gitgate-spool\0" || spool || "\0" || line || "\0" || event_json))`.
    /// The domain prefix keeps a spool MAC from ever being taken for a chain hash.
    pub fn spool_mac(&self, spool: &str, line: u64, event_json: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"gitgate-spool\0");
        mac.update(spool.as_bytes());
        mac.update(b"\0");
        mac.update(line.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(event_json.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey([redacted])")
    }
}

/// A point in the chain, exported elsewhere so that cutting the log's tail is detectable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The sequence number of the last event covered (0 for an empty log).
    pub seq: u64,
    /// That event's hash (`GENESIS_HASH` for an empty log).
    pub hash: String,
}

impl Checkpoint {
    /// The checkpoint of an empty log.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// What kind of tampering the verifier found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TamperKind {
    /// A sequence number is missing: an event was deleted.
    Missing,
    /// An event's `prev_hash` is not its predecessor's hash: events were deleted and renumbered,
    /// inserted or reordered.
    ChainBroken,
    /// An event's content does not match its hash (or its indexed columns): edited or forged.
    Edited,
    /// The log ends before a checkpoint or the recorded head, or differs at a checkpoint.
    Truncated,
}

/// The first bad event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tamper {
    pub seq: u64,
    pub kind: TamperKind,
    /// One line for a person: `event 7 was edited (hash mismatch)`.
    pub reason: String,
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The result of walking the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// The last event read, as a checkpoint (genesis for an empty log).
    pub last: Checkpoint,
    /// The first problem, if any; `None` means the log verifies.
    pub first_bad: Option<Tamper>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// The fields of a stored event's JSON that [`IndexedColumns`] copies; everything else is
/// skipped without being built (see [`IndexedColumns::from_json`]).
#[derive(Deserialize)]
struct ColumnFields<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    user: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    tool: std::borrow::Cow<'a, str>,
    #[serde(default)]
    target: TargetRepo,
    decision: AllowedField,
    outcome: OkField,
}

#[derive(Deserialize, Default)]
struct TargetRepo {
    #[serde(default)]
    repo: Option<String>,
}

#[derive(Deserialize)]
struct AllowedField {
    allowed: bool,
}

#[derive(Deserialize)]
struct OkField {
    ok: bool,
}

/// The copies of event fields the store keeps in their own (indexed) columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedColumns {
    pub id: String,
    /// Normalised with the log's fixed-width RFC 3339 form.
    pub time: String,
    pub user: String,
    pub tool: String,
    pub repo: Option<String>,
    pub allowed: bool,
    pub ok: bool,
}

impl IndexedColumns {
    /// The columns for `event`, or `None` if its `time` is not RFC 3339.
    pub fn of(event: &AuditEvent) -> Option<Self> {
        Some(Self {
            id: event.id.clone(),
            time: normalize_time(&event.time)?,
            user: event.user.clone(),
            tool: event.tool.clone(),
            repo: event.target.repo.clone(),
            allowed: event.decision.allowed,
            ok: event.outcome.ok,
        })
    }

    /// The columns of an event given as its canonical JSON, reading only those fields (the
    /// spool's chainer does this for every event, and a whole `AuditEvent` with its arguments
    /// costs several times more to build). `None` when a field is missing or the time is not
    /// RFC 3339. Equal to [`IndexedColumns::of`] the parsed event (tested).
    pub fn from_json(event_json: &str) -> Option<Self> {
        let f: ColumnFields<'_> = serde_json::from_str(event_json).ok()?;
        Some(Self {
            id: f.id.into_owned(),
            time: normalize_time(&f.time)?,
            user: f.user.into_owned(),
            tool: f.tool.into_owned(),
            repo: f.target.repo,
            allowed: f.decision.allowed,
            ok: f.outcome.ok,
        })
    }
}

/// One stored row as the verifier sees it.
#[derive(Debug, Clone)]
pub struct ChainRow {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub event_json: String,
    pub columns: IndexedColumns,
}

/// Walks rows in sequence order and remembers the first problem. Pure: the store feeds it rows.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: &'k AuditKey,
    next_seq: u64,
    prev_hash: String,
    events: u64,
    first_bad: Option<Tamper>,
    checkpoints: BTreeMap<u64, String>,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier that also checks each of `checkpoints` (exported or stored ones).
    pub fn new(key: &'k AuditKey, checkpoints: &[Checkpoint]) -> Self {
        Self {
            key,
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            events: 0,
            first_bad: None,
            checkpoints: checkpoints
                .iter()
                .map(|c| (c.seq, c.hash.clone()))
                .collect(),
        }
    }

    /// Checks the next row (rows must come in ascending `seq` order).
    pub fn push(&mut self, row: &ChainRow) {
        self.events += 1;
        if self.first_bad.is_none() {
            self.first_bad = self.check(row);
        }
        self.next_seq = row.seq + 1;
        self.prev_hash.clone_from(&row.hash);
    }

    fn check(&self, row: &ChainRow) -> Option<Tamper> {
        let seq = row.seq;
        if seq != self.next_seq {
            let missing = self.next_seq;
            return Some(tamper(
                missing,
                TamperKind::Missing,
                format!("missing event {missing}"),
            ));
        }
        if row.prev_hash != self.prev_hash {
            let reason = format!("chain broken at {seq} (deleted, inserted or reordered)");
            return Some(tamper(seq, TamperKind::ChainBroken, reason));
        }
        if self.key.chain_hash(&row.prev_hash, &row.event_json) != row.hash {
            let reason = format!("event {seq} was edited (hash mismatch)");
            return Some(tamper(seq, TamperKind::Edited, reason));
        }
        let columns = serde_json::from_str::<AuditEvent>(&row.event_json)
            .ok()
            .and_then(|event| IndexedColumns::of(&event));
        if columns.as_ref() != Some(&row.columns) {
            let reason = format!("event {seq} was edited (its indexed columns disagree with it)");
            return Some(tamper(seq, TamperKind::Edited, reason));
        }
        match self.checkpoints.get(&seq) {
            Some(expected) if *expected != row.hash => {
                let reason = format!("truncated: checkpoint {seq} does not match (log rewritten)");
                Some(tamper(seq, TamperKind::Truncated, reason))
            }
            _ => None,
        }
    }

    /// The report, after checking that the log reaches every checkpoint and the head the store
    /// recorded. `head` is that head read before and after the walk (the same one twice when
    /// nothing appends meanwhile): the log must reach the first and not go past the second.
    pub fn finish(mut self, head: Option<(&Checkpoint, &Checkpoint)>) -> VerifyReport {
        let last_seq = self.next_seq - 1;
        if self.first_bad.is_none() {
            let beyond = self.checkpoints.range(last_seq + 1..).next();
            if let Some((&seq, _)) = beyond {
                let reason =
                    format!("truncated: checkpoint {seq} is beyond the last event {last_seq}");
                self.first_bad = Some(tamper(last_seq + 1, TamperKind::Truncated, reason));
            }
        }
        if let (None, Some((before, after))) = (&self.first_bad, head) {
            if before.seq > last_seq {
                let reason = format!(
                    "truncated: the chain head records event {} but the log ends at {last_seq}",
                    before.seq
                );
                self.first_bad = Some(tamper(last_seq + 1, TamperKind::Truncated, reason));
            } else if after.seq < last_seq {
                let seq = after.seq + 1;
                let reason = format!("chain broken at {seq} (events beyond the recorded head)");
                self.first_bad = Some(tamper(seq, TamperKind::ChainBroken, reason));
            } else if after.seq == last_seq && after.hash != self.prev_hash {
                let reason = format!("chain broken at {last_seq} (the recorded head differs)");
                self.first_bad = Some(tamper(last_seq, TamperKind::ChainBroken, reason));
            }
        }
        VerifyReport {
            events: self.events,
            last: Checkpoint {
                seq: last_seq,
                hash: self.prev_hash,
            },
            first_bad: self.first_bad,
        }
    }
}

fn tamper(seq: u64, kind: TamperKind, reason: String) -> Tamper {
    Tamper { seq, kind, reason }
}
