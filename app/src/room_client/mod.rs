//! # The room client, without I/O
//!
//! Every rule a client of one room follows, as a plain state machine shared by the browser
//! (`client/socket.rs`) and the terminal client (`tools/src/client.rs`): what to send when a
//! connection opens, when a post may go and when it goes again, where to resume after a loss,
//! what a server message means, and when a silent connection is dead. It does no I/O and reads
//! no clock: the driver passes in what arrived and the time, sends [`Step::send`], shows
//! [`Step::events`], and reconnects (waiting [`Backoff`]) when [`Step::reconnect`] says so.
//!
//! # Layout
//! - `mod.rs` — [`RoomClient`]: the inputs, and the rules that tie the parts below together.
//! - `step.rs` — what it hands back ([`Step`], [`Event`]) and [`ConnState`].
//! - `cursor.rs` — where to resume, and which posts are already held.
//! - `outbox.rs` — posts not yet stored: sent after `joined`, again after a refusal for now.
//! - `membership.rs` — whether the connection is in the room yet; which refusals are final.
//! - `pacer.rs` — keeps the client under the rate limit the server advertised.
//! - `presence.rs` — who is here, applied as sets.
//! - `backoff.rs` — the reconnect delay.
//! - `tests.rs` — the rules, one test each.

mod backoff;
mod cursor;
mod membership;
mod outbox;
mod pacer;
mod presence;
mod step;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use outbox::OutboxEntry;
pub use step::{ConnState, Event, Step};

use crate::domain::{ClaimSecret, ClientId, PostText, RoomName, Username};
use crate::protocol::{ClientMsg, ErrorCode, Post, ServerMsg, TYPING_RESEND_MS};
use cursor::{Cursor, Seen};
use membership::{refused_for_good, Membership, Next};
use outbox::{Outbox, ANSWER_TIMEOUT_MS};
use pacer::Pacer;
use presence::Presence;

/// After this long without a message, ask the server for a `pong`.
pub const PING_AFTER_MS: i64 = 15_000;

/// One client in one room, across any number of connections.
#[derive(Debug)]
pub struct RoomClient {
    room: RoomName,
    /// `None` while it watches: posts wait in the outbox for a name, typing is not sent.
    username: Option<Username>,
    /// The secret of `username`'s claim, once known: sent with every join under it.
    claim: Option<ClaimSecret>,
    /// A moderator's secret: sent (`moderate`) once each connection has joined.
    moderator: Option<ClaimSecret>,
    cursor: Cursor,
    outbox: Outbox,
    membership: Membership,
    presence: Presence,
    /// Whether a connection is open (from `on_open` to `on_close`).
    open: bool,
    /// Whether this connection was sent the moderator's secret.
    signed_in_here: bool,
    last_heard: i64,
    ping_sent_at: Option<i64>,
    last_typing_at: Option<i64>,
    /// The connection's rate limit, once its `hello` said it.
    pacer: Option<Pacer>,
    /// Messages sent on this connection while no pacer was set (the join goes before `hello`
    /// arrives): the server counted them, so a pacer made from `hello` starts with them spent.
    sent_before_hello: usize,
}

impl RoomClient {
    /// A client that holds every post up to `since` and still has `saved` posts to store;
    /// without a `username` it watches.
    pub fn new(room: RoomName, username: Option<Username>, since: Option<u64>, saved: Vec<OutboxEntry>) -> Self {
        Self {
            room,
            username,
            claim: None,
            moderator: None,
            cursor: Cursor::starting_at(since),
            outbox: Outbox::new(saved),
            membership: Membership::default(),
            presence: Presence::default(),
            open: false,
            signed_in_here: false,
            last_heard: 0,
            ping_sent_at: None,
            last_typing_at: None,
            pacer: None,
            sent_before_hello: 0,
        }
    }

    /// Also holds the posts from `seq` on (a page the server rendered): a resume asks which of
    /// them were deleted meanwhile.
    pub fn holding_from(mut self, seq: Option<u64>) -> Self {
        if let Some(seq) = seq {
            self.cursor.holding_from(seq);
        }
        self
    }

