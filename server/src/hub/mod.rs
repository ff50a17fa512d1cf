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
//! A connection's membership is a [`Member`], made by [`Hub::connect`]: joins, posts, typing
//! and leaves go through it as single values ([`JoinRequest`], [`NewPost`]), and dropping it
//! is the disconnect. Only the hub knows which rooms a connection is in and under what name.
//!
//! On a node of a cluster the hub publishes what it stores and hears the other nodes' posts;
//! every post, its own too, then goes out in seq order as `cluster::order` releases it.
//!
//! - `mod.rs` — the handle, its commands and the values they carry.
//! - `member.rs` — one connection's membership: what it may ask, and its drop (the
//!   disconnect); a join waiting for its history (`PendingJoin`).
//! - `task.rs` — the actor: its loop, joins, broadcast, departures.
//! - `posts.rs` — batched posts: stored in one transaction, then broadcast or released.
//! - `deletions.rs` — a post deleted by its author: erased in the store, then every member
//!   told (on every node).
//! - `cluster.rs` — the actor on a node of a cluster: the bus, gap and heads reads done in
//!   tasks of their own, acks held until their post went out here.
//! - `elsewhere.rs` — presence on a node of a cluster: who is here, told to the others;
//!   who is elsewhere, kept from what they tell.
//! - `connections.rs` — which rooms each connection is in (so a departure never scans every
//!   room), and its join rate.
//! - `delivery.rs` — queueing a frame for one member (or holding it while it reads its
//!   history); splicing a joiner's history into its `joined`.
//! - `room.rs` — a room's members and people, and who came or went since last announced.
//! - `presence.rs` — a room's announcements (`impl Room`): when its changes may go out, and
//!   the frame each member gets; which rooms are held back.
//! - `occupancy.rs` — people per room, kept by the hub, read by the directory and
//!   `/metrics` without a round trip.
//! - `tests.rs` — membership through `Member`: a drop leaves every room, the hub refuses
//!   what a connection not in the room asks, the room limit.

mod cluster;
mod connections;
mod deletions;
mod delivery;
mod elsewhere;
mod member;
mod occupancy;
mod posts;
mod presence;
mod room;
mod task;
#[cfg(test)]
mod tests;

pub use cluster::{ClusterLink, ALL_ROOMS_MAX};
pub use connections::JOINS_PER_SEC;
pub use deletions::Removal;
pub use member::{Member, PendingJoin};
pub use occupancy::Occupancy;

use crate::claims::ClaimId;
use crate::metrics::Metrics;
use crate::queue::ClientHandle;
use crate::store::{Store, StoreError};
use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::Post;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Identifies one connection (WebSocket, SSE or long-poll session) for the life of the
/// process.
pub type ConnId = u64;

/// A join as a connection asks for it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub room: RoomName,
    /// The name to be known by in the room, `None` to watch; a join of a room the connection
    /// is in renames it (or makes it a watcher, or a watcher a poster).
    pub username: Option<Username>,
    /// Replay the posts after this seq; `None` asks for the latest page (or, in a room the
    /// connection is in already, for nothing: a rename).
    pub since: Option<u64>,
    /// With `since`: the oldest seq the client holds, to be told which of `from..=since`
    /// were deleted.
    pub from: Option<u64>,
    /// The claim checked for `username` (`None` to watch): its posts carry its fingerprint.
    pub claim: Option<ClaimId>,
}

/// A post as a connection sends it; the hub adds the name the connection joined the room
/// under.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub room: RoomName,
    pub client_id: ClientId,
    pub text: PostText,
}

/// What a `joined` reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// The latest page.
    Latest,
    /// Every post after `since`, if few enough, and the deletions among `from..=since`; else
    /// the latest page, marked `truncated`.
    Since { since: u64, from: Option<u64> },
    /// Nothing: the connection is in the room already and has every post since.
    None,
}

/// Commands waiting for the hub; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

/// Longest a stopping node waits for its goodbye to reach Redis.
pub const GOODBYE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

