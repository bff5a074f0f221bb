//! The HTTP accept loop: connection limits (in total and per client address), a deadline for
//! request headers, an idle timeout, and graceful shutdown.
//!
//! Without these a client needs no token to exhaust the server: connections that never finish
//! their headers, or never send one, stayed open for good, and at the file-descriptor limit
//! every user's calls timed out. HTTP/1.1 only: MCP clients speak it to `http://` URLs, and
//! HTTP/2 (prior knowledge, no TLS here) would add a second connection state machine to bound.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::throttle::ClientKey;

/// Bounds on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, from everyone.
    pub max_total: usize,
    /// Connections open at once from one client address ([`ClientKey`]).
    pub max_per_address: usize,
    /// Time a client has to send a request's headers, from the moment the connection waits for
    /// one: just accepted, or idle between two keep-alive requests.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed (a stalled
    /// upload, a client that stopped reading).
    pub idle_timeout: Duration,
    /// On shutdown, how long requests in flight may take to be answered before the rest is cut
    /// off.
    pub drain_timeout: Duration,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refused {
    /// [`Limits::max_total`] connections are open.
    Total,
    /// [`Limits::max_per_address`] connections from this address are open.
    PerAddress,
}

/// The TCP peer of the connection a request arrived on (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Serves `app` on `listener` until `shutdown` resolves; then takes no more connections, asks
/// each open one to close after the request it serves, awaits `drained` (the caller's: its
/// requests in flight answered, its endless streams ended) and waits for the connections to
/// close. `on_refused` hears of every connection turned away (it must not block).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    on_refused: impl Fn(ClientKey, Refused) + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drained: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gauge = Arc::new(Gauge::default());
    let stop = CancellationToken::new();
    // Every connection task holds a sender; when all are gone, the receiver sees the end.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let key = ClientKey::of(peer.ip());
        let slot = match gauge.acquire(key, &limits) {
            Ok(slot) => slot,
            Err(why) => {
                turn_away(&stream, why, &limits);
                on_refused(key, why);
                continue;
            }
        };
        // Without TCP_NODELAY a pooled client waits on Nagle plus delayed ACK (about 40 ms
        // per call, see FACTS.md).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            builder.clone(),
            limits.idle_timeout,
            stop.child_token(),
            (slot, done_tx.clone()),
        ));
    }
    drop(listener);
    stop.cancel();
    drop(done_tx);
    drained.await;
    // Whatever is still open now is a connection the caller has given up on: close it with the
    // process rather than wait on a client.
    let _ = tokio::time::timeout(LINGER, done_rx.recv()).await;
    Ok(())
}

/// How long, after the drain, connections get to close on their own.
const LINGER: Duration = Duration::from_secs(2);

/// An accept error: a connection that died in the backlog is nobody's problem; anything else
/// (out of file descriptors) gets a pause so the loop does not spin while it lasts.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    if let Some(suppressed) = crate::diagnostics::admit("accept") {
        tracing::error!(suppressed, error = %e, "accepting a connection failed; retrying in 100 ms");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answers 503 without reading anything, as far as the socket takes it without waiting, and
/// closes: a refused connection must cost no task and no wait.
fn turn_away(stream: &TcpStream, why: Refused, limits: &Limits) {
    let body = match why {
        Refused::Total => format!(
            "the server has {} connections open, its limit; retry shortly\n",
            limits.max_total
        ),
        Refused::PerAddress => format!(
            "{} connections from your address are open, the limit; close some, or reuse them\n",
            limits.max_per_address
        ),
    };
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: hyper::server::conn::http1::Builder,
    idle_timeout: Duration,
    stop: CancellationToken,
    // Held until the connection ends: its slot in the gauge, and the shutdown wait's sender.
    _held: (Slot, tokio::sync::mpsc::Sender<()>),
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let app = app.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(PeerAddr(peer));
        request
    });
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    // Header timeouts, resets, malformed requests: the client's doing.
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            () = activity.idle_for(idle_timeout) => {
                tracing::debug!(%peer, ?idle_timeout, "closing a connection idle too long");
                return;
            }
            () = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Open connections, in total and per client address.
#[derive(Default)]
struct Gauge {
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    /// At most `total` keys: a key leaves with its last connection.
    by_client: HashMap<ClientKey, usize>,
}

impl Gauge {
    fn lock(&self) -> MutexGuard<'_, Open> {
        // Counters changed in single steps: a panic elsewhere cannot leave them inconsistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(self: &Arc<Self>, key: ClientKey, limits: &Limits) -> Result<Slot, Refused> {
        let mut open = self.lock();
        if open.total >= limits.max_total {
            return Err(Refused::Total);
        }
        let mine = open.by_client.entry(key).or_default();
        if *mine >= limits.max_per_address {
            return Err(Refused::PerAddress);
        }
        *mine += 1;
        open.total += 1;
        Ok(Slot {
            gauge: Arc::clone(self),
            key,
        })
    }
}

/// One open connection's place in the [`Gauge`], given back on drop.
struct Slot {
    gauge: Arc<Gauge>,
    key: ClientKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.gauge.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_client.get_mut(&self.key) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_client.remove(&self.key);
            }
        }
    }
}

/// When bytes last moved on a connection, in milliseconds since it opened.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A stream that notes in [`Activity`] every read or write that moves bytes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn noted<T>(&self, poll: Poll<std::io::Result<T>>, moved: bool) -> Poll<std::io::Result<T>> {
        if moved && matches!(poll, Poll::Ready(Ok(_))) {
            self.activity.touch();
        }
        poll
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let moved = buf.filled().len() > before;
        self.noted(poll, moved)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        let moved = matches!(poll, Poll::Ready(Ok(n)) if n > 0);
        self.noted(poll, moved)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        let moved = matches!(poll, Poll::Ready(Ok(n)) if n > 0);
        self.noted(poll, moved)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> Limits {
        Limits {
            max_total: total,
            max_per_address: per_address,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_gauge_bounds_connections() {
        let gauge = Arc::new(Gauge::default());
        let a = ClientKey::of("192.0.2.1".parse().expect("ip"));
        let b = ClientKey::of("192.0.2.2".parse().expect("ip"));
        let limits = limits(3, 2);
        let a1 = gauge.acquire(a, &limits).expect("a1");
        let _a2 = gauge.acquire(a, &limits).expect("a2");
        assert_eq!(gauge.acquire(a, &limits).err(), Some(Refused::PerAddress));
        let _b1 = gauge.acquire(b, &limits).expect("b1");
        assert_eq!(gauge.acquire(b, &limits).err(), Some(Refused::Total));
        drop(a1);
        let _b2 = gauge
            .acquire(b, &limits)
            .expect("a closed connection frees its slot");
        assert_eq!(gauge.lock().total, 3);
        assert_eq!(gauge.lock().by_client.len(), 2);
    }
}