    /// Signs every connection in as a moderator with `secret` (once it has joined: a wrong
    /// secret is then a notice, not a failed join).
    pub fn with_moderator(mut self, secret: Option<ClaimSecret>) -> Self {
        self.moderator = secret;
        self
    }

    /// Signs in as a moderator now (if joined) and on every later connection.
    pub fn moderate(&mut self, secret: ClaimSecret, now: i64) -> Step {
        self.moderator = Some(secret.clone());
        let mut step = Step::default();
        if self.open && self.membership.joined() && self.budget(now) > 0 {
            self.spend(1);
            step.send.push(ClientMsg::Moderate { secret });
        }
        step
    }

    /// A moderator blocks the author of post `seq` from posting for `minutes`.
    pub fn block(&mut self, seq: u64, minutes: u32, now: i64) -> Step {
        let mut step = Step::default();
        if !self.open || !self.membership.joined() || self.budget(now) == 0 {
            return step;
        }
        self.spend(1);
        step.send.push(ClientMsg::Block { room: self.room.clone(), seq, minutes });
        step
    }

    /// The secret kept for this client's name (from an earlier `claimed`).
    pub fn with_claim(mut self, claim: Option<ClaimSecret>) -> Self {
        self.claim = claim;
        self
    }

    pub fn room(&self) -> &RoomName {
        &self.room
    }

    /// True when every post written has been stored or refused.
    pub fn all_settled(&self) -> bool {
        self.outbox.is_empty()
    }

    /// A connection opened at `now`: join (posts wait for `joined`).
    pub fn on_open(&mut self, now: i64) -> Step {
        self.open = true;
        self.signed_in_here = false;
        self.membership = Membership::default();
        self.outbox.connection_lost();
        self.last_heard = now;
        self.ping_sent_at = None;
        self.pacer = None;
        self.sent_before_hello = 0;
        Step { send: vec![self.join(now)], ..Step::default() }
    }

    /// The connection is gone; posts wait for the next one.
    pub fn on_close(&mut self) {
        self.open = false;
        self.outbox.connection_lost();
    }

    /// Writes a post: kept until stored, sent now if the room is joined.
    pub fn post(&mut self, client_id: ClientId, text: PostText, now: i64) -> Step {
        let mut step = Step::default();
        if !self.outbox.push(OutboxEntry { client_id, text }) {
            return step;
        }
        step.events.push(Event::Outbox(self.outbox.entries()));
        self.flush(&mut step, now);
        step
    }

    /// Tells the room this user is typing, at most once per [`TYPING_RESEND_MS`].
    pub fn typing(&mut self, now: i64) -> Step {
        // Posts waiting for the rate limit go first; typing only takes what they leave.
        let mut step = Step::default();
        self.flush(&mut step, now);
        let recent = self.last_typing_at.is_some_and(|at| now - at < TYPING_RESEND_MS as i64);
        let watching = self.username.is_none();
        if !self.open || !self.membership.joined() || watching || recent || self.budget(now) == 0 {
            return step;
        }
        self.last_typing_at = Some(now);
        self.spend(1);
        step.send.push(ClientMsg::Typing { room: self.room.clone() });
        step
    }

    /// Takes a new name (or none, to watch), with the secret kept for it if any; an open
    /// connection joins again under it.
    pub fn rename(&mut self, username: Option<Username>, claim: Option<ClaimSecret>, now: i64) -> Step {
        if username == self.username {
            return Step::default();
        }
        self.username = username;
        self.claim = claim;
        let send = if self.open { vec![self.join(now)] } else { Vec::new() };
        Step { send, ..Step::default() }
    }

    /// Asks to delete one of this user's posts (the server refuses anyone else's). Sent only
    /// while in the room under a name; the answer is a `deleted` to every member.
    pub fn delete(&mut self, seq: u64, now: i64) -> Step {
        let mut step = Step::default();
        let may = self.username.is_some() || self.moderator.is_some();
        if !self.open || !self.membership.joined() || !may || self.budget(now) == 0 {
            return step;
        }
        self.spend(1);
        step.send.push(ClientMsg::Delete { room: self.room.clone(), seq });
        step
    }

