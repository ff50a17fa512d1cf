//! The transport lab's ticker: one event stream, delivered at once by short polling, long
//! polling, SSE and WebSocket, each counting its requests and bytes.
//!
//! `POST /lab/ticker?rate=N` starts a ticker (N events a second, for at most two minutes)
//! and answers its id; `GET /lab/ticker/{id}/{poll|longpoll|sse|ws}` deliver it.

use super::wire::{request_head_bytes, response_head_bytes};
use super::LabState;
use crate::gateway::Permit;
use app::lab::{frame_header_len, Tick};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The longest a ticker runs.
const LIFETIME: Duration = Duration::from_secs(120);
/// How long a long poll waits for the next tick.
const LONG_POLL_WAIT: Duration = Duration::from_secs(25);
/// Highest rate accepted, events per second.
const MAX_RATE: u32 = 50;
/// Running tickers at once.
const MAX_TICKERS: usize = 64;
/// Ticks a ticker keeps for the polls: more than the slowest short poll (2 s) misses at the
/// highest rate, so a poll gets every tick since its last one.
const TICKS_KEPT: usize = 256;

/// The running tickers.
#[derive(Clone, Default)]
pub struct Tickers {
    inner: Arc<Mutex<HashMap<String, Ticker>>>,
}

/// One ticker as its readers see it: the latest tick (streams wait on it) and the last
/// [`TICKS_KEPT`] ticks (polls answer from them).
#[derive(Clone)]
struct Ticker {
    latest: watch::Receiver<Tick>,
    recent: Arc<Mutex<VecDeque<Tick>>>,
}

impl Ticker {
    /// The kept ticks numbered above `after`, oldest first.
    fn after(&self, after: u64) -> Vec<Tick> {
        let recent = self.recent.lock().map(|r| r.iter().filter(|t| t.n > after).copied().collect());
        recent.unwrap_or_default()
    }
}

impl Tickers {
    fn get(&self, id: &str) -> Option<Ticker> {
        self.inner.lock().ok()?.get(id).cloned()
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    rate: u32,
}

pub async fn start(
    State(lab): State<LabState>,
    // A ticker is a task that runs for minutes: started like a connection (Origin, rate,
    // a free slot), though it keeps no slot; the streams that deliver it each hold one.
    _admitted: Permit,
    Query(q): Query<StartQuery>,
) -> Response {
    if !(1..=MAX_RATE).contains(&q.rate) {
        return (StatusCode::BAD_REQUEST, format!("rate must be 1–{MAX_RATE} events per second")).into_response();
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (tx, latest) = watch::channel(Tick { n: 0, ts: now_ms() });
    let recent = Arc::new(Mutex::new(VecDeque::with_capacity(TICKS_KEPT)));
    {
        let Ok(mut map) = lab.tickers.inner.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        if map.len() >= MAX_TICKERS {
            return (StatusCode::SERVICE_UNAVAILABLE, "too many lab tickers running; try again in a minute")
                .into_response();
        }
        map.insert(id.clone(), Ticker { latest, recent: recent.clone() });
    }
    let (tickers, shutdown, key) = (lab.tickers.clone(), lab.shutdown.clone(), id.clone());
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1) / q.rate);
        let deadline = tokio::time::sleep(LIFETIME);
        tokio::pin!(deadline);
        for n in 1.. {
            tokio::select! {
                _ = &mut deadline => break,
                _ = shutdown.cancelled() => break,
                _ = every.tick() => {
                    let tick = Tick { n, ts: now_ms() };
                    if let Ok(mut kept) = recent.lock() {
                        if kept.len() == TICKS_KEPT {
                            kept.pop_front();
                        }
                        kept.push_back(tick);
                    }
                    tx.send_replace(tick);
                }
            }
        }
        if let Ok(mut map) = tickers.inner.lock() {
            map.remove(&key);
        }
    });
    Json(serde_json::json!({ "id": id, "rate": q.rate, "seconds": LIFETIME.as_secs() })).into_response()
}

#[derive(Deserialize)]
pub struct AfterQuery {
    #[serde(default)]
    after: u64,
}

