//! The fallback transports, for networks where WebSockets cannot get through. The same
//! `ClientMsg`/`ServerMsg` JSON travels on each:
//!
//! - `GET /x/sse` — Server-Sent Events, server → client. The first event is `hello` naming
//!   the session. With `room` in the query it joins at once (as `username`, or watching
//!   without one), from `Last-Event-ID` (the seq of the last post event received) or `since`.
//! - `GET /x/poll` — long polling: without `session` it opens one and answers `[hello]`;
//!   with it, it waits up to 25 s for messages and answers them as a JSON array.
//! - `POST /x/send?session=ID` — client → server: one `ClientMsg` as the body; the answer
//!   is a JSON array with the direct reply, if any (broadcasts arrive on the stream).
//!
//! A session lives on the node that opened it; in a cluster a request for another node's
//! session is handled there (`relay.rs`).
//!
//! - `mod.rs` — the sessions, long polling and `POST /x/send`, answered as values.
//! - `sse.rs` — the SSE stream and what ends it.

mod sse;

pub use sse::sse;

use crate::cluster::forward::FallbackRequest;
use crate::gateway::Permit;
use crate::queue::{ClientHandle, Queue};
use crate::session::{error, Session};
use crate::ws::WsState;
use app::protocol::{ErrorCode, ServerMsg};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long one long poll waits for something to say.
pub(crate) const POLL_WAIT: Duration = Duration::from_secs(25);
/// A long-poll session not polled for this long is closed, however much it sends: a session
/// nobody drains would otherwise hold its queue for as long as `POST /x/send` keeps it busy.
const POLL_SESSION_IDLE: Duration = Duration::from_secs(60);
/// Most messages one poll answer carries.
const POLL_BATCH: usize = 200;

struct HttpSession {
    session: tokio::sync::Mutex<Session>,
    /// Long polling only: the queue, drained by polls (SSE streams own theirs).
    queue: tokio::sync::Mutex<Option<Queue>>,
    overflowed: CancellationToken,
    /// When it was last polled (long polling) or opened.
    last_polled: Mutex<Instant>,
    /// Its slot among `--max-connections`, given back when the session is gone.
    _permit: Option<Permit>,
}

/// The open SSE and long-poll sessions, by id.
#[derive(Clone, Default)]
pub struct HttpSessions {
    inner: Arc<Mutex<HashMap<String, Arc<HttpSession>>>>,
}

impl HttpSessions {
    fn get(&self, id: &str) -> Option<Arc<HttpSession>> {
        self.inner.lock().ok()?.get(id).cloned()
    }

    fn insert(&self, id: String, session: Arc<HttpSession>) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, session);
        }
    }

    /// Removes a session: it leaves its rooms once the last request using it is done (the
    /// session's drop is its disconnect).
    fn close(&self, id: &str) {
        let removed = self.inner.lock().ok().and_then(|mut map| map.remove(id));
        drop(removed);
    }

    /// Closes long-poll sessions nobody polls any more; runs until shutdown.
    pub async fn sweep(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(POLL_SESSION_IDLE / 4);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let stale: Vec<String> = match self.inner.lock() {
                Ok(map) => map
                    .iter()
                    .filter(|(_, s)| {
                        s.last_polled.lock().is_ok_and(|t| t.elapsed() > POLL_SESSION_IDLE) && s.is_polled()
                    })
                    .map(|(id, _)| id.clone())
                    .collect(),
                Err(_) => return,
            };
            for id in stale {
                tracing::info!("closing idle long-poll session");
                self.close(&id);
            }
        }
    }
}

impl HttpSession {
    fn is_polled(&self) -> bool {
        self.queue.try_lock().map_or(true, |q| q.is_some())
    }

    fn polled(&self) {
        if let Ok(mut t) = self.last_polled.lock() {
            *t = Instant::now();
        }
    }
}

