//! The hub: one task owns every room and its members; a cloneable [`Hub`] sends it commands.
//!
//! Posts are stored by the hub itself, one at a time, then broadcast: so every member of a
//! room sees posts in seq order, and a join's history and the live posts that follow it
//! meet with no gap and no duplicate.

use crate::metrics::Metrics;
use crate::queue::{ClientHandle, Delivery, Outbound};
use crate::store::{Inserted, Store, StoreError};
use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::Post;
use app::protocol::{encode_server, ServerMsg, HISTORY_PAGE, REPLAY_LIMIT};
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;
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
    Post {
        room: RoomName,
        username: Username,
        client_id: ClientId,
        text: PostText,
        reply: oneshot::Sender<Result<Post, StoreError>>,
    },
    MemberCounts {
        reply: oneshot::Sender<HashMap<RoomName, u32>>,
    },
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
        tokio::spawn(HubTask { store, metrics, rooms: HashMap::new() }.run(rx));
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

    /// Stores the post (or finds the earlier one with the same client id) and, if new,
    /// broadcasts it to the room. Returns the stored post.
    pub async fn post(
        &self,
        room: RoomName,
        username: Username,
        client_id: ClientId,
        text: PostText,
    ) -> Result<Post, HubError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Post { room, username, client_id, text, reply }).await?;
        Ok(rx.await.map_err(|_| HubError::Stopped)??)
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

struct Member {
    username: Username,
    client: ClientHandle,
}

#[derive(Default)]
struct Room {
    members: HashMap<ConnId, Member>,
    /// Connections per person: one person with three tabs is here once.
    people: BTreeMap<Username, usize>,
}

impl Room {
    fn count(&self) -> u32 {
        self.people.len() as u32
    }

    /// Adds a connection; true when its person was not here before.
    fn add(&mut self, conn: ConnId, member: Member) -> bool {
        let count = self.people.entry(member.username.clone()).or_default();
        *count += 1;
        self.members.insert(conn, member);
        *count == 1
    }

    /// Removes a connection; returns its person if that was their last connection here.
    fn take(&mut self, conn: ConnId) -> Option<Username> {
        let member = self.members.remove(&conn)?;
        let count = self.people.get_mut(&member.username)?;
        *count -= 1;
        if *count > 0 {
            return None;
        }
        self.people.remove(&member.username);
        Some(member.username)
    }
}

struct HubTask {
    store: Store,
    metrics: Metrics,
    rooms: HashMap<RoomName, Room>,
}

