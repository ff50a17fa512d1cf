//! The lessons' server side: echo endpoints for the speed test, the transport lab's ticker,
//! the inspector's handshake capture, and the byte counts they all report. Their routes
//! are listed with every other in `routes.rs` (`lessons`), behind their own state.
//!
//! # Layout
//! - `wire.rs` — the per-run byte ledger and HTTP head sizes.
//! - `echo.rs` — HTTP, WebSocket and SSE + POST echo.
//! - `ticker.rs` — one event stream over short polling, long polling, SSE and WebSocket.
//! - `handshake.rs` — captured upgrades and `Sec-WebSocket-Accept` step by step.
//! - `frames.rs` — a WebSocket read by hand, reporting each frame byte by byte.

pub mod echo;
pub mod frames;
pub mod handshake;
pub mod ticker;
pub mod wire;

use crate::gateway::Gateway;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A lesson socket or stream that carries nothing for this long is closed.
pub const LESSON_IDLE: Duration = Duration::from_secs(60);
/// The longest any lesson socket or stream lives: a lesson is minutes, not hours.
pub const LESSON_LIFETIME: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, axum::extract::FromRef)]
pub struct LabState {
    pub ledger: wire::Ledger,
    pub captures: handshake::Captures,
    pub tickers: ticker::Tickers,
    pub echo_sessions: EchoSessions,
    /// Every lesson socket and stream is admitted like the wall's own connections.
    pub gateway: Gateway,
    pub shutdown: CancellationToken,
}

impl LabState {
    pub fn new(gateway: Gateway, shutdown: CancellationToken) -> Self {
        Self {
            ledger: wire::Ledger::default(),
            captures: handshake::Captures::default(),
            tickers: ticker::Tickers::default(),
            echo_sessions: EchoSessions::default(),
            gateway,
            shutdown,
        }
    }
}

/// A run id (and capture token) follows the client-id rule: 1–64 of `A–Z a–z 0–9 - _`.
pub fn run_id(raw: &str) -> Option<&str> {
    app::domain::ClientId::parse(raw).ok().map(|_| raw)
}

#[derive(Deserialize)]
pub struct ReportQuery {
    run: String,
}

pub async fn report(State(lab): State<LabState>, Query(q): Query<ReportQuery>) -> Json<app::lab::WireReport> {
    Json(lab.ledger.report(&q.run))
}

/// Open SSE echo streams, by session id.
#[derive(Clone, Default)]
pub struct EchoSessions {
    inner: Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>,
}

impl EchoSessions {
    fn insert(&self, id: String, tx: mpsc::Sender<String>) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, tx);
        }
    }

    fn get(&self, id: &str) -> Option<mpsc::Sender<String>> {
        self.inner.lock().ok()?.get(id).cloned()
    }

    /// Removes the session when the stream holding the guard is dropped.
    fn guard(&self, id: String) -> EchoGuard {
        EchoGuard { id, sessions: self.clone() }
    }
}

pub struct EchoGuard {
    id: String,
    sessions: EchoSessions,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.sessions.inner.lock() {
            map.remove(&self.id);
        }
    }
}
