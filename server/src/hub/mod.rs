//! The hub: one task owns every room and its members; a cloneable [`Hub`] sends it commands.
//!
//! Posts are stored by the hub itself, then broadcast: so every member of a room sees posts
//! in seq order. Posts already waiting when the hub gets to one are stored together in one
//! transaction (group commit), still in arrival order.
//!
//! A join never makes the hub wait on the store. The hub registers the member at once and
//! holds the posts broadcast to it from then on; the joiner reads its history itself, then
//! hands it back ([`PendingJoin::complete`]): the hub sends `joined`, then the held posts
//! newer than the history. Every post was either stored before the registration (so the
//! joiner's read finds it) or broadcast after it (so it was held): no gap, no duplicate.
//!
//! - `mod.rs` — the handle and its commands.
//! - `task.rs` — the actor: its loop, joins, batched posts, broadcast, departures.
//! - `room.rs` — a room's members and people, and who came or went since last announced.
//! - `presence.rs` — a room's announcements (`impl Room`): when its changes may go out, and
//!   the frame each member gets; which rooms are held back.
//! - `occupancy.rs` — people per room, kept by the hub, read by the directory and
//!   `/metrics` without a round trip.

mod occupancy;
mod presence;
mod room;
mod task;

pub use occupancy::Occupancy;

use crate::metrics::Metrics;
use crate::queue::ClientHandle;
use crate::store::{NewPost, Store, StoreError};
use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::{Post, HISTORY_PAGE, REPLAY_LIMIT};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// What a `joined` reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// The latest page.
    Latest,
    /// Every post after this seq, if few enough; else the latest page, marked `truncated`.
    Since(u64),
    /// Nothing: the connection is in the room already and has every post since.
    None,
}

/// Most bytes of posts (text and names) a `joined` replays; past it the client gets the
/// latest page, marked `truncated`, and pages back itself. With the latest page (50 posts of
/// at most 8 KB) a `joined` stays well under the default `--queue-bytes`.
const REPLAY_BYTES: usize = 256 * 1024;

/// Commands waiting for the hub; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

enum Command {
    /// Adds a member; with `History::None` it is live at once, else it waits for `CaughtUp`.
    Join {
        conn: ConnId,
        room: RoomName,
        username: Username,
        history: History,
        client: ClientHandle,
        reply: oneshot::Sender<()>,
    },
    /// A joiner's history, read after its registration: send `joined`, then what was held.
    CaughtUp {
        conn: ConnId,
        room: RoomName,
        /// The history as a JSON array, encoded by the joiner: a replay can be 400 KB.
        history: String,
        truncated: bool,
        /// Posts up to this seq are in the history or were asked not to be replayed.
        fence: u64,
    },
    Leave {
        conn: ConnId,
        room: RoomName,
    },
    Typing {
        conn: ConnId,
        room: RoomName,
    },
    /// The connection is gone: it leaves `rooms` (the ones it joined; at most
    /// `--max-rooms-per-connection`, so a departure never scans every room).
    Disconnect {
        conn: ConnId,
        rooms: Vec<RoomName>,
    },
    Post(PostRequest),
    MemberCounts {
        reply: oneshot::Sender<HashMap<RoomName, u32>>,
    },
}

/// A post waiting to be stored and broadcast, and who to tell.
struct PostRequest {
    post: NewPost,
    reply: oneshot::Sender<Result<Post, StoreError>>,
}

/// A post the hub has accepted; resolves once it is stored.
pub struct StoredPost(oneshot::Receiver<Result<Post, StoreError>>);

impl StoredPost {
    pub async fn into_result(self) -> Result<Post, HubError> {
        Ok(self.0.await.map_err(|_| HubError::Stopped)??)
    }
}

/// Why the hub could not answer.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the hub has stopped")]
    Stopped,
}

/// A cloneable handle on the hub task. The task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Hub {
    commands: mpsc::Sender<Command>,
    /// Joiners read their history through it, outside the hub.
    store: Store,
    /// People per room, kept by the hub task as they come and go.
    occupancy: Occupancy,
}

/// A member registered by [`Hub::register`] whose `joined` waits for its history.
#[must_use = "the member hears nothing until its join is completed"]
pub struct PendingJoin {
    hub: Hub,
    conn: ConnId,
    room: RoomName,
    history: History,
}

