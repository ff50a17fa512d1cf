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

use super::task::{queue_to, HubTask};
use super::ConnId;
use app::domain::{RoomName, Username};
use app::protocol::{encode_server, ServerMsg, PRESENCE_INTERVAL_MS};
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most frames made for members who joined since the last announcement, per announcement.
const TAILORED_MAX: usize = 8;

impl HubTask {
    /// Someone arrived in or left `room`: announce it now, or hold it for the next round.
    pub(super) fn presence_changed(&mut self, room: &RoomName) {
        let Some(entry) = self.rooms.get(room) else { return };
        let interval = Duration::from_millis(PRESENCE_INTERVAL_MS);
        match entry.announced_at.map(|at| at + interval) {
            Some(due) if due > Instant::now() => {
                self.held.insert(room.clone());
                self.held_until = Some(self.held_until.map_or(due, |until| until.min(due)));
            }
            _ => self.announce(room),
        }
    }

    /// The held changes of every room are due.
    pub(super) fn announce_held(&mut self) {
        self.held_until = None;
        for room in std::mem::take(&mut self.held) {
            self.announce(&room);
        }
    }

    /// Tells every member what changed since the last announcement; a member who joined
    /// since then hears only the changes after its `joined`. Members whose queue is full
    /// leave the room, and are announced in turn next time.
    fn announce(&mut self, room: &RoomName) {
        let Some(entry) = self.rooms.get_mut(room) else { return };
        let changes = std::mem::take(&mut entry.changes);
        let Some(oldest) = changes.values().map(|(_, n)| *n).min() else { return };
        entry.announced_at = Some(Instant::now());
        let members = entry.count();
        let everything = frame(room, members, &changes, 0);
        let mut bytes = everything.as_ref().map_or(0, |f| f.len());
        let mut tailored: HashMap<u64, Option<Arc<Utf8Bytes>>> = HashMap::new();
        let mut failed: Vec<ConnId> = Vec::new();
        for (conn, member) in entry.members.iter_mut() {
            let frame = if member.seen < oldest {
                everything.clone()
            } else if let Some(frame) = tailored.get(&member.seen) {
                frame.clone()
            } else if tailored.len() < TAILORED_MAX {
                let frame = frame(room, members, &changes, member.seen);
                bytes += frame.as_ref().map_or(0, |f| f.len());
                tailored.insert(member.seen, frame.clone());
                frame
            } else {
                everything.clone()
            };
            if let Some(frame) = frame {
                queue_to(&self.metrics, *conn, member, frame, None, &mut failed);
            }
        }
        self.metrics.presence_encoded(bytes as u64);
        if !failed.is_empty() {
            self.drop_members(room, failed);
        }
    }
}

/// The `presence` message of the changes numbered after `seen`; `None` if there are none.
fn frame(
    room: &RoomName,
    members: u32,
    changes: &BTreeMap<Username, (bool, u64)>,
    seen: u64,
) -> Option<Arc<Utf8Bytes>> {
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
    if joined.is_empty() && left.is_empty() {
        return None;
    }
    let msg = ServerMsg::Presence { room: room.clone(), joined, left, members };
    Some(Arc::new(Utf8Bytes::from(encode_server(&msg))))
}

/// Waits until `deadline`, or forever when there is none.
pub(super) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
