//! The hub's actor: owns every room, stores posts in batches, broadcasts them in order.

use super::occupancy::Occupancy;
use super::presence::Held;
use super::room::{Member, Room};
use super::{Command, ConnId, History, PostRequest};
use crate::metrics::Metrics;
use crate::queue::{ClientHandle, Delivery, Outbound};
use crate::store::{Inserted, NewPost, Store, StoreError};
use app::domain::{RoomName, Username};
use app::protocol::{encode_server, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most posts stored in one transaction. Bounds how long one commit holds up everything else
/// the hub does (joins, typing) while still sharing each fsync among many posts.
const MAX_BATCH: usize = 1024;

/// Posts held for one member while it reads its history; past it the member is closed as a
/// slow consumer (it would have overflowed its queue anyway).
const HELD_MAX: usize = 1024;

pub(super) struct HubTask {
    store: Store,
    metrics: Metrics,
    rooms: HashMap<RoomName, Room>,
    /// Rooms with presence changes held back because their last announcement was recent.
    held: Held,
    /// People per room, updated whenever someone arrives or leaves.
    occupancy: Occupancy,
}

impl HubTask {
    pub(super) fn new(store: Store, metrics: Metrics, occupancy: Occupancy) -> Self {
        Self { store, metrics, rooms: HashMap::new(), held: Held::default(), occupancy }
    }

    /// Publishes the room's count of people (0 once it is gone).
    fn recount(&self, room: &RoomName) {
        self.occupancy.set(room, self.rooms.get(room).map_or(0, Room::count));
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut carried = None;
        loop {
            let command = match carried.take() {
                Some(command) => command,
                None => tokio::select! {
                    command = rx.recv() => match command {
                        Some(command) => command,
                        None => break,
                    },
                    () = self.held.due() => {
                        for room in self.held.take() {
                            self.announce(&room);
                        }
                        continue;
                    }
                },
            };
            if let Command::Post(first) = command {
                // Whatever posts are already waiting share this transaction. A command of
                // another kind ends the batch and is handled right after it, so order holds.
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Command::Post(post)) => batch.push(post),
                        Ok(other) => {
                            carried = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                self.post_batch(batch).await;
            } else {
                self.handle(command).await;
            }
        }
        tracing::debug!("hub stopped");
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Join { conn, room, username, history, client, reply } => {
                self.join(conn, room, username, history, client);
                let _ = reply.send(());
            }
            Command::CaughtUp { conn, room, history, truncated, fence } => {
                self.caught_up(conn, &room, history, truncated, fence)
            }
            Command::Leave { conn, room } => self.remove(conn, &room),
            Command::Typing { conn, room } => {
                let username = self.rooms.get(&room).and_then(|r| r.members.get(&conn)).map(|m| m.username.clone());
                if let Some(username) = username {
                    self.broadcast(&room, &ServerMsg::Typing { room: room.clone(), username }, None, Some(conn));
                }
            }
            Command::Disconnect { conn, rooms } => {
                for room in rooms {
                    self.remove(conn, &room);
                }
            }
            Command::Post(request) => self.post_batch(vec![request]).await,
            Command::MemberCounts { reply } => {
                let _ = reply.send(self.occupancy.all());
            }
        }
    }

    /// Registers a member. With history to read it is held (nothing is sent to it) until its
    /// `CaughtUp`; a rename (`History::None`) is live at once with an empty `joined`.
    #[tracing::instrument(level = "debug", skip_all, fields(conn = conn))]
    fn join(&mut self, conn: ConnId, room: RoomName, username: Username, history: History, client: ClientHandle) {
        // A second join of the same room (a new name) replaces the first.
        self.remove(conn, &room);
        let entry = self.rooms.entry(room.clone()).or_default();
        let arrived = entry.add(conn, username, client, history != History::None);
        if history == History::None {
            self.caught_up(conn, &room, "[]".into(), false, 0);
        }
        if arrived {
            self.presence_changed(&room);
            self.recount(&room);
        }
    }

    /// Sends a held member its `joined`, then the posts broadcast since it registered that
    /// its history does not have (seq above `fence`), and makes it live.
    #[tracing::instrument(level = "debug", skip_all, fields(conn = conn, bytes = history.len()))]
    fn caught_up(&mut self, conn: ConnId, room: &RoomName, history: String, truncated: bool, fence: u64) {
        let Some(entry) = self.rooms.get_mut(room) else { return };
        let seen = entry.change_count();
        let present = entry.people.keys().cloned().collect();
        let members = entry.count();
        let Some(member) = entry.members.get_mut(&conn) else { return };
        let held = member.held.take().unwrap_or_default();
        member.seen = seen;
        let joined = ServerMsg::Joined { room: room.clone(), history: Vec::new(), members, present, truncated };
        let mut failed = Vec::new();
        let joined = Arc::new(Utf8Bytes::from(with_history(&encode_server(&joined), &history)));
        if queue_to(&self.metrics, conn, member, joined, None, &mut failed) {
            for (seq, frame) in held.into_iter().filter(|(seq, _)| *seq > fence) {
                if !queue_to(&self.metrics, conn, member, frame, Some(seq), &mut failed) {
                    break;
                }
            }
        }
        if !failed.is_empty() {
            self.drop_members(room, failed);
        }
    }

    fn remove(&mut self, conn: ConnId, room: &RoomName) {
        self.drop_members(room, vec![conn]);
    }

    /// Stores the batch in one transaction, then broadcasts each new post and answers each
    /// sender, in arrival order. A failed transaction fails every post in it: none is stored.
    #[tracing::instrument(level = "debug", skip_all, fields(posts = batch.len()))]
    async fn post_batch(&mut self, batch: Vec<PostRequest>) {
        let received = Instant::now();
        let (posts, replies): (Vec<NewPost>, Vec<_>) = batch.into_iter().map(|r| (r.post, r.reply)).unzip();
        let stored = match self.store.insert_posts(&posts).await {
            Ok(stored) => {
                self.metrics.committed();
                stored
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Batch(message.clone())));
                }
                return;
            }
        };
        for (inserted, reply) in stored.into_iter().zip(replies) {
            let post = match inserted {
                Inserted::New(post) => {
                    self.metrics.post_stored();
                    let queued =
                        self.broadcast(&post.room.clone(), &ServerMsg::Post(post.clone()), Some(post.seq), None);
                    self.metrics.delivered(queued, received.elapsed().as_secs_f64());
                    post
                }
                Inserted::Duplicate(post) => post,
            };
            let _ = reply.send(Ok(post));
        }
    }

    /// Encodes once and queues the same bytes for every member (but `except`); returns how
    /// many got it. A post (`seq`) is held for members still reading their history; other
    /// messages skip them (their `joined` will show the room as it is then). Members whose
    /// queue is full leave the room (their connection closes itself with SLOW_CONSUMER).
    fn broadcast(&mut self, room: &RoomName, msg: &ServerMsg, seq: Option<u64>, except: Option<ConnId>) -> u64 {
        let Some(entry) = self.rooms.get_mut(room) else { return 0 };
        let frame = Arc::new(Utf8Bytes::from(encode_server(msg)));
        let mut failed = Vec::new();
        let mut queued = 0;
        for (conn, member) in entry.members.iter_mut().filter(|(conn, _)| Some(**conn) != except) {
            if queue_to(&self.metrics, *conn, member, Arc::clone(&frame), seq, &mut failed) {
                queued += 1;
            }
        }
        if !failed.is_empty() {
            self.drop_members(room, failed);
        }
        queued
    }

    /// Someone arrived in or left `room`: announce it now, or hold it for the next round.
    fn presence_changed(&mut self, room: &RoomName) {
        let Some(entry) = self.rooms.get(room) else { return };
        match entry.presence_held_until(Instant::now()) {
            Some(due) => self.held.hold(room.clone(), due),
            None => self.announce(room),
        }
    }

    /// Tells every member what changed since the last announcement; a member who joined
    /// since then hears only the changes after its `joined`. Members whose queue is full
    /// leave the room, and are announced in turn next time.
    fn announce(&mut self, room: &RoomName) {
        let Some(entry) = self.rooms.get_mut(room) else { return };
        let Some(mut announcement) = entry.take_announcement(room) else { return };
        let mut failed = Vec::new();
        for (conn, member) in entry.members.iter_mut() {
            if let Some(frame) = announcement.frame_for(member.seen) {
                queue_to(&self.metrics, *conn, member, frame, None, &mut failed);
            }
        }
        self.metrics.presence_encoded(announcement.bytes());
        if !failed.is_empty() {
            self.drop_members(room, failed);
        }
    }

    /// Removes connections from a room; the people who left are announced with the room's
    /// next `presence`.
    fn drop_members(&mut self, room: &RoomName, leaving: Vec<ConnId>) {
        let Some(entry) = self.rooms.get_mut(room) else { return };
        let departed = leaving.into_iter().filter(|conn| entry.take(*conn)).count();
        if entry.members.is_empty() {
            self.rooms.remove(room);
            self.held.forget(room);
            self.recount(room);
        } else if departed > 0 {
            self.presence_changed(room);
            self.recount(room);
        }
    }
}

