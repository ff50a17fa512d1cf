//! The hub's actor: owns every room, stores posts in batches, broadcasts them in order.

use super::cluster::{self, Clustered};
use super::connections::Connections;
use super::delivery::{queue_to, with_history, Kind};
use super::occupancy::Occupancy;
use super::presence::Held;
use super::room::Room;
use super::{Command, ConnId, History, HubError, JoinRequest};
use crate::claims::ClaimId;
use crate::cluster::bus::BusBody;
use crate::frame::Frame;
use crate::metrics::Metrics;
use crate::queue::ClientHandle;
use crate::store::Store;
use app::domain::{RoomName, Username};
use app::protocol::{encode_server, Post, ServerMsg, TYPING_RELAY_MIN_MS};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most posts stored in one transaction. Bounds how long one commit holds up everything else
/// the hub does (joins, typing) while still sharing each fsync among many posts.
const MAX_BATCH: usize = 1024;

const TYPING_RELAY_MIN: Duration = Duration::from_millis(TYPING_RELAY_MIN_MS);

pub(super) struct HubTask {
    pub(super) store: Store,
    pub(super) metrics: Metrics,
    pub(super) rooms: HashMap<RoomName, Room>,
    /// The rooms each connection is in: a connection is a member of a room here exactly when
    /// the room is among its rooms there.
    connections: Connections,
    /// Rooms with presence changes held back because their last announcement was recent.
    held: Held,
    /// People per room, updated whenever someone arrives or leaves.
    occupancy: Occupancy,
    /// On a node of a cluster: the bus and the order posts go out in.
    pub(super) cluster: Option<Clustered>,
}

impl HubTask {
    pub(super) fn new(store: Store, metrics: Metrics, occupancy: Occupancy, cluster: Option<Clustered>) -> Self {
        Self {
            cluster,
            store,
            metrics,
            rooms: HashMap::new(),
            connections: Connections::default(),
            held: Held::default(),
            occupancy,
        }
    }

    /// Publishes the room's count of people on every node (0 once it is gone).
    pub(super) fn recount(&self, room: &RoomName) {
        self.occupancy.set(room, self.people_in(room));
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
                    wake = cluster::wake(&mut self.cluster) => {
                        self.on_wake(wake);
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
            Command::Join { conn, request, client, max_rooms, reply } => {
                let _ = reply.send(self.join(conn, request, client, max_rooms));
            }
            Command::CaughtUp { conn, room, history, deleted, truncated, fence } => {
                self.caught_up(conn, &room, history, deleted, truncated, fence)
            }
            Command::Delete { conn, room, seq, moderator, reply } => {
                let answer = self.delete(conn, &room, seq, moderator).await;
                let _ = reply.send(answer);
            }
            Command::Leave { conn, room, reply } => {
                let answer = if self.connections.is_in(conn, &room) { Ok(()) } else { Err(HubError::NotJoined) };
                self.remove(conn, &room);
                let _ = reply.send(answer);
            }
            Command::Typing { conn, room, reply } => {
                let _ = reply.send(self.typing(conn, room));
            }
            Command::Disconnect { conn } => {
                for room in self.connections.remove(conn) {
                    self.remove(conn, &room);
                }
            }
            Command::Post(request) => self.post_batch(vec![request]).await,
            Command::MemberCounts { reply } => {
                let _ = reply.send(self.occupancy.all());
            }
            Command::Goodbye { reply } => self.goodbye(reply),
        }
    }

    /// Registers a member, and answers what history its `joined` carries. With history to
    /// read it is held (nothing is sent to it) until its `CaughtUp`; a rename
    /// (`History::None`) is live at once with an empty `joined`.
    #[tracing::instrument(level = "debug", skip_all, fields(conn = conn))]
    fn join(
        &mut self,
        conn: ConnId,
        request: JoinRequest,
        client: ClientHandle,
        max_rooms: usize,
    ) -> Result<History, HubError> {
        let JoinRequest { room, username, since, claim, from } = request;
        // Already in the room: it has every post since it joined, so a rename replays
        // nothing; a re-join with `since` is a client repairing a gap it saw, and replays
        // like any join (counted by the join limit).
        let already = self.connections.is_in(conn, &room);
        let history = match (already, since) {
            (_, Some(since)) => History::Since { since, from },
            (true, None) => History::None,
            (false, None) => History::Latest,
        };
        if !already && self.connections.room_count(conn) >= max_rooms {
            return Err(HubError::TooManyRooms { max: max_rooms });
        }
        if history != History::None && !self.connections.take_join(conn) {
            return Err(HubError::TooManyJoins);
        }
        self.register(conn, room, (username, claim), history, client);
        Ok(history)
    }

    fn register(
        &mut self,
        conn: ConnId,
        room: RoomName,
        (username, claim): (Option<Username>, Option<ClaimId>),
        history: History,
        client: ClientHandle,
    ) {
        self.connections.joined(conn, room.clone());
        if let Some(cluster) = self.cluster.as_mut() {
            cluster.order.follow(&room);
        }
        if !self.rooms.contains_key(&room) {
            self.rooms.insert(room.clone(), Room::default());
            self.seed_elsewhere(&room);
        }
        let entry = self.rooms.entry(room.clone()).or_default();
        // A second join of the same room (a new name, watching, or a resync) replaces the
        // first: the old identity's departure and the new one's arrival go out together.
        // What its earlier `joined` held stays held: posts it has must not come twice.
        let fence = entry.members.get(&conn).map_or(0, |m| m.fence);
        let departed = entry.take(conn);
        let arrived = entry.add(conn, username, claim, client, history != History::None);
        if let Some(member) = entry.members.get_mut(&conn) {
            member.fence = fence;
        }
        if history == History::None {
            self.caught_up(conn, &room, "[]".into(), Vec::new(), false, 0);
        }
        if departed || arrived {
            self.presence_changed(&room);
            self.recount(&room);
        }
        self.here_changed(&room);
    }

