//! A room's members and the people they are: one person with three tabs is here once. It
//! also remembers who came or went since its last `presence` announcement, and in what
//! order, so a member who joined in between hears only what its `joined` could not show.
//! (The rooms of each connection are indexed apart, in `connections.rs`.)

use super::ConnId;
use crate::queue::ClientHandle;
use app::domain::Username;
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::time::Instant;

pub(super) struct RoomMember {
    pub(super) username: Username,
    pub(super) client: ClientHandle,
    /// The room's change count when this member's `joined` was made: it showed every change
    /// up to it.
    pub(super) seen: u64,
    /// While it reads its history: the posts broadcast since it registered, by seq, to send
    /// after its `joined`. `None` once it is live.
    pub(super) held: Option<Vec<(u64, Arc<Utf8Bytes>)>>,
    /// When this member's last `typing` was relayed: more within `TYPING_RELAY_MIN_MS`
    /// would only repeat what the others already show.
    pub(super) last_typing: Option<Instant>,
}

#[derive(Default)]
pub(super) struct Room {
    pub(super) members: HashMap<ConnId, RoomMember>,
    /// Connections per person: one person with three tabs is here once.
    pub(super) people: BTreeMap<Username, usize>,
    /// People who arrived (`true`) or left (`false`) since the last announcement, each with
    /// their latest state and its change number: a crowd coming and going costs one entry
    /// per person.
    pub(super) changes: BTreeMap<Username, (bool, u64)>,
    /// Arrivals and departures so far (numbers the changes).
    changed: u64,
    /// When the last announcement went out.
    pub(super) announced_at: Option<Instant>,
}

impl Room {
    pub(super) fn count(&self) -> u32 {
        self.people.len() as u32
    }

    /// Arrivals and departures so far.
    pub(super) fn change_count(&self) -> u64 {
        self.changed
    }

    /// Adds a connection, held until its `joined` when `held`; true when its person was not
    /// here before.
    pub(super) fn add(&mut self, conn: ConnId, username: Username, client: ClientHandle, held: bool) -> bool {
        let count = self.people.entry(username.clone()).or_default();
        *count += 1;
        let arrived = *count == 1;
        if arrived {
            self.record(username.clone(), true);
        }
        let held = held.then(Vec::new);
        self.members.insert(conn, RoomMember { username, client, seen: self.changed, held, last_typing: None });
        arrived
    }

    /// Removes a connection; true if that was its person's last connection here.
    pub(super) fn take(&mut self, conn: ConnId) -> bool {
        let Some(member) = self.members.remove(&conn) else { return false };
        let Some(count) = self.people.get_mut(&member.username) else { return false };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.people.remove(&member.username);
        self.record(member.username, false);
        true
    }

    fn record(&mut self, username: Username, here: bool) {
        self.changed += 1;
        self.changes.insert(username, (here, self.changed));
    }
}
