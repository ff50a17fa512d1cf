//! `GET /ws`: checks the Origin, then upgrades and hands the socket to [`crate::connection`].

use crate::connection;
use crate::hub::Hub;
use crate::origin::OriginPolicy;
use crate::session::Limits;
use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use governor::DefaultKeyedRateLimiter;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Addresses remembered by the connect-rate limiter before stale ones are dropped.
const CONNECT_RATE_KEYS: usize = 10_000;

/// Bytes tungstenite reads per call; it allocates and zero-fills that much up front for every
/// connection. Its default, 128 KiB, made an idle connection cost ~110 KiB of RSS. A post's
/// frame is usually well under 1 KiB; a bigger frame just takes a few more reads (the buffer
/// grows to hold it, up to --max-message-bytes).
const READ_BUFFER_BYTES: usize = 1024;

/// Frames are gathered up to this many bytes before a write to the socket, so a burst of
/// broadcasts costs a few syscalls, not one per frame (the writer flushes after each burst).
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// What every WebSocket connection shares.
#[derive(Clone)]
pub struct WsState {
    pub hub: Hub,
    pub origins: Arc<OriginPolicy>,
    pub limits: Limits,
    /// Cancelled on shutdown: every connection closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    pub next_id: Arc<AtomicU64>,
    /// Sessions of the HTTP fallback transports (SSE, long polling).
    pub sessions: crate::fallback::HttpSessions,
    /// Upgrades recorded for the inspector (`/ws?capture=TOKEN`).
    pub captures: crate::lab::handshake::Captures,
    /// Open WebSockets, against `--max-connections`.
    pub open: Arc<AtomicUsize>,
    pub max_connections: usize,
    /// New WebSockets per client IP (`--ip-connect-rate`).
    pub connect_rate: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    pub metrics: crate::metrics::Metrics,
}

/// Counts one open connection for as long as it lives, or until the upgrade is abandoned.
struct OpenSlot(Arc<AtomicUsize>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(serde::Deserialize)]
pub struct UpgradeQuery {
    capture: Option<String>,
}

pub async fn upgrade(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<UpgradeQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.origins.permits(&headers) {
        tracing::info!(%peer, "refused WebSocket upgrade from a foreign origin");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server shutting down").into_response();
    }
    if state.connect_rate.check_key(&peer.ip()).is_err() {
        tracing::info!(%peer, "refused WebSocket upgrade: connection rate from this address");
        return (StatusCode::TOO_MANY_REQUESTS, "too many new connections from your address; retry in a few seconds")
            .into_response();
    }
    if state.connect_rate.len() > CONNECT_RATE_KEYS {
        state.connect_rate.retain_recent();
    }
    let slot = OpenSlot(state.open.clone());
    if state.open.fetch_add(1, Ordering::Relaxed) >= state.max_connections {
        tracing::warn!(max = state.max_connections, "refused WebSocket upgrade: connection cap reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "the server is at its connection limit; retry later").into_response();
    }
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let max = state.limits.max_message_bytes;
    let captures = state.captures.clone();
    let upgrade = upgrade.read_buffer_size(READ_BUFFER_BYTES).write_buffer_size(WRITE_BUFFER_BYTES);
    let response = upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| {
        let tracker = state.tracker.clone();
        tracker.track_future(async move {
            let _slot = slot;
            connection::run(socket, id, peer, state).await
        })
    });
    if let Some(token) = query.capture.as_deref().and_then(crate::lab::run_id) {
        captures.record(token, &method, &uri, &headers, &response);
    }
    response
}

/// `GET /health`: the process is up and serving.
pub async fn health() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<WsState>) -> Response {
    let rooms = state.hub.member_counts().await.map(|m| m.len()).unwrap_or(0);
    let body = state.metrics.render(state.open.load(Ordering::Relaxed), rooms);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
