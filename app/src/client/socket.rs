//! One room's connection: connects, joins, reconnects with backoff, and never loses a post.
//!
//! A single task owns the connection, over WebSocket or, when that keeps failing, SSE + POST
//! and then long polling (`link.rs`); the choice is remembered for the browser session and
//! WebSocket is retried in the background. `?transport=ws|sse|longpoll` forces one. The page talks to it through a [`RoomSocket`] handle; the
//! task reports every server message back through a callback and its state through a signal.
//! Posts stay in the room's outbox (saved in `localStorage`, so a reload keeps them) until
//! acknowledged, and are sent only once `joined` has arrived on the current connection, then
//! again after every (re)join; the server recognises retries by `client_id`. Silence, a post
//! or a join left unanswered too long, or a refused join counts as a dead connection; a post
//! answered `not_joined` makes the task join again (see [`Membership`]).

use super::link::{Kind, Link};
use super::now_ms;
use super::storage::{load_outbox, load_transport, save_outbox, save_transport, OutboxEntry};
use crate::components::badge::ConnState;
use crate::domain::{ClientId, RoomName, Username};
use crate::pages::room::membership::{refused_for_good, Membership, Next};
use crate::protocol::{ClientMsg, ServerMsg};
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::stream::Fuse;
use futures::{select, FutureExt, StreamExt};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;

/// First reconnect delay cap; it doubles per failed attempt up to [`MAX_BACKOFF_MS`].
const BASE_BACKOFF_MS: f64 = 250.0;
const MAX_BACKOFF_MS: f64 = 10_000.0;
/// Failed attempts in a row before falling back to the next transport.
const FAILURES_BEFORE_FALLBACK: u32 = 3;
/// While on a fallback, how often to check whether a WebSocket gets through again.
const WEBSOCKET_RETRY_MS: i64 = 60_000;
/// After this long without a message, ask the server for a `pong`.
const PING_AFTER_MS: i64 = 15_000;
/// A `ping` unanswered for this long, or a post unacknowledged for this long, means the
/// connection is dead even if the browser has not noticed.
const ANSWER_TIMEOUT_MS: i64 = 10_000;
const CHECK_EVERY_MS: u32 = 1_000;

enum Command {
    Post(OutboxEntry),
    Send(ClientMsg),
    Rejoin(Username),
    Resync,
    RetryNow,
}

/// The page's handle on its room's connection.
#[derive(Clone)]
pub struct RoomSocket {
    commands: UnboundedSender<Command>,
}

impl RoomSocket {
    /// Starts the connection task. `since` gives the newest seq the page holds without a gap.
    pub fn start(
        room: RoomName,
        username: Username,
        since: impl Fn() -> Option<u64> + 'static,
        on_message: impl Fn(ServerMsg) + 'static,
        state: WriteSignal<ConnState>,
    ) -> Self {
        let (commands, rx) = unbounded();
        let outbox = load_outbox(&room);
        let forced = forced_transport();
        let kind = forced.or_else(|| load_transport().and_then(|k| Kind::parse(&k))).unwrap_or(Kind::WebSocket);
        let task = Task {
            room,
            username,
            since: Box::new(since),
            on_message: Box::new(on_message),
            state,
            outbox,
            sent_at: Vec::new(),
            membership: Membership::default(),
            kind,
            forced: forced.is_some(),
        };
        leptos::task::spawn_local(task.run(rx.fuse()));
        Self { commands }
    }

    /// Queues a post in the outbox (kept across reloads) and sends it as soon as possible.
    pub fn post(&self, client_id: ClientId, text: crate::domain::PostText) {
        let _ = self.commands.unbounded_send(Command::Post(OutboxEntry { client_id, text }));
    }

    /// Sends a message if connected; dropped otherwise (for ephemeral messages like typing).
    pub fn send(&self, msg: ClientMsg) {
        let _ = self.commands.unbounded_send(Command::Send(msg));
    }

    /// Joins again under a new name (the server updates the member's name).
    pub fn rejoin(&self, username: Username) {
        let _ = self.commands.unbounded_send(Command::Rejoin(username));
    }

