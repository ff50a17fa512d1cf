//! The hub on a node of a cluster, for presence: it tells the other nodes who is in each room
//! here (a room's people at most every [`FLUSH_EVERY`], a heartbeat every
//! [`HEARTBEAT_EVERY`]), and keeps a replica of who is where else (`cluster::presence`), so
//! `joined`, `presence` and the directory's counts cover every node. Snapshots of a node
//! whose message was missed are read in tasks of their own.

use super::cluster::{Clustered, Read};
use super::room::Room;
use super::task::HubTask;
use crate::cluster::bus::BusBody;
use crate::cluster::presence::{Flip, Flips, Replicas, RoomPresence, Version};
use crate::cluster::snapshot::{Snapshot, Snapshots};
use crate::cluster::NodeName;
use app::domain::RoomName;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// How often the rooms whose people changed here are published: a crowd arriving costs one
/// message per room per period, not one per person.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// How often this node says it is alive (the others drop it after `presence::SILENT_MAX`).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);

pub(super) struct Presence {
    replicas: Replicas,
    /// Said goodbye: the node is stopping, and publishes nothing more.
    gone: bool,
    /// Rooms whose people here changed since the last flush.
    dirty: HashSet<RoomName>,
    /// Rooms this node last published someone in (its snapshot's rooms).
    shown: HashSet<RoomName>,
    version: Version,
    snapshots: Snapshots,
    /// Nodes whose snapshot is being read.
    reading: HashSet<NodeName>,
    pub(super) flush_every: Interval,
    pub(super) heartbeat_every: Interval,
}

impl Presence {
    pub(super) fn new(snapshots: Snapshots) -> Self {
        let every = |period| {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        };
        // A new run of the node: the others replace whatever they knew of its previous one.
        let incarnation = uuid::Uuid::new_v4().as_u64_pair().0;
        Self {
            replicas: Replicas::default(),
            gone: false,
            dirty: HashSet::new(),
            shown: HashSet::new(),
            version: Version { incarnation, count: 0 },
            snapshots,
            reading: HashSet::new(),
            flush_every: every(FLUSH_EVERY),
            heartbeat_every: every(HEARTBEAT_EVERY),
        }
    }
}

impl HubTask {
    /// The room's people or watchers here changed: the others hear it at the next flush.
    pub(super) fn here_changed(&mut self, room: &RoomName) {
        if let Some(c) = self.cluster.as_mut() {
            c.presence.dirty.insert(room.clone());
        }
    }

    /// A room just made here learns who is in it elsewhere.
    pub(super) fn seed_elsewhere(&mut self, room: &RoomName) {
        let Some(c) = self.cluster.as_ref() else { return };
        let (Some(entry), Some(elsewhere)) = (self.rooms.get_mut(room), c.presence.replicas.room(room)) else {
            return;
        };
        for name in elsewhere.people.keys() {
            entry.elsewhere(name.clone(), true);
        }
        entry.watching_elsewhere(elsewhere.watching);
    }

    /// People in `room` on every node.
    pub(super) fn people_in(&self, room: &RoomName) -> u32 {
        if let Some(entry) = self.rooms.get(room) {
            return entry.count();
        }
        let elsewhere = self.cluster.as_ref().and_then(|c| c.presence.replicas.room(room));
        elsewhere.map_or(0, |e| e.people.len() as u32)
    }

    /// Publishes the people here of every room that changed since the last flush.
    pub(super) fn flush_presence(&mut self) {
        let Some(c) = self.cluster.as_mut().filter(|c| !c.presence.gone) else { return };
        if c.presence_lost() {
            // Some of it never reached Redis: the snapshot and the others may be wrong.
            let shown = c.presence.shown.iter().cloned();
            c.presence.dirty.extend(self.rooms.keys().cloned().chain(shown));
        }
        for room in std::mem::take(&mut c.presence.dirty) {
            let (people, watching) = self.rooms.get(&room).map(Room::here).unwrap_or_default();
            if people.is_empty() && watching == 0 {
                c.presence.shown.remove(&room);
            } else {
                c.presence.shown.insert(room.clone());
            }
            c.presence.version.count += 1;
            let version = c.presence.version;
            c.publish(BusBody::Presence { version, room, presence: RoomPresence { people, watching } });
        }
    }

