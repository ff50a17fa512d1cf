//! The hub: one task owns every room and its members; a cloneable [`Hub`] sends it commands.
//!
//! Posts are stored by the hub itself, then broadcast: so every member of a room sees posts
//! in seq order, and a join's history and the live posts that follow it meet with no gap
//! and no duplicate. Posts already waiting when the hub gets to one are stored together in
//! one transaction (group commit), still in arrival order.
//!
//! - `mod.rs` — the handle and its commands.
//! - `task.rs` — the actor: its loop, joins, batched posts, broadcast, departures.
//! - `room.rs` — a room's members and people, and who came or went since last announced.
//! - `presence.rs` — announcing arrivals and departures, at most every 250 ms per room.

mod presence;
mod room;
mod task;

use crate::metrics::Metrics;
use crate::queue::ClientHandle;
use crate::store::{NewPost, Store, StoreError};
use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::Post;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// Commands waiting for the hub; senders wait when it is this far behind.
const COMMAND_QUEUE: usize = 1024;

enum Command {
    Join {
        conn: ConnId,
        room: RoomName,
        username: Username,
        since: Option<u64>,
        client: ClientHandle,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Leave {
        conn: ConnId,
        room: RoomName,
    },
    Typing {
        conn: ConnId,
        room: RoomName,
    },
    Disconnect {
        conn: ConnId,
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
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hub::Command")
    }
}

impl Hub {
    pub fn spawn(store: Store, metrics: Metrics) -> Self {
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        tokio::spawn(task::HubTask::new(store, metrics).run(rx));
        Self { commands }
    }

    /// Adds the connection to the room (or renames it there) and queues `joined` for it.
    pub async fn join(
        &self,
        conn: ConnId,
        room: RoomName,
        username: Username,
        since: Option<u64>,
        client: ClientHandle,
    ) -> Result<(), HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Join { conn, room, username, since, client, reply }).await?;
        Ok(rx.await.map_err(|_| HubError::Stopped)??)
    }

    pub async fn leave(&self, conn: ConnId, room: RoomName) -> Result<(), HubError> {
        self.send(Command::Leave { conn, room }).await
    }

    /// Tells the room's other members that this connection's user is typing.
    pub async fn typing(&self, conn: ConnId, room: RoomName) -> Result<(), HubError> {
        self.send(Command::Typing { conn, room }).await
    }

    pub async fn disconnect(&self, conn: ConnId) -> Result<(), HubError> {
        self.send(Command::Disconnect { conn }).await
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

    /// People (distinct usernames) in each room that has any.
    pub async fn member_counts(&self) -> Result<HashMap<RoomName, u32>, HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::MemberCounts { reply }).await?;
        rx.await.map_err(|_| HubError::Stopped)
    }

    async fn send(&self, command: Command) -> Result<(), HubError> {
        self.commands.send(command).await.map_err(|_| HubError::Stopped)
    }
}
