//! The audit sink the server writes through: the store's hash chain, then the optional JSON Lines
//! mirror. One [`Recorder`] per server process.

use std::sync::Arc;

use super::{AuditEvent, AuditKey, JsonlMirror};
use crate::store::Store;

/// Appends events to the chain (and the mirror), returning only after the store committed.
#[derive(Clone)]
pub struct Recorder {
    store: Store,
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
#[error("the audit log could not be written: {0}")]
pub struct RecordError(String);

impl Recorder {
    pub fn new(store: Store, key: AuditKey, mirror: Option<JsonlMirror>) -> Self {
        Self {
            store,
            key: Arc::new(key),
            mirror: mirror.map(Arc::new),
            instance: super::new_event_id()[..12].to_owned().into(),
        }
    }

    /// This process's instance id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// [`Recorder::record`] from a blocking context without a thread hand-off, or `None` when the
    /// store has no blocking path (then use `record`).
    pub fn record_blocking(&self, event: &AuditEvent) -> Option<Result<u64, RecordError>> {
        let appended = match self.store.append_audit_blocking(event, &self.key)? {
            Ok(appended) => appended,
            Err(e) => return Some(Err(RecordError(e.to_string()))),
        };
        self.mirror_write(&appended);
        Some(Ok(appended.seq))
    }

    fn mirror_write(&self, appended: &super::Appended) {
        if let Some(mirror) = &self.mirror
            && let Err(e) = mirror.write(appended)
        {
            tracing::error!(error = %e, "audit mirror write failed");
        }
    }

    /// Appends `event`; the mirror failing is logged, not fatal (the chain is the record).
    pub async fn record(&self, event: &AuditEvent) -> Result<u64, RecordError> {
        let appended = self
            .store
            .append_audit(event, &self.key)
            .await
            .map_err(|e| RecordError(e.to_string()))?;
        self.mirror_write(&appended);
        Ok(appended.seq)
    }
}
