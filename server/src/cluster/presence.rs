//! Who is in each room on the other nodes: a replica of every other node's own entries,
//! kept from what they publish, as a plain state machine (no I/O, no clock of its own).
//!
//! Each node publishes, for each room whose people changed on it, the room's people and
//! watchers *on that node*, numbered by a version that counts every such message of that run
//! of the node (its incarnation). A replica applies a node's messages in version order; one
//! that skips a version (a message lost) asks for the node's snapshot, which the node keeps
//! in Redis. A node that stops its heartbeat for [`SILENT_MAX`], or says goodbye, is dropped:
//! its people leave every room. What changes, room by room and person by person, comes back
//! as [`Flip`]s for the hub to announce.

use super::NodeName;
use app::domain::{RoomName, Username};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// A node silent this long (no heartbeat, no message) is taken for dead.
pub const SILENT_MAX: Duration = Duration::from_secs(10);

/// One room's people and watchers on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomPresence {
    pub people: Vec<Username>,
    pub watching: u32,
}

/// A version of a node's presence: which run of the node, and how many messages into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    pub incarnation: u64,
    pub count: u64,
}

/// What changed in a room, counting every other node together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flip {
    /// The first of the other nodes to have this person in the room.
    Arrived(Username),
    /// The last of the other nodes to have had this person in the room.
    Left(Username),
    /// The other nodes' watchers in the room now number this many.
    Watching(u32),
}

/// Everyone on the other nodes in one room.
#[derive(Debug, Default)]
pub struct Elsewhere {
    /// Each person, with how many other nodes have them here.
    pub people: BTreeMap<Username, u32>,
    pub watching: u32,
}

#[derive(Debug)]
struct Replica {
    version: Version,
    heard: Instant,
    rooms: HashMap<RoomName, RoomPresence>,
}

/// The other nodes' presence, per node and summed per room.
#[derive(Debug, Default)]
pub struct Replicas {
    nodes: HashMap<NodeName, Replica>,
    rooms: HashMap<RoomName, Elsewhere>,
    /// The run of each node that said goodbye: a snapshot of it read late, or a message of
    /// it that was still on its way, must not bring its people back.
    gone: HashMap<NodeName, u64>,
}

pub type Flips = Vec<(RoomName, Flip)>;

impl Replicas {
    /// Other nodes known alive (heard within [`SILENT_MAX`], not gone).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Everyone on the other nodes in `room`.
    pub fn room(&self, room: &RoomName) -> Option<&Elsewhere> {
        self.rooms.get(room)
    }

    /// A node's message about one room. The flips, and whether the node's snapshot must be
    /// read (the message skipped a version, or the node is new to this one).
    pub fn room_changed(
        &mut self,
        node: &NodeName,
        version: Version,
        room: RoomName,
        presence: RoomPresence,
        now: Instant,
    ) -> (Flips, bool) {
        let Some((mut flips, fresh)) = self.incarnation(node, version, now) else { return (Vec::new(), false) };
        let Some(replica) = self.nodes.get_mut(node) else { return (flips, true) };
        if !fresh && version.count <= replica.version.count {
            return (flips, false);
        }
        let skipped = version.count != replica.version.count + 1;
        replica.version = version;
        flips.extend(self.set_room(node, room, presence));
        (flips, skipped)
    }

    /// A node's heartbeat: whether its snapshot must be read (it is new, or ahead of us).
    pub fn heartbeat(&mut self, node: &NodeName, version: Version, now: Instant) -> (Flips, bool) {
        let Some((flips, fresh)) = self.incarnation(node, version, now) else { return (Vec::new(), false) };
        let behind = self.nodes.get(node).is_some_and(|r| r.version.count < version.count);
        (flips, fresh || behind)
    }

    /// A node's whole snapshot, read from Redis: replaces what was known of it, unless a later
    /// message was applied meanwhile (then `None`: read it again).
    pub fn snapshot(
        &mut self,
        node: &NodeName,
        version: Version,
        rooms: HashMap<RoomName, RoomPresence>,
        now: Instant,
    ) -> Option<Flips> {
        let Some((mut flips, _)) = self.incarnation(node, version, now) else { return Some(Vec::new()) };
        let replica = self.nodes.get_mut(node)?;
        if version.count < replica.version.count {
            return None;
        }
        replica.version = version;
        let gone: Vec<RoomName> = replica.rooms.keys().filter(|r| !rooms.contains_key(*r)).cloned().collect();
        for room in gone {
            flips.extend(self.set_room(node, room, RoomPresence::default()));
        }
        for (room, presence) in rooms {
            flips.extend(self.set_room(node, room, presence));
        }
        Some(flips)
    }

