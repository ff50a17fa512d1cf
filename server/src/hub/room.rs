//! A room's members and the people they are: one person with three tabs is here once; a
//! connection without a name watches, counted but not listed. It also remembers who came or
//! went (and whether the watching count moved) since its last `presence` announcement, and in
//! what order, so a member who joined in between hears only what its `joined` could not show.
//! (The rooms of each connection are indexed apart, in `connections.rs`.)
//!
//! On a node of a cluster a room also knows who is in it on the other nodes (`elsewhere`):
//! its counts and `present` cover every node, and a person coming or going is a change only
//! when they were on no node or are on none any more.

use super::delivery::Kind;
use super::ConnId;
use crate::claims::ClaimId;
use crate::frame::Frame;
use crate::queue::ClientHandle;
use app::domain::Username;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::time::Instant;

pub(super) struct RoomMember {
    /// `None` while it watches.
    pub(super) username: Option<Username>,
    /// The claim its name was checked against (`None` while it watches).
    pub(super) claim: Option<ClaimId>,
    pub(super) client: ClientHandle,
    /// The room's change count when this member's `joined` was made: it showed every change
    /// up to it.
    pub(super) seen: u64,
    /// While it reads its history: the posts and deletions broadcast since it registered, to
    /// send after its `joined`. `None` once it is live.
    pub(super) held: Option<Vec<(Kind, Arc<Frame>)>>,
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
    /// People in the room on other nodes of the cluster.
    elsewhere: BTreeSet<Username>,
    /// Connections without a name in the room on other nodes.
    elsewhere_watching: u32,
    /// The change number of the last move of `watching` since the last announcement.
    pub(super) watching_changed: Option<u64>,
    /// Arrivals and departures so far (numbers the changes).
    changed: u64,
    /// When the last announcement went out.
    pub(super) announced_at: Option<Instant>,
}

impl Room {
    /// People in the room, on every node.
    pub(super) fn count(&self) -> u32 {
        (self.people.len() + self.elsewhere.iter().filter(|name| !self.people.contains_key(*name)).count()) as u32
    }

    /// Everyone in the room, on every node.
    pub(super) fn present(&self) -> Vec<Username> {
        let mut present: BTreeSet<Username> = self.people.keys().cloned().collect();
        present.extend(self.elsewhere.iter().cloned());
        present.into_iter().collect()
    }

    /// Connections watching without a name, on every node.
    pub(super) fn watching(&self) -> u32 {
        self.watching + self.elsewhere_watching
    }

    /// Who is in the room on this node only: what this node tells the others.
    pub(super) fn here(&self) -> (Vec<Username>, u32) {
        (self.people.keys().cloned().collect(), self.watching)
    }

    /// Someone is now in the room on another node (`here`) or on none of them; true if what
    /// members are shown changed.
    pub(super) fn elsewhere(&mut self, username: Username, here: bool) -> bool {
        let moved = if here { self.elsewhere.insert(username.clone()) } else { self.elsewhere.remove(&username) };
        moved && !self.people.contains_key(&username) && self.record(username, here)
    }

    /// The other nodes' watchers now number `watching`; true if that changed the count.
    pub(super) fn watching_elsewhere(&mut self, watching: u32) -> bool {
        let moved = self.elsewhere_watching != watching;
        self.elsewhere_watching = watching;
        moved && self.record_watching()
    }

    /// Arrivals and departures so far.
    pub(super) fn change_count(&self) -> u64 {
        self.changed
    }

    /// Adds a connection (a watcher without `username`), held until its `joined` when `held`;
    /// true when what others are shown changed: a new person, or one more watching.
    pub(super) fn add(
        &mut self,
        conn: ConnId,
        username: Option<Username>,
        claim: Option<ClaimId>,
        client: ClientHandle,
        held: bool,
    ) -> bool {
        let arrived = match &username {
            Some(name) => {
                let count = self.people.entry(name.clone()).or_default();
                *count += 1;
                *count == 1 && !self.elsewhere.contains(name) && self.record(name.clone(), true)
            }
            None => {
                self.watching += 1;
                self.record_watching()
            }
        };
        let held = held.then(Vec::new);
        let member = RoomMember { username, claim, client, seen: self.changed, held, fence: 0, last_typing: None };
        self.members.insert(conn, member);
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
        !self.elsewhere.contains(&name) && self.record(name, false)
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