/// Opens a session whose replies and broadcasts go to a fresh queue.
fn open(state: &WsState, address: IpAddr) -> (String, Session, Queue, CancellationToken) {
    let (client, queue, overflowed): (ClientHandle, _, _) =
        ClientHandle::channel(state.limits.queue_capacity, state.limits.queue_bytes);
    let member = state.hub.connect(client, state.limits.max_rooms);
    let session = Session::new(member, &state.limits, state.people.clone(), address);
    let id = match &state.forwarder {
        Some(forwarder) => forwarder.session_id(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    (id, session, queue, overflowed)
}

#[derive(Deserialize)]
pub struct SessionQuery {
    session: Option<String>,
}

/// The answer to a fallback request, whether made here or relayed from the session's node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    pub status: u16,
    /// JSON, or plain text when `json` is false.
    pub body: String,
    pub json: bool,
}

impl Answer {
    fn json(status: StatusCode, value: &impl serde::Serialize) -> Self {
        Self { status: status.as_u16(), body: serde_json::to_string(value).unwrap_or_default(), json: true }
    }

    pub fn unknown_session() -> Self {
        let msg = error(ErrorCode::UnknownSession, "no such session (expired or closed): open a new one");
        Self::json(StatusCode::NOT_FOUND, &vec![msg])
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = if self.json { "application/json" } else { "text/plain; charset=utf-8" };
        (status, [(axum::http::header::CONTENT_TYPE, kind)], self.body).into_response()
    }
}

pub async fn send(
    State(state): State<WsState>,
    headers: HeaderMap,
    Query(query): Query<SessionQuery>,
    body: String,
) -> Response {
    if let Err(refusal) = state.gateway.check_origin(&headers) {
        return refusal.into_response();
    }
    let Some(id) = query.session else { return Answer::unknown_session().into_response() };
    match send_here(&state, &id, &body).await {
        Some(answer) => answer,
        None => crate::relay::ask_owner(&state, &id, FallbackRequest::Send { body }).await,
    }
    .into_response()
}

/// `POST /x/send` for a session of this node; `None` if this node has no such session.
pub(crate) async fn send_here(state: &WsState, id: &str, body: &str) -> Option<Answer> {
    let entry = state.sessions.get(id)?;
    let reply = entry.session.lock().await.handle_text(body).await;
    let answer = reply.resolve().await;
    Some(Answer::json(StatusCode::OK, &answer.into_iter().collect::<Vec<ServerMsg>>()))
}

pub async fn poll(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<SessionQuery>,
) -> Response {
    let Some(id) = query.session else {
        // A new session is a new long-lived connection: admitted, counted and capped.
        let permit = match state.gateway.admit(peer.ip(), &headers) {
            Ok(permit) => permit,
            Err(refusal) => return refusal.into_response(),
        };
        let (id, session, queue, overflowed) = open(&state, permit.address());
        let entry = HttpSession {
            session: tokio::sync::Mutex::new(session),
            queue: tokio::sync::Mutex::new(Some(queue)),
            overflowed,
            last_polled: Mutex::new(Instant::now()),
            _permit: Some(permit),
        };
        state.sessions.insert(id.clone(), Arc::new(entry));
        return Json(vec![state.limits.hello(Some(id))]).into_response();
    };
    if let Err(refusal) = state.gateway.check_origin(&headers) {
        return refusal.into_response();
    }
    match poll_here(&state, &id).await {
        Some(answer) => answer,
        None => crate::relay::ask_owner(&state, &id, FallbackRequest::Poll).await,
    }
    .into_response()
}

/// `GET /x/poll` for a session of this node; `None` if this node has no such session.
pub(crate) async fn poll_here(state: &WsState, id: &str) -> Option<Answer> {
    let entry = state.sessions.get(id)?;
    entry.polled();
    if entry.overflowed.is_cancelled() {
        state.sessions.close(id);
        let body = "too slow: outgoing queue full; reconnect".to_owned();
        return Some(Answer { status: StatusCode::GONE.as_u16(), body, json: false });
    }
    let mut queue = entry.queue.lock().await;
    let Some(queue) = queue.as_mut() else { return Some(Answer::unknown_session()) };
    let first = tokio::select! {
        _ = state.shutdown.cancelled() => None,
        first = tokio::time::timeout(POLL_WAIT, queue.recv()) => first.ok().flatten(),
    };
    let mut batch: Vec<serde_json::Value> = Vec::new();
    let mut next = first;
    while let Some(text) = next {
        batch.push(serde_json::from_str(text.as_str()).unwrap_or(serde_json::Value::Null));
        next = if batch.len() < POLL_BATCH { queue.try_recv() } else { None };
    }
    entry.polled();
    Some(Answer::json(StatusCode::OK, &batch))
}