    /// Says this node is alive, and drops the nodes that stopped saying so.
    pub(super) fn heartbeat(&mut self) {
        let Some(c) = self.cluster.as_mut().filter(|c| !c.presence.gone) else { return };
        c.publish(BusBody::Heartbeat { version: c.presence.version });
        let flips = c.presence.replicas.expire(Instant::now());
        self.metrics.nodes_seen(c.presence.replicas.nodes());
        self.apply_flips(flips);
    }

    /// The node is stopping: the others forget its people now rather than after its
    /// heartbeat is missed; `reply` once Redis has it. One node has nobody to tell.
    pub(super) fn goodbye(&mut self, reply: oneshot::Sender<()>) {
        let Some(c) = self.cluster.as_mut() else {
            let _ = reply.send(());
            return;
        };
        c.presence.gone = true;
        let said = c.goodbye();
        tokio::spawn(async move {
            let _ = said.await;
            let _ = reply.send(());
        });
    }

    /// Back on Redis after losing it: the others may have missed anything, and Redis may
    /// have lost this node's snapshot; every room here is published again.
    pub(super) fn republish_presence(&mut self) {
        let rooms: Vec<RoomName> = self.rooms.keys().cloned().collect();
        if let Some(c) = self.cluster.as_mut() {
            c.presence.dirty.extend(rooms);
        }
    }

    /// Another node's presence message or heartbeat.
    pub(super) fn heard_presence(&mut self, node: NodeName, body: BusBody) {
        let Some(c) = self.cluster.as_mut() else { return };
        let now = Instant::now();
        let (flips, read) = match body {
            BusBody::Presence { version, room, presence } => {
                c.presence.replicas.room_changed(&node, version, room, presence, now)
            }
            BusBody::Heartbeat { version } => c.presence.replicas.heartbeat(&node, version, now),
            BusBody::Goodbye => (c.presence.replicas.goodbye(&node), false),
            _ => return,
        };
        if read {
            read_snapshot(c, node);
        }
        self.apply_flips(flips);
    }

    /// A node's snapshot, read because one of its messages was missed.
    pub(super) fn snapshot_read(&mut self, node: NodeName, read: Result<Option<Snapshot>, String>) {
        let Some(c) = self.cluster.as_mut() else { return };
        c.presence.reading.remove(&node);
        let flips = match read {
            Ok(Some((version, rooms))) => match c.presence.replicas.snapshot(&node, version, rooms, Instant::now()) {
                Some(flips) => flips,
                None => {
                    read_snapshot(c, node);
                    return;
                }
            },
            // Its snapshot expired: the node is gone.
            Ok(None) => c.presence.replicas.forget(&node),
            Err(e) => {
                tracing::warn!(%node, error = %e, "reading a node's presence failed; its heartbeat asks again");
                return;
            }
        };
        self.apply_flips(flips);
    }

    /// Shows the other nodes' changes to this node's members, and recounts the rooms.
    fn apply_flips(&mut self, flips: Flips) {
        let mut touched = HashSet::new();
        for (room, flip) in flips {
            if let Some(entry) = self.rooms.get_mut(&room) {
                let shown = match flip {
                    Flip::Arrived(name) => entry.elsewhere(name, true),
                    Flip::Left(name) => entry.elsewhere(name, false),
                    Flip::Watching(watching) => entry.watching_elsewhere(watching),
                };
                if shown {
                    touched.insert(room);
                }
            } else {
                touched.insert(room);
            }
        }
        for room in touched {
            self.presence_changed(&room);
            self.recount(&room);
        }
    }
}

/// Reads `node`'s snapshot in a task of its own, unless a read is under way.
fn read_snapshot(c: &mut Clustered, node: NodeName) {
    if !c.presence.reading.insert(node.clone()) {
        return;
    }
    let (snapshots, reads) = (c.presence.snapshots.clone(), c.reads.clone());
    tokio::spawn(async move {
        let read = snapshots.read(&node).await.map_err(|e| e.to_string());
        let _ = reads.send(Read::Snapshot(node, read)).await;
    });
}
