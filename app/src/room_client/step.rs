//! What the room client hands its driver: a [`Step`] per input (messages to send, [`Event`]s
//! to show, whether to reconnect), and the [`ConnState`] a driver shows for its connection.

use super::OutboxEntry;
use crate::domain::{ClaimSecret, ClientId, Fingerprint, Username};
use crate::protocol::{ClientMsg, ErrorCode, Post};

/// The state of a client's connection, as a badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Not connected yet (also what the server renders).
    Connecting,
    /// Joined and receiving posts over this transport (`ws`, `sse`, `longpoll`).
    Live { transport: &'static str },
    /// Lost; the next attempt starts in `retry_in_s` seconds.
    Reconnecting { retry_in_s: u32 },
}

/// What the client learnt, for the driver to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The room answered the join: posts flow.
    Live,
    /// Posts not held before, in the order they came (a post past a gap comes before the gap
    /// is filled). Each seq comes once.
    Posts(Vec<Post>),
    /// Who is here now, how many watch without a name, and who arrived or left since the
    /// last [`Event::Presence`] (each a real change; empty after a `joined`, which sets the
    /// list afresh).
    Presence {
        present: Vec<Username>,
        watching: u32,
        arrived: Vec<Username>,
        left: Vec<Username>,
    },
    Typing(Username),
    /// These posts were deleted: show them as removed (a seq may be one never shown, or
    /// one already shown as removed).
    Deleted(Vec<u64>),
    /// The connection is signed in as this moderator: it may delete any post, and block.
    Moderating(Username),
    /// The author of post `seq` may not post until `until_ms`.
    AuthorBlocked {
        seq: u64,
        until_ms: i64,
    },
    /// The posts waiting to be stored changed (one was written, stored or refused).
    Outbox(Vec<OutboxEntry>),
    /// The server stored one of this client's posts.
    Stored {
        client_id: ClientId,
        seq: u64,
    },
    /// The server turned a post away for now (`rate_limited`, `internal`, `not_joined`); the
    /// client sends it again by itself.
    Delayed {
        client_id: ClientId,
        code: ErrorCode,
        message: String,
    },
    /// The server will never store this post as it is.
    Refused {
        post: OutboxEntry,
        code: ErrorCode,
        message: String,
    },
    /// The server refused something that was not a post (a join, a `typing`).
    Notice {
        code: ErrorCode,
        message: String,
    },
    /// The server issued this client's name to it: keep `claim` (and pass it to
    /// [`super::RoomClient::with_claim`] next time) to join under the name again.
    Claimed {
        username: Username,
        claim: ClaimSecret,
        fingerprint: Fingerprint,
    },
    /// Someone else holds this name: the client now watches; ask the user for another.
    NameTaken(Username),
    /// More was missed than a join replays: the join brought the room's latest page instead,
    /// so below it there is a hole that only reading the history again fills.
    HistoryTruncated,
}

/// What the driver must do after one input.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Step {
    /// Messages to send now, in order.
    pub send: Vec<ClientMsg>,
    pub events: Vec<Event>,
    /// The connection is of no more use: drop it and reconnect after the backoff delay.
    pub reconnect: bool,
}