impl PendingJoin {
    /// Reads the history (in the caller's task, not the hub's) and hands it to the hub,
    /// which sends `joined` and then every post held since the registration. On a storage
    /// error the member leaves the room again.
    #[tracing::instrument(level = "debug", skip_all, fields(conn = self.conn))]
    pub async fn complete(self) -> Result<(), HubError> {
        let Self { hub, conn, room, history } = self;
        let read = match history {
            History::None => return Ok(()),
            History::Latest => hub.store.page(&room, None, HISTORY_PAGE).await.map(|(page, _)| (page, false, 0)),
            History::Since(since) => match hub.store.after_within(&room, since, REPLAY_LIMIT, REPLAY_BYTES).await {
                Ok(Some(missed)) => Ok((missed, false, since)),
                Ok(None) => hub.store.page(&room, None, HISTORY_PAGE).await.map(|(page, _)| (page, true, 0)),
                Err(e) => Err(e),
            },
        };
        match read {
            Ok((history, truncated, since)) => {
                let fence = history.last().map_or(since, |p| p.seq.max(since));
                let history = serde_json::to_string(&history).unwrap_or_else(|_| "[]".into());
                hub.send(Command::CaughtUp { conn, room, history, truncated, fence }).await
            }
            Err(e) => {
                let _ = hub.leave(conn, room).await;
                Err(e.into())
            }
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hub::Command")
    }
}

impl Hub {
    pub fn spawn(store: Store, metrics: Metrics) -> Self {
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let occupancy = Occupancy::default();
        tokio::spawn(task::HubTask::new(store.clone(), metrics, occupancy.clone()).run(rx));
        Self { commands, store, occupancy }
    }

    /// Adds the connection to the room (or renames it there). Posts broadcast from now on
    /// reach it after its `joined`, which [`PendingJoin::complete`] sends.
    pub async fn register(
        &self,
        conn: ConnId,
        room: RoomName,
        username: Username,
        history: History,
        client: ClientHandle,
    ) -> Result<PendingJoin, HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Join { conn, room: room.clone(), username, history, client, reply }).await?;
        rx.await.map_err(|_| HubError::Stopped)?;
        Ok(PendingJoin { hub: self.clone(), conn, room, history })
    }

    /// [`Hub::register`], then [`PendingJoin::complete`].
    pub async fn join(
        &self,
        conn: ConnId,
        room: RoomName,
        username: Username,
        history: History,
        client: ClientHandle,
    ) -> Result<(), HubError> {
        self.register(conn, room, username, history, client).await?.complete().await
    }

    pub async fn leave(&self, conn: ConnId, room: RoomName) -> Result<(), HubError> {
        self.send(Command::Leave { conn, room }).await
    }

    /// Tells the room's other members that this connection's user is typing.
    pub async fn typing(&self, conn: ConnId, room: RoomName) -> Result<(), HubError> {
        self.send(Command::Typing { conn, room }).await
    }

    pub async fn disconnect(&self, conn: ConnId, rooms: Vec<RoomName>) -> Result<(), HubError> {
        self.send(Command::Disconnect { conn, rooms }).await
    }

    /// Queues the post for storing (or finding the earlier one with the same client id) and,
    /// if new, broadcasting to the room. Returns once the hub has it, in order with this
    /// caller's earlier commands; the [`StoredPost`] resolves to the stored post.
    pub async fn submit_post(
        &self,
        room: RoomName,
        username: Username,
        client_id: ClientId,
        text: PostText,
    ) -> Result<StoredPost, HubError> {
        let (reply, rx) = oneshot::channel();
        let post = NewPost { room, client_id, username, text };
        self.send(Command::Post(PostRequest { post, reply })).await?;
        Ok(StoredPost(rx))
    }

    /// [`Hub::submit_post`], then waits until the post is stored.
    pub async fn post(
        &self,
        room: RoomName,
        username: Username,
        client_id: ClientId,
        text: PostText,
    ) -> Result<Post, HubError> {
        self.submit_post(room, username, client_id, text).await?.into_result().await
    }

    /// Whether the hub can take posts: `Err` says why not (its task has stopped, or the last
    /// commit failed). Cheap: no round trip to the hub.
    pub fn health(&self) -> Result<(), String> {
        if self.commands.is_closed() {
            return Err("the hub has stopped".to_owned());
        }
        match self.store.last_write_failure() {
            Some(reason) => Err(format!("last commit failed: {reason}")),
            None => Ok(()),
        }
    }

    /// People (distinct usernames) in each room that has any, kept up to date by the hub:
    /// reading it costs no round trip.
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }

    /// [`Hub::occupancy`] of every room, once the hub has handled every command sent before
    /// this one (a round trip: for tests; the server reads [`Hub::occupancy`]).
    pub async fn member_counts(&self) -> Result<HashMap<RoomName, u32>, HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::MemberCounts { reply }).await?;
        rx.await.map_err(|_| HubError::Stopped)
    }

    async fn send(&self, command: Command) -> Result<(), HubError> {
        self.commands.send(command).await.map_err(|_| HubError::Stopped)
    }
}