/// Queues `frame` for one member, or holds it while the member reads its history (posts
/// only: `seq`); true if it took it. A member whose queue is full, whose held posts pass
/// [`HELD_MAX`] (it is counted and closes itself) or whose connection is gone is added to
/// `failed`.
fn queue_to(
    metrics: &Metrics,
    conn: ConnId,
    member: &mut Member,
    frame: Arc<Utf8Bytes>,
    seq: Option<u64>,
    failed: &mut Vec<ConnId>,
) -> bool {
    if let Some(held) = member.held.as_mut() {
        let Some(seq) = seq else { return false };
        if held.len() < HELD_MAX {
            held.push((seq, frame));
            return true;
        }
        member.client.give_up();
        metrics.overflowed();
        failed.push(conn);
        return false;
    }
    match member.client.deliver(Outbound::Text(frame)) {
        Delivery::Queued => return true,
        Delivery::Overflowed => metrics.overflowed(),
        Delivery::Gone => {}
    }
    failed.push(conn);
    false
}

/// A `joined` frame encoded with an empty history, with `history` (a JSON array) put in its
/// place: the hub encodes the small part, the joiner already encoded the large one. The
/// first `"history":[]` is the field: `room` comes before it and cannot hold a quote, and
/// quotes inside the names after it are escaped.
fn with_history(joined: &str, history: &str) -> String {
    joined.replacen(r#""history":[]"#, &format!(r#""history":{history}"#), 1)
}

#[cfg(test)]
mod tests {
    use super::with_history;
    use app::protocol::{encode_server, Post, ServerMsg};

    #[test]
    fn a_spliced_joined_is_the_joined_encoded_whole() {
        let post: Post = serde_json::from_str(
            r#"{"room":"lobby","seq":7,"client_id":"c","username":"\"history\":[]","text":"hi","ts":1}"#,
        )
        .unwrap();
        let joined = |history| ServerMsg::Joined {
            room: "lobby".parse().unwrap(),
            history,
            members: 1,
            present: vec![post.username.clone()],
            truncated: false,
        };
        let history = serde_json::to_string(&vec![post.clone()]).unwrap();
        let spliced = with_history(&encode_server(&joined(Vec::new())), &history);
        assert_eq!(spliced, encode_server(&joined(vec![post.clone()])));
    }
}
