//! `GET /ws`: checks the Origin, then upgrades and hands the socket to [`crate::connection`].

use crate::connection;
use crate::session::Limits;
use crate::hub::Hub;
use crate::origin::OriginPolicy;
use axum::extract::{ConnectInfo, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let max = state.limits.max_message_bytes;
    let captures = state.captures.clone();
    let response = upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| {
        let tracker = state.tracker.clone();
        tracker.track_future(connection::run(socket, id, peer, state))
    });
    if let Some(token) = query.capture.as_deref().and_then(crate::lab::run_id) {
        captures.record(token, &method, &uri, &headers, &response);
    }
    response
}
