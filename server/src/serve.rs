//! The accept loop: HTTP/1.1 with a header-read timeout (axum's `serve` sets none, so a
//! client dribbling header bytes could hold a connection forever), a write deadline on every
//! connection (a peer that takes no bytes for `--write-timeout-ms` is dropped, whatever is
//! writing: a page, a long poll, an SSE stream or an upgraded WebSocket), and a cap on open
//! TCP connections: past it, a new connection gets a canned 503 and is closed, so a flood
//! costs neither file descriptors nor tasks without bound.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutWriter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long shutdown waits for in-flight HTTP requests (upgraded sockets are tracked apart).
const REQUESTS_GRACE: Duration = Duration::from_secs(5);

/// TCP connections allowed beyond `--max-connections`: room for page loads, posts and polls
/// while every long-lived slot is taken.
pub const HTTP_HEADROOM: usize = 1024;

/// What the accept loop enforces on every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    /// Most TCP connections open at once.
    pub max_open: usize,
}

/// Serves `router` until `shutdown` is cancelled, then drains: in-flight requests finish
/// and `sockets` (the upgraded connections' own wind-down) completes, while every new
/// connection is told 503 rather than left waiting in the backlog.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    sockets: impl std::future::Future<Output = ()>,
) {
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_open));
    loop {
        // Biased: a connection that arrives after the signal must reach the draining loop
        // below and be told 503; accepted here, hyper's graceful shutdown would close it
        // before reading its request, and the client would see the socket just end.
        let (stream, peer) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Replies and broadcasts are whole frames, already batched per flush by the writer:
        // Nagle's algorithm would only hold a second reply (a `joined` after a `claimed`)
        // until the peer's delayed ACK, 40 ms later.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        if shutdown.is_cancelled() {
            refuse(stream, SHUTTING_DOWN);
            break;
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(stream, AT_CAPACITY);
            continue;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        // Writes only: a read deadline would cost every idle socket a second timer, and idle
        // reads are the heartbeat's to judge.
        let mut io = TimeoutWriter::new(crate::linger::Lingering::new(stream));
        io.set_timeout(Some(limits.write_timeout));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(Box::pin(io)), service)
            .with_upgrades();
        let stop = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.cancelled() => {
                    // Finish the request in flight, take no new one on this connection.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    connections.close();
    let drained = async {
        let requests = async {
            if tokio::time::timeout(REQUESTS_GRACE, connections.wait()).await.is_err() {
                tracing::warn!("HTTP requests still running after the grace period");
            }
        };
        tokio::join!(requests, sockets);
    };
    tokio::pin!(drained);
    loop {
        tokio::select! {
            () = &mut drained => return,
            accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                refuse(stream, SHUTTING_DOWN);
            },
        }
    }
}

/// Gives every POST (reading its body and answering it) `limit`, then answers 408: a client
/// that dribbles its body holds neither a connection nor a task for longer.
pub async fn post_deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.method() != hyper::Method::POST {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (hyper::StatusCode::REQUEST_TIMEOUT, "the request took too long to arrive").into_response(),
    }
}

const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
    content-length: 38\r\nconnection: close\r\n\r\nthe server is at its connection limit\n";
const SHUTTING_DOWN: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
    content-length: 21\r\nconnection: close\r\n\r\nserver shutting down\n";

/// Answers a connection without reading it: one non-blocking write of a canned 503 (a fresh
/// socket's send buffer always has room for it), then a lingering close.
fn refuse(stream: TcpStream, answer: &[u8]) {
    tracing::debug!("refused a TCP connection");
    let _ = stream.try_write(answer);
    drop(crate::linger::Lingering::new(stream));
}
