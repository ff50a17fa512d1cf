//! `GET /ws`: admitted by the [`Gateway`], then upgraded and handed to [`crate::connection`].

use crate::connection;
use crate::gateway::{Gateway, Permit};
use crate::hub::Hub;
use crate::session::Limits;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use futures::FutureExt;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tungstenite::protocol::WebSocketConfig;

/// Bytes tungstenite reads per call; it allocates and zero-fills that much up front for every
/// connection. Its default, 128 KiB, made an idle connection cost ~110 KiB of RSS. A post's
/// frame is a few hundred bytes, so a read still takes several pipelined posts (ingest
/// measured the same as with 1 KiB); a bigger frame takes more reads (the buffer grows to
/// hold it, up to --max-message-bytes).
const READ_BUFFER_BYTES: usize = 512;

/// What tungstenite gathers before it writes to the socket. Only its own frames go through
/// it (pings, pongs, the close): queued frames are written past it, a burst in one `writev`.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// What every WebSocket connection shares: a handle, one pointer wide, because every
/// connection's future holds one for its whole life.
#[derive(Clone)]
pub struct WsState(Arc<WsShared>);

impl WsState {
    pub fn new(shared: WsShared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for WsState {
    type Target = WsShared;

    fn deref(&self) -> &WsShared {
        &self.0
    }
}

/// The state behind a [`WsState`].
pub struct WsShared {
    pub hub: Hub,
    /// Admission for every long-lived transport: Origin, connect rate, the connection cap.
    pub gateway: Gateway,
    pub limits: Limits,
    /// Claims, moderation and post allowances: what sessions share about people.
    pub people: Arc<crate::session::People>,
    /// Cancelled on shutdown: every connection closes with 1001.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    /// Sessions of the HTTP fallback transports (SSE, long polling).
    pub sessions: crate::fallback::HttpSessions,
    pub metrics: crate::metrics::Metrics,
    /// The clock every connection's pings go by.
    pub heartbeat: crate::heartbeat::Heartbeat,
    /// In a cluster: how requests for other nodes' fallback sessions reach them.
    pub forwarder: Option<crate::cluster::forward::Forwarder>,
}

pub async fn upgrade(
    State(state): State<WsState>,
    permit: Permit,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let accepted = match crate::upgrade::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let max = state.limits.max_message_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let (response, socket) = accepted.into_parts(config);
    let tracker = state.tracker.clone();
    // Combinators, not an async block: a block would keep room for what it moved into the
    // connection (state, permit, address) for the connection's whole life.
    tracker.spawn(socket.then(move |socket| match socket {
        Some(socket) => Either::Left(connection::run(socket, peer, permit, state)),
        None => Either::Right(std::future::ready(())),
    }));
    response
}

/// `GET /health`: `200 {"status":"ok"}` while the hub runs and the last commit succeeded,
/// else `503 {"status":"failing","reason":"…"}`. Cheap enough to poll: no hub round trip, no
/// query.
pub async fn health(State(state): State<WsState>) -> Response {
    match state.hub.health() {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(reason) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "failing", "reason": reason })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<WsState>) -> Response {
    let rooms = state.hub.occupancy().rooms();
    let body = state.metrics.render(state.gateway.open(), rooms);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
