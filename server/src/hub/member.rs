//! One connection's membership: the only way a connection joins, posts, types or leaves, and
//! its drop is the disconnect. It holds no list of rooms: the hub keeps that, once.

use super::{Answer, Command, ConnId, History, Hub, HubError, JoinRequest, NewPost, PostRequest, Removal};
use crate::queue::ClientHandle;
use crate::store::{Entries, Store, StoreError};
use app::domain::RoomName;
use app::protocol::{Post, HISTORY_PAGE, REPLAY_LIMIT};
use tokio::sync::mpsc::error::TrySendError;

/// Most bytes of posts (text and names) a `joined` replays; past it the client gets the
/// latest page, marked `truncated`, and pages back itself. With the latest page (50 posts of
/// at most 8 KB) a `joined` stays well under the default `--queue-bytes`.
const REPLAY_BYTES: usize = 256 * 1024;

/// A connection's membership, made by [`Hub::connect`]. Each method sends one command; the
/// hub handles a connection's commands in the order they were sent.
#[derive(Debug)]
pub struct Member {
    hub: Hub,
    conn: ConnId,
    /// Where the hub queues this connection's broadcasts (and where its replies go).
    client: ClientHandle,
    max_rooms: usize,
}

impl Member {
    pub(super) fn new(hub: Hub, conn: ConnId, client: ClientHandle, max_rooms: usize) -> Self {
        Self { hub, conn, client, max_rooms }
    }

    pub fn id(&self) -> ConnId {
        self.conn
    }

    /// This connection's outgoing queue.
    pub fn client(&self) -> &ClientHandle {
        &self.client
    }

    /// Joins (or renames in) a room. Once this returns the member is registered: posts
    /// broadcast from now on reach it after its `joined`, which [`PendingJoin::complete`]
    /// sends. Refused with [`HubError::TooManyRooms`] or [`HubError::TooManyJoins`].
    pub async fn join(&self, request: JoinRequest) -> Result<PendingJoin, HubError> {
        let room = request.room.clone();
        let (conn, client, max_rooms) = (self.conn, self.client.clone(), self.max_rooms);
        let answer = self.hub.ask(|reply| Command::Join { conn, request, client, max_rooms, reply }).await?;
        let history = answer.into_result().await?;
        Ok(PendingJoin { hub: self.hub.clone(), conn, room, history })
    }

    /// Queues the post for storing (or finding the earlier one with the same client id) and,
    /// if new, broadcasting to the room, under the name this connection joined it with.
    /// Returns once the hub has it; the answer is the stored post, or
    /// [`HubError::NotJoined`].
    pub async fn post(&self, post: NewPost) -> Result<Answer<Post>, HubError> {
        let (conn, received) = (self.conn, tokio::time::Instant::now());
        self.hub.ask(|reply| Command::Post(PostRequest { conn, post, received, reply })).await
    }

    /// Deletes a post of a room this connection is in, if it wrote it (under the claim it
    /// joined with), or of any room for the `moderator` it signed in as: every member is
    /// told. The answer says whether it was deleted now or before, or why not
    /// ([`HubError::NotAllowed`], [`HubError::NoSuchPost`], [`HubError::NotJoined`]).
    pub async fn delete(
        &self,
        room: RoomName,
        seq: u64,
        moderator: Option<String>,
    ) -> Result<Answer<Removal>, HubError> {
        let conn = self.conn;
        self.hub.ask(|reply| Command::Delete { conn, room, seq, moderator, reply }).await
    }

    /// Leaves a room; the answer is [`HubError::NotJoined`] if the connection was not in it.
    pub async fn leave(&self, room: RoomName) -> Result<Answer<()>, HubError> {
        let conn = self.conn;
        self.hub.ask(|reply| Command::Leave { conn, room, reply }).await
    }

    /// Tells the room's other members that this connection's user is typing (at most once
    /// per `TYPING_RELAY_MIN_MS`); the answer is [`HubError::NotJoined`] if it is not in it.
    pub async fn typing(&self, room: RoomName) -> Result<Answer<()>, HubError> {
        let conn = self.conn;
        self.hub.ask(|reply| Command::Typing { conn, room, reply }).await
    }
}

/// The disconnect: the connection leaves every room it is in. A drop cannot wait, so when
/// the hub's queue is full the departure is sent from a task of its own; either way it
/// follows every command this member sent, all of which were queued before it was dropped.
impl Drop for Member {
    fn drop(&mut self) {
        let departure = Command::Disconnect { conn: self.conn };
        if let Err(TrySendError::Full(departure)) = self.hub.commands.try_send(departure) {
            // Outside a runtime there is no hub task left to tell.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let commands = self.hub.commands.clone();
                runtime.spawn(async move {
                    let _ = commands.send(departure).await;
                });
            }
        }
    }
}

/// A member registered by [`Member::join`] whose `joined` waits for its history.
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
            History::Latest => latest(&hub.store, &room, false).await,
            History::Since { since, from } => replay(&hub.store, &room, since, from).await,
        };
        match read {
            Ok((entries, truncated, since)) => {
                let (posts, removed) = entries.into_page_posts();
                // Deleted seqs count: a post held for the joiner and deleted by the time its
                // history was read must not follow the `joined` that names it deleted.
                let newest = posts.last().map(|p| p.seq).max(removed.last().copied());
                let fence = newest.map_or(since, |seq| seq.max(since));
                // Written from the posts' kept JSON when the page came from the room's tail.
                let history = serde_json::to_string(&posts).unwrap_or_else(|_| "[]".into());
                hub.send(Command::CaughtUp { conn, room, history, deleted: removed, truncated, fence }).await
            }
            Err(e) => {
                // Whether it was still there or not, it is not now: nothing to tell anyone.
                let _ = hub.ask(|reply| Command::Leave { conn, room, reply }).await;
                Err(e.into())
            }
        }
    }
}

/// A history read: the entries, whether it is the latest page in place of a replay too long
/// (`truncated`), and the seq posts up to which need not be sent again.
type Read = (Entries, bool, u64);

/// The latest page.
async fn latest(store: &Store, room: &RoomName, truncated: bool) -> Result<Read, StoreError> {
    Ok((store.page(room, None, HISTORY_PAGE).await?.0, truncated, 0))
}

/// Every post after `since` with the deletions among them, and those among `from..=since`
/// (the posts the client holds); the latest page, `truncated`, when there are too many of
/// either.
async fn replay(store: &Store, room: &RoomName, since: u64, from: Option<u64>) -> Result<Read, StoreError> {
    let Some(mut missed) = store.after_within(room, since, REPLAY_LIMIT, REPLAY_BYTES).await? else {
        return latest(store, room, true).await;
    };
    if let Some(from) = from.filter(|from| *from <= since) {
        let Some(mut earlier) = store.removed_between(room, from, since, REPLAY_LIMIT).await? else {
            return latest(store, room, true).await;
        };
        earlier.append(&mut missed.removed);
        missed.removed = earlier;
    }
    Ok((missed, false, since))
}