enum Command {
    /// Adds a member (or renames it); with `History::None` it is live at once, else it waits
    /// for `CaughtUp`. Answers with the history its `joined` is to carry.
    Join {
        conn: ConnId,
        request: JoinRequest,
        client: ClientHandle,
        /// Rooms this connection may be in at once.
        max_rooms: usize,
        reply: oneshot::Sender<Result<History, HubError>>,
    },
    /// A joiner's history, read after its registration: send `joined`, then what was held.
    CaughtUp {
        conn: ConnId,
        room: RoomName,
        /// The history as a JSON array, encoded by the joiner: a replay can be 400 KB.
        history: String,
        /// Seqs of deleted posts the joiner may hold or would otherwise miss.
        deleted: Vec<u64>,
        truncated: bool,
        /// Posts up to this seq are in the history or were asked not to be replayed.
        fence: u64,
    },
    /// Answers `NotJoined` if the connection was not in the room.
    Leave {
        conn: ConnId,
        room: RoomName,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    /// Answers `NotJoined` if the connection is not in the room.
    Typing {
        conn: ConnId,
        room: RoomName,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    /// The connection is gone: it leaves every room it is in.
    Disconnect {
        conn: ConnId,
    },
    Post(PostRequest),
    /// Deletes a post of a room the connection is in, if it wrote it (any post, for a
    /// moderator).
    Delete {
        conn: ConnId,
        room: RoomName,
        seq: u64,
        /// The moderator the connection signed in as: any post, in any room.
        moderator: Option<String>,
        reply: oneshot::Sender<Result<Removal, HubError>>,
    },
    MemberCounts {
        reply: oneshot::Sender<HashMap<RoomName, u32>>,
    },
    /// The node is stopping (its sockets are closed): tell the other nodes, then stay quiet.
    Goodbye {
        reply: oneshot::Sender<()>,
    },
}

/// A post waiting to be stored and broadcast, and who to tell.
struct PostRequest {
    conn: ConnId,
    post: NewPost,
    /// When the connection handed it over: its delivery latency counts from here.
    received: tokio::time::Instant,
    reply: oneshot::Sender<Result<Post, HubError>>,
}

/// The hub's answer to a command it has taken, ready once it has handled it: a post is
/// stored, a leave or a typing notice is done.
#[must_use = "the answer says whether the hub did it"]
pub struct Answer<T>(oneshot::Receiver<Result<T, HubError>>);

impl<T> Answer<T> {
    pub async fn into_result(self) -> Result<T, HubError> {
        self.0.await.map_err(|_| HubError::Stopped)?
    }
}

/// Why the hub did not do what a connection asked.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the hub has stopped")]
    Stopped,
    #[error("the connection is not in that room")]
    NotJoined,
    #[error("this connection watches without a name: join with a username to post or type")]
    NameRequired,
    #[error("a connection may be in at most {max} rooms at once")]
    TooManyRooms { max: usize },
    #[error("too many joins on this connection")]
    TooManyJoins,
    #[error("only its author (joined under the claim that wrote it) may delete a post")]
    NotAllowed,
    #[error("the room has no post {seq}")]
    NoSuchPost { seq: u64 },
    /// A post sent again whose first copy was stored as `seq` and deleted since.
    #[error("the post was stored as {seq} and has been deleted")]
    Removed { seq: u64 },
}

/// A cloneable handle on the hub task. The task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Hub {
    commands: mpsc::Sender<Command>,
    /// Joiners read their history through it, outside the hub.
    store: Store,
    /// People per room, kept by the hub task as they come and go.
    occupancy: Occupancy,
    /// The next connection's id.
    next_conn: Arc<AtomicU64>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hub::Command")
    }
}

impl Hub {
    /// The hub of a node on its own.
    pub fn spawn(store: Store, metrics: Metrics) -> Self {
        Self::start(store, metrics, None)
    }

    /// The hub of a node of a cluster: it shares posts and typing with the other nodes over
    /// `link`'s bus.
    pub fn spawn_clustered(store: Store, metrics: Metrics, link: ClusterLink) -> Self {
        Self::start(store, metrics, Some(cluster::Clustered::new(link)))
    }

    fn start(store: Store, metrics: Metrics, cluster: Option<cluster::Clustered>) -> Self {
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let occupancy = Occupancy::default();
        tokio::spawn(task::HubTask::new(store.clone(), metrics, occupancy.clone(), cluster).run(rx));
        Self { commands, store, occupancy, next_conn: Arc::new(AtomicU64::new(1)) }
    }

    /// A new connection's membership, in no room yet: broadcasts reach it through `client`.
    /// It may be in at most `max_rooms` rooms at once. Dropping it leaves them all.
    pub fn connect(&self, client: ClientHandle, max_rooms: usize) -> Member {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        Member::new(self.clone(), conn, client, max_rooms)
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

    /// In a cluster, tells the other nodes this node is stopping, so its people leave their
    /// lists at once; waits (at most [`GOODBYE_WAIT`]) until Redis has it. Nothing on one node.
    pub async fn goodbye(&self) {
        let (reply, said) = oneshot::channel();
        if self.send(Command::Goodbye { reply }).await.is_ok() {
            let _ = tokio::time::timeout(GOODBYE_WAIT, said).await;
        }
    }

    async fn send(&self, command: Command) -> Result<(), HubError> {
        self.commands.send(command).await.map_err(|_| HubError::Stopped)
    }

    /// Sends a command that answers, and hands back its answer to await later.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, HubError>>) -> Command,
    ) -> Result<Answer<T>, HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(command(reply)).await?;
        Ok(Answer(rx))
    }
}
