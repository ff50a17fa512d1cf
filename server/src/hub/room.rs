//! A room's members and the people they are: one person with three tabs is here once.

use super::ConnId;
use crate::queue::ClientHandle;
use app::domain::Username;
use std::collections::{BTreeMap, HashMap};

pub(super) struct Member {
    pub(super) username: Username,
    pub(super) client: ClientHandle,
}

#[derive(Default)]
pub(super) struct Room {
    pub(super) members: HashMap<ConnId, Member>,
    /// Connections per person: one person with three tabs is here once.
    pub(super) people: BTreeMap<Username, usize>,
}

impl Room {
    pub(super) fn count(&self) -> u32 {
        self.people.len() as u32
    }

    /// Adds a connection; true when its person was not here before.
    pub(super) fn add(&mut self, conn: ConnId, member: Member) -> bool {
        let count = self.people.entry(member.username.clone()).or_default();
        *count += 1;
        self.members.insert(conn, member);
        *count == 1
    }

    /// Removes a connection; returns its person if that was their last connection here.
    pub(super) fn take(&mut self, conn: ConnId) -> Option<Username> {
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
