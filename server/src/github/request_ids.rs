//! The `X-GitHub-Request-Id` of every answer one tool call received, collected for its audit
//! event (a task-local: operations need not pass a collector down).

use http::HeaderMap;

tokio::task_local! {
    /// `X-GitHub-Request-Id`s of the answers one tool call received, for its audit event.
    static REQUEST_IDS: std::cell::RefCell<Vec<String>>;
}

/// Most request ids kept for one tool call (a long list call makes many requests).
const MAX_REQUEST_IDS: usize = 20;

/// Runs `work` and returns what it returned with the GitHub request ids of every answer it got.
pub async fn with_request_ids<F: std::future::Future>(work: F) -> (F::Output, Vec<String>) {
    REQUEST_IDS
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let out = work.await;
            let ids = REQUEST_IDS.with(|ids| ids.take());
            (out, ids)
        })
        .await
}

/// Longest request id kept. GitHub's look like `C0DE:1F2E:3A4B5C:6D7E8F:65A1B2C3` (about 35
/// characters); anything longer is cut, so an upstream cannot fill the audit log through it.
pub(super) const MAX_REQUEST_ID: usize = 64;

/// The request id worth keeping for the audit event: GitHub's charset only (else dropped), at
/// most [`MAX_REQUEST_ID`] characters.
pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
    let id = headers.get("x-github-request-id")?.as_bytes();
    let id = &id[..id.len().min(MAX_REQUEST_ID)];
    let safe = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.');
    (!id.is_empty() && id.iter().all(safe)).then(|| String::from_utf8_lossy(id).into_owned())
}

pub(super) fn note_request_id(headers: &HeaderMap) {
    if let Some(id) = request_id(headers) {
        // Outside `with_request_ids` (direct backend use) there is nothing to collect into.
        let _ = REQUEST_IDS.try_with(|ids| {
            let mut ids = ids.borrow_mut();
            if ids.len() < MAX_REQUEST_IDS {
                ids.push(id);
            }
        });
    }
}