    /// Takes in a server message received at `now`.
    pub fn on_message(&mut self, msg: ServerMsg, now: i64) -> Step {
        self.last_heard = now;
        self.ping_sent_at = None;
        let mut step = Step::default();
        if let ServerMsg::Error { code: ErrorCode::NameTaken, client_id: None, .. } = &msg {
            if self.membership.joining() {
                return self.name_taken(now);
            }
        }
        match self.membership.on_message(&msg, now) {
            Next::Joined => {
                step.events.push(Event::Live);
                if let Some(secret) = self.moderator.clone().filter(|_| !self.signed_in_here) {
                    self.signed_in_here = true;
                    self.spend(1);
                    step.send.push(ClientMsg::Moderate { secret });
                }
            }
            Next::Rejoin => {
                self.spend(1);
                step.send.push(self.join_msg());
            }
            Next::Reconnect => step.reconnect = true,
            Next::Nothing => {}
        }
        match msg {
            ServerMsg::Joined { history, present, watching, truncated, deleted, .. } => {
                step.events.push(self.presence.replace(present, watching));
                if truncated {
                    // Too much was missed: the history is the room's latest page, not what
                    // follows `since`. Resume from that page; the hole below it is the
                    // driver's to show (the browser reloads, the terminal says so).
                    step.events.push(Event::HistoryTruncated);
                    self.cursor = Cursor::starting_at(None);
                }
                self.take_posts(history, deleted, &mut step, now);
                // After the history, which may hold posts stored before an ack was lost.
                self.flush(&mut step, now);
            }
            ServerMsg::Post(post) => self.take_posts(vec![post], Vec::new(), &mut step, now),
            ServerMsg::Deleted { seq, .. } => self.take_posts(Vec::new(), vec![seq], &mut step, now),
            ServerMsg::Ack { client_id, seq, .. } => self.settle(client_id, seq, &mut step),
            ServerMsg::Presence { joined, left, watching, .. } => {
                step.events.extend(self.presence.apply(joined, left, watching))
            }
            ServerMsg::Typing { username, .. } => step.events.push(Event::Typing(username)),
            ServerMsg::Error { code, message, client_id: Some(id) } => self.refused(id, code, message, &mut step, now),
            ServerMsg::Error { code, message, client_id: None } => step.events.push(Event::Notice { code, message }),
            ServerMsg::Hello { rate, .. } => {
                // A limit of 0 is no limit anyone could keep: treated as none.
                let rate = rate.filter(|r| r.per_sec > 0 && r.burst > 0);
                self.pacer = rate.map(|limit| Pacer::new(limit, now));
                let already = std::mem::take(&mut self.sent_before_hello);
                self.spend(already);
            }
            ServerMsg::Claimed { username, claim, fingerprint } => {
                // Reported even for a name just changed away from: the server never sends
                // a secret twice, and the driver keeps it under its own name.
                if self.username.as_ref() == Some(&username) {
                    self.claim = Some(claim.clone());
                }
                step.events.push(Event::Claimed { username, claim, fingerprint });
            }
            ServerMsg::Moderating { moderator } => step.events.push(Event::Moderating(moderator)),
            ServerMsg::AuthorBlocked { seq, until_ms, .. } => step.events.push(Event::AuthorBlocked { seq, until_ms }),
            ServerMsg::Left { .. } | ServerMsg::Pong | ServerMsg::Released { .. } => {}
        }
        step
    }

    /// The join under this client's name was refused: someone else holds it. The client
    /// watches instead (its posts wait in the outbox for a name) and tells the driver, whose
    /// user picks another name.
    fn name_taken(&mut self, now: i64) -> Step {
        let mut step = Step::default();
        if let Some(name) = self.username.take() {
            step.events.push(Event::NameTaken(name));
        }
        self.claim = None;
        step.send.push(self.join(now));
        step
    }

    /// Checks the connection at `now` (call about once a second): asks a silent server for a
    /// `pong`, re-sends posts whose retry time has come, and gives up on a connection that
    /// left a join, a post or a ping unanswered for too long.
    pub fn on_tick(&mut self, now: i64) -> Step {
        let mut step = Step::default();
        if !self.open {
            return step;
        }
        let ping_unanswered = self.ping_sent_at.is_some_and(|at| now - at > ANSWER_TIMEOUT_MS);
        if ping_unanswered || self.outbox.overdue(now) || self.membership.join_overdue(now) {
            step.reconnect = true;
            return step;
        }
        if self.ping_sent_at.is_none() && now - self.last_heard > PING_AFTER_MS {
            self.ping_sent_at = Some(now);
            self.spend(1);
            step.send.push(ClientMsg::Ping);
        }
        self.flush(&mut step, now);
        step
    }

