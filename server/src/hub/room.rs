//! A room's members and the people they are: one person with three tabs is here once; a
//! connection without a name watches, counted but not listed. It also remembers who came or
//! went (and whether the watching count moved) since its last `presence` announcement, and in
//! what order, so a member who joined in between hears only what its `joined` could not show.
//! (The rooms of each connection are indexed apart, in `connections.rs`.)

use super::ConnId;
use crate::queue::ClientHandle;
use app::domain::Username;
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::time::Instant;

pub(super) struct RoomMember {
    /// `None` while it watches.
    pub(super) username: Option<Username>,
    pub(super) client: ClientHandle,
    /// The room's change count when this member's `joined` was made: it showed every change
    /// up to it.
    pub(super) seen: u64,
    /// While it reads its history: the posts broadcast since it registered, by seq, to send
    /// after its `joined`. `None` once it is live.
    pub(super) held: Option<Vec<(u64, Arc<Utf8Bytes>)>>,
    /// Posts up to this seq were in its `joined`: on a node of a cluster the posts a history
    /// read found can still be on their way through the bus, and must not go out twice.
    pub(super) fence: u64,
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
    /// Connections without a name.
    watching: u32,
    /// The change number of the last move of `watching` since the last announcement.
    pub(super) watching_changed: Option<u64>,
    /// Arrivals and departures so far (numbers the changes).
    changed: u64,
    /// When the last announcement went out.
    pub(super) announced_at: Option<Instant>,
}

impl Room {
    pub(super) fn count(&self) -> u32 {
        self.people.len() as u32
    }

    /// Connections watching without a name.
    pub(super) fn watching(&self) -> u32 {
        self.watching
    }

    /// Arrivals and departures so far.
    pub(super) fn change_count(&self) -> u64 {
        self.changed
    }

    /// Adds a connection (a watcher without `username`), held until its `joined` when `held`;
    /// true when what others are shown changed: a new person, or one more watching.
    pub(super) fn add(&mut self, conn: ConnId, username: Option<Username>, client: ClientHandle, held: bool) -> bool {
        let arrived = match &username {
            Some(name) => {
                let count = self.people.entry(name.clone()).or_default();
                *count += 1;
                *count == 1 && self.record(name.clone(), true)
            }
            None => {
                self.watching += 1;
                self.record_watching()
            }
        };
        let held = held.then(Vec::new);
        self.members
            .insert(conn, RoomMember { username, client, seen: self.changed, held, fence: 0, last_typing: None });
        arrived
    }

    /// Removes a connection; true if that changed what others are shown: its person's last
    /// connection here, or one watcher fewer.
    pub(super) fn take(&mut self, conn: ConnId) -> bool {
        let Some(member) = self.members.remove(&conn) else { return false };
        let Some(name) = member.username else {
            self.watching -= 1;
            return self.record_watching();
        };
        let Some(count) = self.people.get_mut(&name) else { return false };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.people.remove(&name);
        self.record(name, false)
    }

    /// Always true: a change to announce.
    fn record(&mut self, username: Username, here: bool) -> bool {
        self.changed += 1;
        self.changes.insert(username, (here, self.changed));
        true
    }

    fn record_watching(&mut self) -> bool {
        self.changed += 1;
        self.watching_changed = Some(self.changed);
        true
    }
}
