//! One room's WebSocket: connects, joins, reconnects with backoff, re-sends unacknowledged posts.
//!
//! A single task owns the socket. The page talks to it through a [`RoomSocket`] handle; the
//! task reports every server message back through a callback and its state through a signal.

use crate::components::badge::ConnState;
use crate::domain::{ClientId, RoomName, Username};
use crate::protocol::{ClientMsg, ErrorCode, ServerMsg};
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, State};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

/// First reconnect delay cap; it doubles per failed attempt up to [`MAX_BACKOFF_MS`].
const BASE_BACKOFF_MS: f64 = 250.0;
const MAX_BACKOFF_MS: f64 = 10_000.0;
/// How long a socket may take to open before the attempt counts as failed.
const OPEN_TIMEOUT_MS: u32 = 10_000;
const OPEN_POLL_MS: u32 = 50;

enum Command {
    Send(ClientMsg),
    Rejoin(Username),
    RetryNow,
}

/// The page's handle on its room's connection. Dropping every clone ends the task and
/// closes the socket.
#[derive(Clone)]
pub struct RoomSocket {
    commands: UnboundedSender<Command>,
}

impl RoomSocket {
    /// Starts the connection task. `since` gives the newest seq the page already shows.
    pub fn start(
        room: RoomName,
        username: Username,
        since: impl Fn() -> Option<u64> + 'static,
        on_message: impl Fn(ServerMsg) + 'static,
        state: WriteSignal<ConnState>,
    ) -> Self {
        let (commands, rx) = unbounded();
        let task = Task { room, username, since: Box::new(since), on_message: Box::new(on_message), state, unacked: Vec::new() };
        leptos::task::spawn_local(task.run(rx));
        Self { commands }
    }

    /// Sends a message now, or after the next successful join; posts are re-sent until acked.
    pub fn send(&self, msg: ClientMsg) {
        let _ = self.commands.unbounded_send(Command::Send(msg));
    }

    /// Joins again under a new name (the server updates the member's name).
    pub fn rejoin(&self, username: Username) {
        let _ = self.commands.unbounded_send(Command::Rejoin(username));
    }

    /// Skips the rest of the backoff delay.
    pub fn retry_now(&self) {
        let _ = self.commands.unbounded_send(Command::RetryNow);
    }

    /// Ends the task and closes the socket.
    pub fn close(&self) {
        self.commands.close_channel();
    }
}

struct Task {
    room: RoomName,
    username: Username,
    since: Box<dyn Fn() -> Option<u64>>,
    on_message: Box<dyn Fn(ServerMsg)>,
    state: WriteSignal<ConnState>,
    /// Posts sent but not yet acknowledged, oldest first.
    unacked: Vec<ClientMsg>,
}

/// Why a connection ended.
enum Ended {
    Lost,
    PageGone,
}

impl Task {
    async fn run(mut self, rx: UnboundedReceiver<Command>) {
        let mut rx = rx.fuse();
        let mut attempt: u32 = 0;
        loop {
            self.state.set(if attempt == 0 { ConnState::Connecting } else { ConnState::Reconnecting { retry_in_s: 0 } });
            let url = socket_url();
            if let Ok(ws) = WebSocket::open(&url) {
                match self.session(ws, &mut rx, &mut attempt).await {
                    Ended::PageGone => return,
                    Ended::Lost => {}
                }
            }
            attempt = attempt.saturating_add(1);
            if !self.wait_backoff(attempt, &mut rx).await {
                return;
            }
        }
    }

    /// Runs one connection until it drops (or the page goes away).
    async fn session(
        &mut self,
        ws: WebSocket,
        rx: &mut futures::stream::Fuse<UnboundedReceiver<Command>>,
        attempt: &mut u32,
    ) -> Ended {
        if !wait_open(&ws).await {
            return Ended::Lost;
        }
        let (mut sink, stream) = ws.split();
        let mut stream = stream.fuse();
        let mut outbox: Vec<ClientMsg> = vec![self.join_msg()];
        loop {
            for msg in outbox.drain(..) {
                if sink.send(Message::Text(to_json(&msg))).await.is_err() {
                    return Ended::Lost;
                }
            }
            select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) else { continue };
                        if matches!(msg, ServerMsg::Joined { .. }) {
                            *attempt = 0;
                            self.state.set(ConnState::Live);
                            outbox.extend(self.unacked.iter().cloned());
                        }
                        self.settle(&msg);
                        (self.on_message)(msg);
                    }
                    Some(Ok(Message::Bytes(_))) => {}
                    Some(Err(_)) | None => return Ended::Lost,
                },
                command = rx.next() => match command {
                    None => return Ended::PageGone,
                    Some(Command::Send(msg)) => {
                        if matches!(msg, ClientMsg::Post { .. }) {
                            self.unacked.push(msg.clone());
                        }
                        outbox.push(msg);
                    }
                    Some(Command::Rejoin(name)) => {
                        self.username = name;
                        outbox.push(self.join_msg());
                    }
                    Some(Command::RetryNow) => {}
                },
            }
        }
    }

    /// Waits the backoff delay (full jitter) while keeping commands; false when the page left.
    async fn wait_backoff(&mut self, attempt: u32, rx: &mut futures::stream::Fuse<UnboundedReceiver<Command>>) -> bool {
        let cap = (BASE_BACKOFF_MS * 2f64.powi(attempt.min(16) as i32)).min(MAX_BACKOFF_MS);
        let mut left_ms = (js_sys::Math::random() * cap).max(100.0) as u32;
        while left_ms > 0 {
            self.state.set(ConnState::Reconnecting { retry_in_s: left_ms.div_ceil(1000) });
            let step = left_ms.min(1000);
            select! {
                _ = TimeoutFuture::new(step).fuse() => left_ms -= step,
                command = rx.next() => match command {
                    None => return false,
                    Some(Command::RetryNow) => left_ms = 0,
                    Some(Command::Rejoin(name)) => self.username = name,
                    Some(Command::Send(msg)) => {
                        // Kept until the next join; nothing is lost while offline.
                        if matches!(msg, ClientMsg::Post { .. }) {
                            self.unacked.push(msg);
                        }
                    }
                },
            }
        }
        true
    }

    fn join_msg(&self) -> ClientMsg {
        ClientMsg::Join { room: self.room.clone(), username: self.username.clone(), since: (self.since)() }
    }

    /// Forgets a post once the server acked it or refused it for good.
    fn settle(&mut self, msg: &ServerMsg) {
        let done: Option<&ClientId> = match msg {
            ServerMsg::Ack { client_id, .. } => Some(client_id),
            ServerMsg::Error { code, client_id: Some(id), .. } if !retryable(*code) => Some(id),
            _ => None,
        };
        if let Some(done) = done {
            self.unacked.retain(|m| !matches!(m, ClientMsg::Post { client_id, .. } if client_id == done));
        }
    }
}

/// Waits until the socket is open; false if it closed first or took too long.
/// (Polled: gloo's sink is not woken when a socket closes before it opens.)
async fn wait_open(ws: &WebSocket) -> bool {
    for _ in 0..(OPEN_TIMEOUT_MS / OPEN_POLL_MS) {
        match ws.state() {
            State::Open => return true,
            State::Connecting => TimeoutFuture::new(OPEN_POLL_MS).await,
            State::Closing | State::Closed => return false,
        }
    }
    false
}

fn retryable(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::Internal | ErrorCode::RateLimited)
}

fn to_json(msg: &ClientMsg) -> String {
    serde_json::to_string(msg).unwrap_or_default()
}

/// `ws://host/ws` or `wss://host/ws`, matching the page's own origin.
fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}
