//! The POSTs in flight on the HTTP transport, so that shutdown can wait for their answers.
//!
//! A POST is in flight from the moment it arrives until its response body has been written
//! out (or dropped with its connection): on Streamable HTTP a tool call's answer is the end of
//! its POST's event stream, so "every POST done" is "every call answered". GET streams are
//! not counted: they never end on their own, and shutdown ends them after the drain.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

/// How many POSTs are in flight.
#[derive(Debug)]
pub struct Posts {
    count: watch::Sender<usize>,
}

impl Default for Posts {
    fn default() -> Self {
        Self {
            count: watch::Sender::new(0),
        }
    }
}

impl Posts {
    /// POSTs in flight now.
    pub fn count(&self) -> usize {
        *self.count.borrow()
    }

    /// Resolves once no POST is in flight.
    pub async fn none(&self) {
        let mut seen = self.count.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = seen.wait_for(|n| *n == 0).await;
    }

    fn enter(self: &Arc<Self>) -> InFlight {
        self.count.send_modify(|n| *n += 1);
        InFlight(Arc::clone(self))
    }
}

/// One POST in flight; counted out when dropped.
struct InFlight(Arc<Posts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The middleware: counts a POST in until its response body is done.
pub async fn count_posts(
    State(posts): State<Arc<Posts>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let held = posts.enter();
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Counted { body, _held: held }))
}

/// A response body that holds its POST's place in [`Posts`] until it is written or dropped.
struct Counted {
    body: Body,
    _held: InFlight,
}

impl hyper::body::Body for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn none_waits_for_the_last_post() {
        let posts = Arc::new(Posts::default());
        posts.none().await;
        let a = posts.enter();
        let b = posts.enter();
        assert_eq!(posts.count(), 2);
        let waiter = tokio::spawn({
            let posts = Arc::clone(&posts);
            async move { posts.none().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.expect("the waiter runs to its end");
        assert_eq!(posts.count(), 0);
    }
}