    /// A node said goodbye: its people leave every room, and nothing more of that run of it
    /// is believed.
    pub fn goodbye(&mut self, node: &NodeName) -> Flips {
        if let Some(replica) = self.nodes.get(node) {
            self.gone.insert(node.clone(), replica.version.incarnation);
        }
        self.forget(node)
    }

    /// A node is taken for dead (or gone): its people leave every room.
    pub fn forget(&mut self, node: &NodeName) -> Flips {
        let Some(replica) = self.nodes.remove(node) else { return Vec::new() };
        let mut flips = Vec::new();
        for (room, presence) in replica.rooms {
            flips.extend(self.sum(&room, &presence, &RoomPresence::default()));
        }
        flips
    }

    /// Drops every node silent for [`SILENT_MAX`].
    pub fn expire(&mut self, now: Instant) -> Flips {
        let silent: Vec<NodeName> = self
            .nodes
            .iter()
            .filter(|(_, r)| now.duration_since(r.heard) >= SILENT_MAX)
            .map(|(n, _)| n.clone())
            .collect();
        silent.iter().flat_map(|node| self.forget(node)).collect()
    }

    /// Notes that `node` was heard, in `version`'s incarnation: a new incarnation replaces
    /// the old one (whose people leave). True if the node is new to this replica; `None` if
    /// this run of it said goodbye (what it sends now is ignored).
    fn incarnation(&mut self, node: &NodeName, version: Version, now: Instant) -> Option<(Flips, bool)> {
        match self.gone.get(node) {
            Some(gone) if *gone == version.incarnation => return None,
            Some(_) => {
                self.gone.remove(node);
            }
            None => {}
        }
        let known = self.nodes.get(node).map(|r| r.version.incarnation);
        let flips = match known {
            Some(incarnation) if incarnation == version.incarnation => {
                if let Some(replica) = self.nodes.get_mut(node) {
                    replica.heard = now;
                }
                return Some((Vec::new(), false));
            }
            Some(_) => self.forget(node),
            None => Vec::new(),
        };
        let version = Version { incarnation: version.incarnation, count: 0 };
        self.nodes.insert(node.clone(), Replica { version, heard: now, rooms: HashMap::new() });
        Some((flips, true))
    }

    fn set_room(&mut self, node: &NodeName, room: RoomName, presence: RoomPresence) -> Flips {
        let Some(replica) = self.nodes.get_mut(node) else { return Vec::new() };
        let old = if presence == RoomPresence::default() {
            replica.rooms.remove(&room)
        } else {
            replica.rooms.insert(room.clone(), presence.clone())
        };
        self.sum(&room, &old.unwrap_or_default(), &presence)
    }

    /// Moves the room's sums from a node's `old` entry to its `new` one.
    fn sum(&mut self, room: &RoomName, old: &RoomPresence, new: &RoomPresence) -> Flips {
        let mut flips = Vec::new();
        let elsewhere = self.rooms.entry(room.clone()).or_default();
        let (before, after): (HashSet<&Username>, HashSet<&Username>) =
            (old.people.iter().collect(), new.people.iter().collect());
        for name in before.difference(&after) {
            if let Some(count) = elsewhere.people.get_mut(*name) {
                *count -= 1;
                if *count == 0 {
                    elsewhere.people.remove(*name);
                    flips.push((room.clone(), Flip::Left((*name).clone())));
                }
            }
        }
        for name in after.difference(&before) {
            let count = elsewhere.people.entry((*name).clone()).or_default();
            *count += 1;
            if *count == 1 {
                flips.push((room.clone(), Flip::Arrived((*name).clone())));
            }
        }
        if old.watching != new.watching {
            elsewhere.watching = elsewhere.watching.saturating_sub(old.watching).saturating_add(new.watching);
            flips.push((room.clone(), Flip::Watching(elsewhere.watching)));
        }
        if elsewhere.people.is_empty() && elsewhere.watching == 0 {
            self.rooms.remove(room);
        }
        flips
    }
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