    /// Hands on the posts not held yet and every deletion (a deleted seq counts as held), in
    /// seq order; a seq past a gap asks for the gap (one join at a time).
    fn take_posts(&mut self, posts: Vec<Post>, mut deleted: Vec<u64>, step: &mut Step, now: i64) {
        let mut fresh = Vec::new();
        let mut gap = false;
        deleted.sort_unstable();
        let mut removals = deleted.iter().copied().peekable();
        for post in posts {
            while let Some(seq) = removals.next_if(|seq| *seq < post.seq) {
                gap |= self.cursor.take(seq) == Seen::PastGap;
            }
            self.settle(post.client_id.clone(), post.seq, step);
            match self.cursor.take(post.seq) {
                Seen::Duplicate => continue,
                Seen::PastGap => gap = true,
                Seen::New => {}
            }
            fresh.push(post);
        }
        for seq in removals {
            gap |= self.cursor.take(seq) == Seen::PastGap;
        }
        if !fresh.is_empty() {
            step.events.push(Event::Posts(fresh));
        }
        if !deleted.is_empty() {
            step.events.push(Event::Deleted(deleted));
        }
        if gap && self.cursor.has_gap() && self.open && !self.membership.joining() {
            step.send.push(self.join(now));
        }
    }

    fn refused(&mut self, client_id: ClientId, code: ErrorCode, message: String, step: &mut Step, now: i64) {
        if refused_for_good(code) {
            if let Some(post) = self.outbox.remove(&client_id) {
                step.events.push(Event::Outbox(self.outbox.entries()));
                step.events.push(Event::Refused { post, code, message });
            }
        } else {
            // `not_joined` posts go with the next `joined`; the others after a pause.
            if code == ErrorCode::NotJoined {
                self.outbox.unsend(&client_id);
            } else {
                self.outbox.retry_later(&client_id, now);
            }
            step.events.push(Event::Delayed { client_id, code, message });
        }
    }

    /// A post of this client's is stored as `seq`: it leaves the outbox (reported once, by
    /// whichever comes first of its ack and the post itself).
    fn settle(&mut self, client_id: ClientId, seq: u64, step: &mut Step) {
        if self.outbox.remove(&client_id).is_some() {
            step.events.push(Event::Outbox(self.outbox.entries()));
            step.events.push(Event::Stored { client_id, seq });
        }
    }

    /// Sends the posts that may go now: once in the room under a name, as many as the rate
    /// limit allows.
    fn flush(&mut self, step: &mut Step, now: i64) {
        if !self.open || !self.membership.joined() || self.username.is_none() {
            return;
        }
        let budget = self.budget(now);
        let ready = self.outbox.ready(now, budget);
        self.spend(ready.len());
        step.send.extend(ready.into_iter().map(|e| self.post_msg(e)));
    }

    /// Messages that may go at `now` under the rate limit (no limit before `hello` says one).
    fn budget(&mut self, now: i64) -> usize {
        self.pacer.as_mut().map_or(usize::MAX, |p| p.budget(now))
    }

    fn spend(&mut self, n: usize) {
        match &mut self.pacer {
            Some(pacer) => pacer.spend(n),
            None => self.sent_before_hello += n,
        }
    }

    fn join(&mut self, now: i64) -> ClientMsg {
        self.membership.join_sent(now);
        self.spend(1);
        self.join_msg()
    }

    fn join_msg(&self) -> ClientMsg {
        let claim = self.username.as_ref().and(self.claim.clone());
        let since = self.cursor.since();
        let from = since.and(self.cursor.first());
        ClientMsg::Join { room: self.room.clone(), username: self.username.clone(), since, claim, from }
    }

    fn post_msg(&self, entry: OutboxEntry) -> ClientMsg {
        ClientMsg::Post { room: self.room.clone(), text: entry.text, client_id: entry.client_id }
    }
}