impl HubTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Join { conn, room, username, since, client, reply } => {
                    let _ = reply.send(self.join(conn, room, username, since, client).await);
                }
                Command::Leave { conn, room } => self.remove(conn, &room),
                Command::Typing { conn, room } => {
                    let username = self.rooms.get(&room).and_then(|r| r.members.get(&conn)).map(|m| m.username.clone());
                    if let Some(username) = username {
                        self.broadcast(&room, &ServerMsg::Typing { room: room.clone(), username }, Some(conn));
                    }
                }
                Command::Disconnect { conn } => {
                    let rooms: Vec<RoomName> = self
                        .rooms
                        .iter()
                        .filter(|(_, r)| r.members.contains_key(&conn))
                        .map(|(n, _)| n.clone())
                        .collect();
                    for room in rooms {
                        self.remove(conn, &room);
                    }
                }
                Command::Post { room, username, client_id, text, reply } => {
                    let _ = reply.send(self.post(room, username, client_id, text).await);
                }
                Command::MemberCounts { reply } => {
                    let _ = reply.send(self.rooms.iter().map(|(name, r)| (name.clone(), r.count())).collect());
                }
            }
        }
        tracing::debug!("hub stopped");
    }

    async fn join(
        &mut self,
        conn: ConnId,
        room: RoomName,
        username: Username,
        since: Option<u64>,
        client: ClientHandle,
    ) -> Result<(), StoreError> {
        let (history, truncated) = match since {
            Some(since) => {
                let missed = self.store.after(&room, since, REPLAY_LIMIT + 1).await?;
                if missed.len() > REPLAY_LIMIT as usize {
                    (self.store.page(&room, None, HISTORY_PAGE).await?.0, true)
                } else {
                    (missed, false)
                }
            }
            None => (self.store.page(&room, None, HISTORY_PAGE).await?.0, false),
        };
        // A second join of the same room (a new name) replaces the first.
        self.remove(conn, &room);
        let entry = self.rooms.entry(room.clone()).or_default();
        let arrived = entry.add(conn, Member { username: username.clone(), client: client.clone() });
        let joined = ServerMsg::Joined {
            room: room.clone(),
            history,
            members: entry.count(),
            present: entry.people.keys().cloned().collect(),
            truncated,
        };
        client.deliver(Outbound::Text(encode_server(&joined).into()));
        if arrived {
            let members = entry.count();
            self.broadcast(&room, &ServerMsg::UserJoined { room: room.clone(), username, members }, Some(conn));
        }
        Ok(())
    }

    fn remove(&mut self, conn: ConnId, room: &RoomName) {
        self.drop_members(room, vec![conn]);
    }

    async fn post(
        &mut self,
        room: RoomName,
        username: Username,
        client_id: ClientId,
        text: PostText,
    ) -> Result<Post, StoreError> {
        let received = Instant::now();
        match self.store.insert_post(&room, &client_id, &username, &text).await? {
            Inserted::New(post) => {
                self.metrics.post_stored();
                let queued = self.broadcast(&room, &ServerMsg::Post(post.clone()), None);
                self.metrics.delivered(queued, received.elapsed().as_secs_f64());
                Ok(post)
            }
            Inserted::Duplicate(post) => Ok(post),
        }
    }

    /// Encodes once and queues the same bytes for every member (but `except`); returns how
    /// many got it. Members whose queue is full leave the room (their connection closes
    /// itself with SLOW_CONSUMER).
    fn broadcast(&mut self, room: &RoomName, msg: &ServerMsg, except: Option<ConnId>) -> u64 {
        let Some(entry) = self.rooms.get(room) else { return 0 };
        let mut failed = HashSet::new();
        let queued = self.deliver_all(entry, msg, except, &mut failed);
        self.drop_members(room, failed.into_iter().collect());
        queued
    }

    /// Queues `msg` for the room's members but `except` and those already in `failed`;
    /// returns how many took it and adds to `failed` those who could not.
    fn deliver_all(&self, room: &Room, msg: &ServerMsg, except: Option<ConnId>, failed: &mut HashSet<ConnId>) -> u64 {
        let frame: Utf8Bytes = encode_server(msg).into();
        let mut queued = 0;
        for (conn, member) in room.members.iter() {
            if Some(*conn) == except || failed.contains(conn) {
                continue;
            }
            match member.client.deliver(Outbound::Text(frame.clone())) {
                Delivery::Queued => queued += 1,
                Delivery::Overflowed => {
                    self.metrics.overflowed();
                    failed.insert(*conn);
                }
                Delivery::Gone => {
                    failed.insert(*conn);
                }
            }
        }
        queued
    }

    /// Removes connections from a room and announces the people who left. Announcing can
    /// overflow more queues: those are removed in the next round. Every member fails at most
    /// once, so a mass overflow costs linear work and no recursion.
    fn drop_members(&mut self, room: &RoomName, mut leaving: Vec<ConnId>) {
        while !leaving.is_empty() {
            let Some(entry) = self.rooms.get_mut(room) else { return };
            let departed: Vec<Username> = leaving.drain(..).filter_map(|conn| entry.take(conn)).collect();
            if entry.members.is_empty() {
                self.rooms.remove(room);
                return;
            }
            let Some(entry) = self.rooms.get(room) else { return };
            let mut failed = HashSet::new();
            for username in departed {
                let left = ServerMsg::UserLeft { room: room.clone(), username, members: entry.count() };
                self.deliver_all(entry, &left, None, &mut failed);
            }
            leaving.extend(failed);
        }
    }
}
