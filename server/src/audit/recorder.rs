//! The audit sink the server writes through: the log's hash chain, then the optional JSON Lines
//! mirror. One [`Recorder`] per server process.

use std::sync::Arc;

use super::{AuditEvent, AuditKey, JsonlMirror, Log, OnChained};
use crate::store::Store;

/// Appends events to the chain (and the mirror), returning only after the store committed.
#[derive(Clone)]
pub struct Recorder {
    log: Log,
    key: Arc<AuditKey>,
    mirror: Option<Arc<JsonlMirror>>,
    /// Identifies this server process in every event (several replicas may share a store).
    instance: Arc<str>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("instance", &self.instance)
            .finish()
    }
}

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("the audit log could not be written")]
pub struct RecordError(#[from] super::Error);

impl Recorder {
    /// A recorder appending to the audit log kept in `store`.
    pub fn new(store: Store, key: AuditKey, mirror: Option<JsonlMirror>) -> Self {
        Self {
            log: Log::new(store),
            key: Arc::new(key),
            mirror: mirror.map(Arc::new),
            instance: super::new_event_id()[..12].to_owned().into(),
        }
    }

    /// A recorder that spools events where the store allows it (a SQLite file without
    /// `--durable`): each call's event is made durable with one file write and chained into the
    /// store right after (see `audit::spool`); the mirror then gets each event once chained.
    /// Chains what a crashed process left spooled first. Elsewhere the same as [`Recorder::new`].
    pub fn start(
        store: Store,
        key: AuditKey,
        mirror: Option<JsonlMirror>,
    ) -> Result<Self, RecordError> {
        let recorder = Self::new(store, key, mirror);
        let on_chained = recorder.mirror.clone().map(|mirror| {
            Box::new(move |appended: &super::Appended| {
                if let Err(e) = mirror.write(appended)
                    && let Some(suppressed) = crate::diagnostics::admit("audit-mirror")
                {
                    tracing::error!(suppressed, error = %crate::diagnostics::chain(&e), "audit mirror write failed");
                }
            }) as OnChained
        });
        recorder
            .log
            .start_spool(&recorder.key, &recorder.instance, on_chained)
            .map_err(RecordError)?;
        Ok(recorder)
    }

    /// The log this recorder appends to, for reading it back.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// This process's instance id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// [`Recorder::record`] from a blocking context without a thread hand-off, or `None` when the
    /// store has no blocking path (then use `record`).
    ///
    /// With a spool (see [`Recorder::start`]) the event is in the spool file when this returns,
    /// and chained a moment later.
    pub fn record_blocking(&self, event: &AuditEvent) -> Option<Result<(), RecordError>> {
        if let Some(spooled) = self.log.spool(event) {
            return Some(spooled.map_err(RecordError));
        }
        let appended = match self.log.append_blocking(event, &self.key)? {
            Ok(appended) => appended,
            Err(e) => return Some(Err(RecordError(e))),
        };
        self.mirror_write(&appended);
        Some(Ok(()))
    }

    fn mirror_write(&self, appended: &super::Appended) {
        if let Some(mirror) = &self.mirror
            && let Err(e) = mirror.write(appended)
            && let Some(suppressed) = crate::diagnostics::admit("audit-mirror")
        {
            tracing::error!(suppressed, error = %crate::diagnostics::chain(&e), "audit mirror write failed");
        }
    }

    /// Appends `event`; the mirror failing is logged, not fatal (the chain is the record).
    pub async fn record(&self, event: &AuditEvent) -> Result<u64, RecordError> {
        let appended = self
            .log
            .append(event, &self.key)
            .await
            .map_err(RecordError)?;
        self.mirror_write(&appended);
        Ok(appended.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Decision, Outcome};

    /// Where an audit append's time goes, in release:
    /// `cargo test --release -p gitgate --lib recorder_cost -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "a measurement, not a check"]
    async fn recorder_cost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let store = Store::connect(&url).await.expect("store");
        let key = AuditKey::from_bytes(&[7u8; 32]).expect("key");
        let spooled_dir = tempfile::tempdir().expect("tempdir");
        let spooled_url = format!("sqlite://{}", spooled_dir.path().join("a.db").display());
        let spooled_store = Store::connect(&spooled_url).await.expect("store");
        let spooled = Recorder::start(spooled_store, key.clone(), None).expect("spool");
        let recorder = Recorder::new(store, key, None);
        let args = serde_json::json!({"max_count": 5, "paths": ["src/lib.rs"]});
        let r = recorder.clone();
        let make = move || {
            AuditEvent::builder(
                "bench",
                "alice",
                crate::audit::AuthMethod::Local,
                "git_status",
                &args,
            )
            .decision(Decision::allow("scope:admin;grant:**"))
            .outcome(Outcome::success())
            .build()
        };
        let n = 3000;
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(make());
            }
            println!("event construction: {:?}/event", t.elapsed() / n);
            let e = make();
            let t = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(e.to_canonical_json().expect("json"));
            }
            println!("canonical json: {:?}/event", t.elapsed() / n);
            let mut samples = Vec::new();
            for _ in 0..n {
                let e = make();
                let t = std::time::Instant::now();
                r.record_blocking(&e).expect("sqlite").expect("recorded");
                samples.push(t.elapsed());
            }
            samples.sort();
            println!(
                "record_blocking, committed: p50 {:?} p95 {:?}",
                samples[n as usize / 2],
                samples[n as usize * 95 / 100]
            );
            let mut samples = Vec::new();
            for _ in 0..n {
                let e = make();
                let t = std::time::Instant::now();
                spooled
                    .record_blocking(&e)
                    .expect("sqlite")
                    .expect("recorded");
                samples.push(t.elapsed());
            }
            samples.sort();
            println!(
                "record_blocking, spooled: p50 {:?} p95 {:?}",
                samples[n as usize / 2],
                samples[n as usize * 95 / 100]
            );
        })
        .await
        .expect("join");
    }
}