    /// Relays that a member is typing to the room's other members, at most once per
    /// [`TYPING_RELAY_MIN`]; `NotJoined` if the connection is not in the room, `NameRequired`
    /// if it watches.
    fn typing(&mut self, conn: ConnId, room: RoomName) -> Result<(), HubError> {
        let member = self.rooms.get_mut(&room).and_then(|r| r.members.get_mut(&conn)).ok_or(HubError::NotJoined)?;
        let username = member.username.clone().ok_or(HubError::NameRequired)?;
        let now = Instant::now();
        if member.last_typing.is_some_and(|last| now.duration_since(last) < TYPING_RELAY_MIN) {
            return Ok(());
        }
        member.last_typing = Some(now);
        if let Some(cluster) = &self.cluster {
            cluster.publish(BusBody::Typing { room: room.clone(), username: username.clone() });
        }
        self.broadcast(&room, &ServerMsg::Typing { room: room.clone(), username }, Kind::Passing, Some(conn));
        Ok(())
    }

    /// Sends a held member its `joined`, then the posts broadcast since it registered that
    /// its history does not have (seq above `fence`), and makes it live.
    #[tracing::instrument(level = "debug", skip_all, fields(conn = conn, bytes = history.len()))]
    fn caught_up(
        &mut self,
        conn: ConnId,
        room: &RoomName,
        history: String,
        deleted: Vec<u64>,
        truncated: bool,
        fence: u64,
    ) {
        let Some(entry) = self.rooms.get_mut(room) else { return };
        let seen = entry.change_count();
        let present = entry.present();
        let (members, watching) = (entry.count(), entry.watching());
        let Some(member) = entry.members.get_mut(&conn) else { return };
        let held = member.held.take().unwrap_or_default();
        member.seen = seen;
        member.fence = member.fence.max(fence);
        let history = with_history(
            &encode_server(&ServerMsg::Joined {
                room: room.clone(),
                history: Vec::new(),
                members,
                present,
                watching,
                truncated,
                deleted,
            }),
            &history,
        );
        let mut failed = Vec::new();
        if queue_to(&self.metrics, conn, member, Frame::shared(history), Kind::Passing, &mut failed) {
            for (kind, frame) in held {
                // A post its history has (up to `fence`) is skipped, a deletion never is.
                queue_to(&self.metrics, conn, member, frame, kind, &mut failed);
                if !failed.is_empty() {
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

    /// Encodes once and queues the same bytes for every member (but `except`); returns how
    /// many got it. Posts and deletions are held for members still reading their history
    /// ([`Kind`]); other messages skip them (their `joined` will show the room as it is
    /// then). Members whose queue is full leave the room (their connection closes itself
    /// with SLOW_CONSUMER).
    pub(super) fn broadcast(&mut self, room: &RoomName, msg: &ServerMsg, kind: Kind, except: Option<ConnId>) -> u64 {
        self.broadcast_frame(room, Frame::from(encode_server(msg)), kind, except)
    }

    /// Broadcasts a stored post; one `received` here (not a retry, not another node's) is
    /// timed until its last member's writer has flushed it.
    pub(super) fn broadcast_post(&mut self, post: &Post, received: Option<Instant>) -> u64 {
        let json = encode_server(&ServerMsg::Post(post.clone()));
        let frame = match received {
            Some(received) => Frame::timed(json, self.metrics.written_clock(received.into_std())),
            None => Frame::from(json),
        };
        self.broadcast_frame(&post.room, frame, Kind::Post(post.seq), None)
    }

    fn broadcast_frame(&mut self, room: &RoomName, frame: Frame, kind: Kind, except: Option<ConnId>) -> u64 {
        let Some(entry) = self.rooms.get_mut(room) else { return 0 };
        let frame = Arc::new(frame);
        let mut failed = Vec::new();
        let mut queued = 0;
        for (conn, member) in entry.members.iter_mut().filter(|(conn, _)| Some(**conn) != except) {
            if queue_to(&self.metrics, *conn, member, Arc::clone(&frame), kind, &mut failed) {
                queued += 1;
            }
        }
        if !failed.is_empty() {
            self.drop_members(room, failed);
        }
        queued
    }

    /// Someone arrived in or left `room`: announce it now, or hold it for the next round.
    pub(super) fn presence_changed(&mut self, room: &RoomName) {
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
                queue_to(&self.metrics, *conn, member, frame, Kind::Passing, &mut failed);
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
        for conn in &leaving {
            self.connections.left(*conn, room);
        }
        let departed = leaving.into_iter().filter(|conn| entry.take(*conn)).count();
        if entry.members.is_empty() {
            self.rooms.remove(room);
            self.held.forget(room);
            self.recount(room);
            self.unfollow(room);
        } else if departed > 0 {
            self.presence_changed(room);
            self.recount(room);
        }
        self.here_changed(room);
    }
}
