//! One room's connection in the browser: a thin driver over the room client
//! ([`crate::room_client`]), which holds every rule (join, resume, outbox, retries, liveness).
//! One task owns the connection over the transport [`Transport`] picks, feeds the client what
//! arrives and the time, sends what it says, saves the outbox to `localStorage` whenever it
//! changes (so a reload keeps unsent posts), and reconnects after the backoff delay. The page
//! reads the connection's state and a stream of [`Event`]s; it calls nothing back.

use super::link::{Kind, Link};
use super::storage::{load_claim, load_moderator, load_outbox, save_claim, save_outbox};
use super::transport::Transport;
use super::{new_client_id, now_ms};
use crate::domain::{PostText, RoomName, Username};
use crate::protocol::ClientMsg;
use crate::room_client::{Backoff, ConnState, Event, RoomClient, Step};
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::stream::Fuse;
use futures::{select, FutureExt, StreamExt};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;
use std::collections::VecDeque;

/// How often the room client checks the connection.
const TICK_MS: u32 = 1_000;

/// What the page asks of its connection.
pub enum Command {
    /// Writes a post: kept (across reloads too) until the server stores it.
    Post(PostText),
    Typing,
    /// Joins again under a new name, or watching without one.
    Rename(Option<Username>),
    /// Skips the rest of the backoff delay.
    RetryNow,
    /// Deletes a post: one of this user's, or any for a moderator.
    Delete(u64),
    /// A moderator blocks the author of a post for this many minutes.
    Block {
        seq: u64,
        minutes: u32,
    },
}

/// The page's handle on its room's connection; `close` ends it.
#[derive(Clone)]
pub struct RoomSocket {
    commands: UnboundedSender<Command>,
    pub state: ReadSignal<ConnState>,
}

impl RoomSocket {
    /// Starts the connection for a page that holds every post up to `since` (from `from` on:
    /// a resume asks which of them were deleted meanwhile), as `username`
    /// or watching; returns the handle and the events to show. A page that will never post
    /// (`watch_only`: the projector) leaves the room's saved outbox alone, so it cannot
    /// overwrite what a wall in another tab keeps there.
    pub fn start(
        room: RoomName,
        username: Option<Username>,
        since: Option<u64>,
        from: Option<u64>,
        watch_only: bool,
    ) -> (Self, UnboundedReceiver<Event>) {
        let (commands, rx) = unbounded();
        let (events, events_rx) = unbounded();
        let (state, set_state) = signal(ConnState::Connecting);
        let outbox = if watch_only { Vec::new() } else { load_outbox(&room) };
        let _ = events.unbounded_send(Event::Outbox(outbox.clone()));
        let claim = username.as_ref().and_then(load_claim);
        // The projector never moderates; a wall signs in if a secret was pasted on /moderate.
        let moderator = if watch_only { None } else { load_moderator() };
        let client = RoomClient::new(room, username, since, outbox)
            .with_claim(claim)
            .holding_from(from)
            .with_moderator(moderator);
        let driver = Driver {
            client,
            events,
            state: set_state,
            backoff: Backoff::default(),
            transport: Transport::choose(),
            saves_outbox: !watch_only,
        };
        leptos::task::spawn_local(driver.run(rx.fuse()));
        (Self { commands, state }, events_rx)
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.unbounded_send(command);
    }

    pub fn close(&self) {
        self.commands.close_channel();
    }
}

/// Why a connection ended.
enum Ended {
    Lost,
    /// A WebSocket gets through again: switch back to it now.
    Upgrade,
    PageGone,
}

struct Driver {
    client: RoomClient,
    events: UnboundedSender<Event>,
    state: WriteSignal<ConnState>,
    backoff: Backoff,
    transport: Transport,
    /// False for a page that never posts: its (empty) outbox is not the room's saved one.
    saves_outbox: bool,
}

