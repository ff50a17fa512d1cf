//! Echo endpoints for the speed test, one per transport; each counts its bytes on the wire.
//!
//! - `POST /lab/echo/http?run=R` answers with the body it got.
//! - `GET /lab/echo/ws?run=R` upgrades, then sends back every text frame.
//! - `GET /lab/echo/sse?run=R` opens an event stream whose first event (`session`) names
//!   it; `POST /lab/echo/sse?run=R&session=S` sends the body back as the next event.

use super::wire::{request_head_bytes, response_head_bytes};
use super::{run_id, LabState, LESSON_IDLE, LESSON_LIFETIME};
use crate::gateway::Permit;
use app::lab::frame_header_len;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::timeout;

#[derive(Deserialize)]
pub struct RunQuery {
    run: String,
    session: Option<String>,
}

/// `data: ` before and a blank line after each SSE event's payload.
const SSE_FRAMING_BYTES: u64 = 8;

pub async fn http(
    State(lab): State<LabState>,
    Query(q): Query<RunQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(run) = run_id(&q.run) else { return bad_run() };
    let mut response = (StatusCode::OK, body.clone()).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let down_head = response_head_bytes(StatusCode::OK, response.headers());
    lab.ledger.add(run, "http", |c| {
        c.messages_up += 1;
        c.messages_down += 1;
        c.up_header_bytes += request_head_bytes(&method, &uri, &headers);
        c.up_payload_bytes += body.len() as u64;
        c.down_header_bytes += down_head;
        c.down_payload_bytes += body.len() as u64;
    });
    response
}

pub async fn ws(
    State(lab): State<LabState>,
    permit: Permit,
    Query(q): Query<RunQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(run) = run_id(&q.run).map(str::to_owned) else { return bad_run() };
    let max = app::protocol::MAX_MESSAGE_BYTES;
    upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| async move {
        let _permit = permit;
        echo_frames(socket, lab, run).await
    })
}

/// Echoes until the peer goes quiet for [`LESSON_IDLE`] or the socket has lived
/// [`LESSON_LIFETIME`] (a peer that takes no echo fails the write, see `serve.rs`).
async fn echo_frames(mut socket: WebSocket, lab: LabState, run: String) {
    let lifetime = tokio::time::sleep(LESSON_LIFETIME);
    tokio::pin!(lifetime);
    loop {
        let frame = tokio::select! {
            _ = lab.shutdown.cancelled() => return,
            _ = &mut lifetime => return,
            frame = timeout(LESSON_IDLE, socket.recv()) => match frame {
                Ok(frame) => frame,
                Err(_) => return,
            },
        };
        let Some(Ok(Message::Text(text))) = frame else {
            match frame {
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => continue,
                _ => return,
            }
        };
        let len = text.len();
        lab.ledger.add(&run, "ws", |c| {
            c.messages_up += 1;
            c.messages_down += 1;
            c.up_header_bytes += frame_header_len(len, true) as u64;
            c.up_payload_bytes += len as u64;
            c.down_header_bytes += frame_header_len(len, false) as u64;
            c.down_payload_bytes += len as u64;
        });
        if socket.send(Message::Text(text)).await.is_err() {
            return;
        }
    }
}

pub async fn sse_stream(State(lab): State<LabState>, permit: Permit, Query(q): Query<RunQuery>) -> Response {
    let Some(run) = run_id(&q.run).map(str::to_owned) else { return bad_run() };
    let session = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = mpsc::channel::<String>(64);
    lab.echo_sessions.insert(session.clone(), tx);
    let first = Event::default().event("session").data(session.clone());
    let guard = (lab.echo_sessions.guard(session), permit);
    let shutdown = lab.shutdown.clone();
    let ledger = lab.ledger.clone();
    let ends = tokio::time::Instant::now() + LESSON_LIFETIME;
    let echoes = futures::stream::unfold((rx, guard), move |(mut rx, guard)| {
        let (ledger, run, shutdown) = (ledger.clone(), run.clone(), shutdown.clone());
        async move {
            let payload = tokio::select! {
                _ = shutdown.cancelled() => None,
                _ = tokio::time::sleep_until(ends) => None,
                payload = timeout(LESSON_IDLE, rx.recv()) => payload.ok().flatten(),
            }?;
            ledger.add(&run, "sse", |c| {
                c.messages_down += 1;
                c.down_header_bytes += SSE_FRAMING_BYTES;
                c.down_payload_bytes += payload.len() as u64;
            });
            Some((Event::default().data(payload), (rx, guard)))
        }
    });
    let stream = futures::stream::once(async move { first }).chain(echoes).map(Ok::<_, std::convert::Infallible>);
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

pub async fn sse_post(
    State(lab): State<LabState>,
    Query(q): Query<RunQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(run) = run_id(&q.run) else { return bad_run() };
    let Some(tx) = q.session.as_deref().and_then(|s| lab.echo_sessions.get(s)) else {
        return (StatusCode::NOT_FOUND, "no such echo stream").into_response();
    };
    let response = StatusCode::NO_CONTENT.into_response();
    let down_head = response_head_bytes(StatusCode::NO_CONTENT, response.headers());
    lab.ledger.add(run, "sse", |c| {
        c.messages_up += 1;
        c.up_header_bytes += request_head_bytes(&method, &uri, &headers);
        c.up_payload_bytes += body.len() as u64;
        c.down_header_bytes += down_head;
    });
    if tx.send(body).await.is_err() {
        return (StatusCode::GONE, "the echo stream closed").into_response();
    }
    response
}

fn bad_run() -> Response {
    (StatusCode::BAD_REQUEST, "run must be 1–64 characters of A–Z, a–z, 0–9, '-' or '_'").into_response()
}
