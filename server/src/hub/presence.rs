//! Announcing who arrives and leaves. A room's changes go out at once when it has been quiet,
//! else they are held until [`PRESENCE_INTERVAL_MS`] after its last announcement: a crowd
//! joining or leaving together costs each member a few `presence` messages, not one per
//! person (which was O(n²) messages, and overflowed queues when 1,000 left at once).
//!
//! Work per announcement is bounded too: one shared frame for everyone, plus at most
//! [`TAILORED_MAX`] frames for members who joined since the last announcement (their
//! `joined` already showed the earlier changes). Past that, the later joiners get the shared
//! frame as well, which set semantics make harmless: a crowd of K arriving in one window
//! costs O(K) bytes to encode, not O(K²).

use super::room::Room;
use crate::frame::Frame;
use app::domain::{RoomName, Username};
use app::protocol::{encode_server, ServerMsg, PRESENCE_INTERVAL_MS};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most frames made for members who joined since the last announcement, per announcement.
const TAILORED_MAX: usize = 8;

/// Rooms whose changes are held back because their last announcement was recent, and when
/// the earliest of them is due.
#[derive(Default)]
pub(super) struct Held {
    rooms: HashSet<RoomName>,
    until: Option<Instant>,
}

impl Held {
    pub(super) fn hold(&mut self, room: RoomName, due: Instant) {
        self.rooms.insert(room);
        self.until = Some(self.until.map_or(due, |until| until.min(due)));
    }

    /// A room that is gone has nothing to announce.
    pub(super) fn forget(&mut self, room: &RoomName) {
        self.rooms.remove(room);
    }

    /// Waits until held changes are due, or forever when none are held.
    pub(super) async fn due(&self) {
        match self.until {
            Some(until) => tokio::time::sleep_until(until).await,
            None => std::future::pending().await,
        }
    }

    /// Every held room, now due.
    pub(super) fn take(&mut self) -> HashSet<RoomName> {
        self.until = None;
        std::mem::take(&mut self.rooms)
    }
}

impl Room {
    /// When this room's changes may go out: `None` for now (it has been quiet), else the
    /// end of [`PRESENCE_INTERVAL_MS`] after its last announcement.
    pub(super) fn presence_held_until(&self, now: Instant) -> Option<Instant> {
        let due = self.announced_at? + Duration::from_millis(PRESENCE_INTERVAL_MS);
        (due > now).then_some(due)
    }

    /// Takes the changes since the last announcement, if any, as an announcement to send.
    pub(super) fn take_announcement(&mut self, name: &RoomName) -> Option<Announcement> {
        let changes = std::mem::take(&mut self.changes);
        let watching_changed = self.watching_changed.take();
        let oldest = changes.values().map(|(_, n)| *n).chain(watching_changed).min()?;
        self.announced_at = Some(Instant::now());
        let counts = Counts { members: self.count(), watching: self.watching(), watching_changed };
        let everything = frame(name, counts, &changes, 0);
        let bytes = everything.as_ref().map_or(0, |f| f.len() as u64);
        Some(Announcement { room: name.clone(), counts, changes, oldest, everything, tailored: HashMap::new(), bytes })
    }
}

/// The counts an announcement carries, and when the watching count last moved.
#[derive(Clone, Copy)]
struct Counts {
    members: u32,
    watching: u32,
    watching_changed: Option<u64>,
}

/// One announcement of a room's changes: the frame each member gets, made once per kind.
pub(super) struct Announcement {
    room: RoomName,
    counts: Counts,
    changes: BTreeMap<Username, (bool, u64)>,
    /// The oldest change announced: members who joined before it get `everything`.
    oldest: u64,
    everything: Option<Arc<Frame>>,
    /// Frames for members who joined since the last announcement, by what they have seen.
    tailored: HashMap<u64, Option<Arc<Frame>>>,
    /// Bytes encoded so far.
    bytes: u64,
}

impl Announcement {
    /// The frame for a member whose `joined` showed every change up to `seen`; `None` when
    /// nothing is new to it.
    pub(super) fn frame_for(&mut self, seen: u64) -> Option<Arc<Frame>> {
        if seen < self.oldest {
            return self.everything.clone();
        }
        if let Some(frame) = self.tailored.get(&seen) {
            return frame.clone();
        }
        if self.tailored.len() >= TAILORED_MAX {
            return self.everything.clone();
        }
        let frame = frame(&self.room, self.counts, &self.changes, seen);
        self.bytes += frame.as_ref().map_or(0, |f| f.len() as u64);
        self.tailored.insert(seen, frame.clone());
        frame
    }

    /// Bytes encoded for this announcement.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// The `presence` message of the changes numbered after `seen`; `None` if there are none.
fn frame(room: &RoomName, counts: Counts, changes: &BTreeMap<Username, (bool, u64)>, seen: u64) -> Option<Arc<Frame>> {
    let (mut joined, mut left) = (Vec::new(), Vec::new());
    for (name, (here, n)) in changes {
        if *n > seen {
            if *here {
                joined.push(name.clone())
            } else {
                left.push(name.clone())
            }
        }
    }
    let watching_moved = counts.watching_changed.is_some_and(|n| n > seen);
    if joined.is_empty() && left.is_empty() && !watching_moved {
        return None;
    }
    let Counts { members, watching, .. } = counts;
    let msg = ServerMsg::Presence { room: room.clone(), joined, left, members, watching };
    Some(Frame::shared(encode_server(&msg)))
}