impl Driver {
    async fn run(mut self, mut rx: Fuse<UnboundedReceiver<Command>>) {
        loop {
            let first = self.backoff.failures() == 0;
            self.state.set(if first { ConnState::Connecting } else { ConnState::Reconnecting { retry_in_s: 0 } });
            match Link::open(self.transport.kind()).await {
                Ok(link) => {
                    self.transport.opened(now_ms());
                    let ended = self.session(link, &mut rx).await;
                    self.client.on_close();
                    match ended {
                        Ended::PageGone => return,
                        Ended::Upgrade => continue,
                        Ended::Lost => {}
                    }
                }
                Err(_) => self.transport.failed_to_open(),
            }
            let delay = self.backoff.failed(js_sys::Math::random());
            if !self.wait(delay.as_millis() as u32, &mut rx).await {
                return;
            }
        }
    }

    /// Runs one connection until it drops (or the page goes away).
    async fn session(&mut self, mut link: Link, rx: &mut Fuse<UnboundedReceiver<Command>>) -> Ended {
        let mut ticks = IntervalStream::new(TICK_MS).fuse();
        let mut outgoing = VecDeque::new();
        let mut step = self.client.on_open(now_ms());
        loop {
            if !self.take(step, &mut outgoing) {
                return Ended::Lost;
            }
            // Replies can ask for more (a `joined` re-sends the outbox): send until none is left.
            while let Some(msg) = outgoing.pop_front() {
                let Ok(replies) = link.send(&msg).await else { return Ended::Lost };
                for reply in replies {
                    let step = self.client.on_message(reply, now_ms());
                    if !self.take(step, &mut outgoing) {
                        return Ended::Lost;
                    }
                }
            }
            step = select! {
                msg = link.recv().fuse() => match msg {
                    Some(msg) => self.client.on_message(msg, now_ms()),
                    None => return Ended::Lost,
                },
                _ = ticks.next() => {
                    let now = now_ms();
                    if self.transport.upgrade_due(now) && Link::open(Kind::WebSocket).await.is_ok() {
                        self.transport.switch(Kind::WebSocket);
                        return Ended::Upgrade;
                    }
                    self.client.on_tick(now)
                },
                command = rx.next() => match command {
                    Some(command) => self.command(command),
                    None => return Ended::PageGone,
                },
            };
        }
    }

    /// Waits out the backoff delay, still taking posts; false when the page went away.
    async fn wait(&mut self, mut left_ms: u32, rx: &mut Fuse<UnboundedReceiver<Command>>) -> bool {
        while left_ms > 0 {
            self.state.set(ConnState::Reconnecting { retry_in_s: left_ms.div_ceil(1000) });
            let pause = left_ms.min(1000);
            select! {
                _ = TimeoutFuture::new(pause).fuse() => left_ms -= pause,
                command = rx.next() => match command {
                    None => return false,
                    Some(Command::RetryNow) => left_ms = 0,
                    // Offline, the client only keeps it: nothing to send.
                    Some(command) => {
                        let step = self.command(command);
                        self.take(step, &mut VecDeque::new());
                    }
                },
            }
        }
        true
    }

    fn command(&mut self, command: Command) -> Step {
        let now = now_ms();
        match command {
            Command::Post(text) => self.client.post(new_client_id(), text, now),
            Command::Typing => self.client.typing(now),
            Command::Rename(username) => {
                let claim = username.as_ref().and_then(load_claim);
                self.client.rename(username, claim, now)
            }
            Command::RetryNow => Step::default(),
            Command::Delete(seq) => self.client.delete(seq, now),
            Command::Block { seq, minutes } => self.client.block(seq, minutes, now),
        }
    }

    /// Queues what the client wants sent and hands its events to the page; false when the
    /// connection must be dropped.
    fn take(&mut self, step: Step, outgoing: &mut VecDeque<ClientMsg>) -> bool {
        outgoing.extend(step.send);
        for event in step.events {
            match &event {
                Event::Live => {
                    self.backoff.reset();
                    self.state.set(ConnState::Live { transport: self.transport.kind().name() });
                }
                Event::Outbox(entries) if self.saves_outbox => save_outbox(self.client.room(), entries),
                Event::Claimed { username, claim, .. } => save_claim(username, claim),
                _ => {}
            }
            let _ = self.events.unbounded_send(event);
        }
        !step.reconnect
    }
}