    /// Joins again from the last seq held without a gap: the server replays what is missing.
    pub fn resync(&self) {
        let _ = self.commands.unbounded_send(Command::Resync);
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

type Commands = Fuse<UnboundedReceiver<Command>>;

struct Task {
    room: RoomName,
    username: Username,
    since: Box<dyn Fn() -> Option<u64>>,
    on_message: Box<dyn Fn(ServerMsg)>,
    state: WriteSignal<ConnState>,
    /// Posts not yet acknowledged, oldest first; mirrored in localStorage.
    outbox: Vec<OutboxEntry>,
    /// When each outbox post was last sent on the current connection.
    sent_at: Vec<(ClientId, i64)>,
    /// Whether the current connection is in the room yet.
    membership: Membership,
    kind: Kind,
    /// Set by `?transport=`: never fall back or upgrade.
    forced: bool,
}

/// Why a connection ended.
enum Ended {
    Lost,
    /// A WebSocket gets through again: switch back to it now.
    Upgrade,
    PageGone,
}

impl Task {
    async fn run(mut self, mut rx: Commands) {
        let mut attempt: u32 = 0;
        // Attempts in a row on this transport that never got a connection open.
        let mut failed_opens: u32 = 0;
        loop {
            self.state.set(if attempt == 0 {
                ConnState::Connecting
            } else {
                ConnState::Reconnecting { retry_in_s: 0 }
            });
            match Link::open(self.kind).await {
                Ok(link) => {
                    failed_opens = 0;
                    match self.session(link, &mut rx, &mut attempt).await {
                        Ended::PageGone => return,
                        Ended::Upgrade => {
                            self.switch(Kind::WebSocket);
                            attempt = 0;
                            continue;
                        }
                        Ended::Lost => {}
                    }
                }
                Err(_) => failed_opens += 1,
            }
            if failed_opens >= FAILURES_BEFORE_FALLBACK && !self.forced {
                if let Some(next) = self.kind.fallback() {
                    self.switch(next);
                    failed_opens = 0;
                }
            }
            attempt = attempt.saturating_add(1);
            if !self.wait_backoff(attempt, &mut rx).await {
                return;
            }
        }
    }

    fn switch(&mut self, kind: Kind) {
        self.kind = kind;
        save_transport(kind.name());
    }

    /// Runs one connection until it drops (or the page goes away).
    async fn session(&mut self, mut link: Link, rx: &mut Commands, attempt: &mut u32) -> Ended {
        let mut checks = IntervalStream::new(CHECK_EVERY_MS).fuse();
        let mut last_websocket_try = now_ms();
        let mut outbox: Vec<ClientMsg> = vec![self.join_msg()];
        let mut last_heard = now_ms();
        let mut ping_sent: Option<i64> = None;
        self.sent_at.clear();
        self.membership = Membership::default();
        loop {
            // Replies can queue more messages (a join's reply re-sends the outbox): loop until empty.
            while !outbox.is_empty() {
                for msg in std::mem::take(&mut outbox) {
                    match &msg {
                        ClientMsg::Join { .. } => self.membership.join_sent(now_ms()),
                        ClientMsg::Ping => {}
                        // Not in the room yet: the server would refuse it. A post stays in the
                        // outbox and goes once `joined` arrives; `typing` is not worth keeping.
                        _ if !self.membership.joined() => continue,
                        ClientMsg::Post { client_id, .. } => {
                            self.sent_at.retain(|(id, _)| id != client_id);
                            self.sent_at.push((client_id.clone(), now_ms()));
                        }
                        _ => {}
                    }
                    let replies = match link.send(&msg).await {
                        Ok(replies) => replies,
                        Err(_) => return Ended::Lost,
                    };
                    for reply in replies {
                        if let Err(ended) = self.receive(reply, &mut outbox, attempt) {
                            return ended;
                        }
                    }
                }
            }
            select! {
                msg = link.recv().fuse() => match msg {
                    Some(msg) => {
                        last_heard = now_ms();
                        ping_sent = None;
                        if let Err(ended) = self.receive(msg, &mut outbox, attempt) {
                            return ended;
                        }
                    }
                    None => return Ended::Lost,
                },
                _ = checks.next() => {
                    let now = now_ms();
                    let overdue = self.sent_at.iter().any(|(_, at)| now - at > ANSWER_TIMEOUT_MS);
                    let silent = ping_sent.is_some_and(|at| now - at > ANSWER_TIMEOUT_MS);
                    if overdue || silent || self.membership.join_overdue(now) {
                        return Ended::Lost;
                    }
                    if ping_sent.is_none() && now - last_heard > PING_AFTER_MS {
                        ping_sent = Some(now);
                        outbox.push(ClientMsg::Ping);
                    }
                    if self.kind != Kind::WebSocket && !self.forced && now - last_websocket_try > WEBSOCKET_RETRY_MS {
                        last_websocket_try = now;
                        if Link::open(Kind::WebSocket).await.is_ok() {
                            return Ended::Upgrade;
                        }
                    }
                },
                command = rx.next() => match command {
                    None => return Ended::PageGone,
                    Some(Command::Post(entry)) => {
                        outbox.push(self.post_msg(&entry));
                        self.enqueue(entry);
                    }
                    Some(Command::Send(msg)) => outbox.push(msg),
                    Some(Command::Rejoin(name)) => {
                        self.username = name;
                        outbox.push(self.join_msg());
                    }
                    Some(Command::Resync) => outbox.push(self.join_msg()),
                    Some(Command::RetryNow) => {}
                },
            }
        }
    }

    /// Waits the backoff delay (full jitter) while keeping posts; false when the page left.
    async fn wait_backoff(&mut self, attempt: u32, rx: &mut Commands) -> bool {
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
                    // Kept in the outbox until the next join; nothing is lost while offline.
                    Some(Command::Post(entry)) => self.enqueue(entry),
                    Some(Command::Send(_) | Command::Resync) => {}
                },
            }
        }
        true
    }

    /// Handles one server message: state, outbox, then the page. `Err` when the connection
    /// must be dropped (the join was refused).
    fn receive(&mut self, msg: ServerMsg, outbox: &mut Vec<ClientMsg>, attempt: &mut u32) -> Result<(), Ended> {
        let next = self.membership.on_message(&msg, now_ms());
        match next {
            Next::SendOutbox => {
                *attempt = 0;
                self.state.set(ConnState::Live { transport: self.kind.name() });
                outbox.extend(self.outbox.iter().map(|e| self.post_msg(e)));
            }
            Next::Rejoin => outbox.push(self.join_msg()),
            Next::Reconnect | Next::Nothing => {}
        }
        self.settle(&msg);
        (self.on_message)(msg);
        match next {
            Next::Reconnect => Err(Ended::Lost),
            _ => Ok(()),
        }
    }

    fn join_msg(&self) -> ClientMsg {
        ClientMsg::Join { room: self.room.clone(), username: self.username.clone(), since: (self.since)() }
    }

    fn post_msg(&self, entry: &OutboxEntry) -> ClientMsg {
        ClientMsg::Post { room: self.room.clone(), text: entry.text.clone(), client_id: entry.client_id.clone() }
    }

    fn enqueue(&mut self, entry: OutboxEntry) {
        self.outbox.push(entry);
        save_outbox(&self.room, &self.outbox);
    }

    /// Forgets a post once the server acked it or refused it for good.
    fn settle(&mut self, msg: &ServerMsg) {
        let done: Option<&ClientId> = match msg {
            ServerMsg::Ack { client_id, .. } => Some(client_id),
            ServerMsg::Error { code, client_id: Some(id), .. } if refused_for_good(*code) => Some(id),
            _ => None,
        };
        if let Some(done) = done {
            self.outbox.retain(|e| &e.client_id != done);
            self.sent_at.retain(|(id, _)| id != done);
            save_outbox(&self.room, &self.outbox);
        }
    }
}

/// The transport named by `?transport=` in the page's URL, if any.
fn forced_transport() -> Option<Kind> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    Kind::parse(&params.get("transport")?)
}