/// Short polling answers at once: every kept tick newer than `after` (often `[]`).
pub async fn poll(
    State(lab): State<LabState>,
    Path(id): Path<String>,
    Query(q): Query<AfterQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(ticker) = lab.tickers.get(&id) else { return gone() };
    counted_json(&lab, &id, "poll", &ticker.after(q.after), &method, &uri, &headers)
}

/// Long polling waits until a tick newer than `after` exists, then answers every kept tick
/// newer than `after`.
pub async fn long_poll(
    State(lab): State<LabState>,
    Path(id): Path<String>,
    Query(q): Query<AfterQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(mut ticker) = lab.tickers.get(&id) else { return gone() };
    let newer = tokio::time::timeout(LONG_POLL_WAIT, ticker.latest.wait_for(|t| t.n > q.after)).await;
    let ticks = if newer.is_ok_and(|r| r.is_ok()) { ticker.after(q.after) } else { Vec::new() };
    counted_json(&lab, &id, "longpoll", &ticks, &method, &uri, &headers)
}

fn counted_json(
    lab: &LabState,
    id: &str,
    transport: &str,
    ticks: &[Tick],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let body = serde_json::to_string(ticks).unwrap_or_else(|_| "[]".into());
    let response = ([(axum::http::header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
    let down_head = response_head_bytes(StatusCode::OK, response.headers()) + content_length_line(body.len());
    lab.ledger.add(id, transport, |c| {
        c.messages_up += 1;
        c.messages_down += ticks.len() as u64;
        c.up_header_bytes += request_head_bytes(method, uri, headers);
        c.down_header_bytes += down_head;
        c.down_payload_bytes += body.len() as u64;
    });
    response
}

/// hyper adds `content-length: N\r\n` to a sized body.
fn content_length_line(len: usize) -> u64 {
    ("content-length: ".len() + len.to_string().len() + 2) as u64
}

pub async fn sse(State(lab): State<LabState>, permit: Permit, Path(id): Path<String>) -> Response {
    let Some(Ticker { latest: rx, .. }) = lab.tickers.get(&id) else { return gone() };
    let ledger = lab.ledger.clone();
    let ticks = ticks_of(rx, permit).map(move |tick| {
        let data = serde_json::to_string(&tick).unwrap_or_default();
        ledger.add(&id, "sse", |c| {
            c.messages_down += 1;
            c.down_header_bytes += 8;
            c.down_payload_bytes += data.len() as u64;
        });
        Ok::<_, std::convert::Infallible>(Event::default().data(data))
    });
    Sse::new(ticks).into_response()
}

pub async fn ws(
    State(lab): State<LabState>,
    permit: Permit,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(Ticker { latest: rx, .. }) = lab.tickers.get(&id) else { return gone() };
    // The ticker sends and reads nothing: a frame of any size is a client out of line.
    let max = app::protocol::MAX_MESSAGE_BYTES;
    upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |mut socket| async move {
        let mut ticks = Box::pin(ticks_of(rx, permit));
        while let Some(tick) = ticks.next().await {
            let data = serde_json::to_string(&tick).unwrap_or_default();
            lab.ledger.add(&id, "ws", |c| {
                c.messages_down += 1;
                c.down_header_bytes += frame_header_len(data.len(), false) as u64;
                c.down_payload_bytes += data.len() as u64;
            });
            if socket.send(Message::Text(data.into())).await.is_err() {
                return;
            }
        }
    })
}

/// Every tick published after now, until the ticker stops; the stream holds the permit of
/// the connection that carries it.
fn ticks_of(rx: watch::Receiver<Tick>, permit: Permit) -> impl futures::Stream<Item = Tick> {
    futures::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        rx.changed().await.ok()?;
        let tick = *rx.borrow_and_update();
        Some((tick, (rx, permit)))
    })
}

/// Milliseconds since the Unix epoch: when a tick was made.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn gone() -> Response {
    (StatusCode::NOT_FOUND, "no such ticker (it runs two minutes at most): start a new one").into_response()
}
