//! Which rooms each connection is in, kept by the hub beside the rooms' own member lists: a
//! departure leaves just those rooms instead of scanning every room. It also keeps each
//! connection's join rate, which lasts as long as the connection (leaving a room gives no
//! joins back).

use super::ConnId;
use app::domain::RoomName;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;

/// Joins one connection may make per second, sustained: each reads history, so joins are
/// held well below the message rate. The burst lets a client join its rooms at once.
pub const JOINS_PER_SEC: NonZeroU32 = NonZeroU32::new(2).unwrap();
const JOIN_BURST: NonZeroU32 = NonZeroU32::new(16).unwrap();

/// Every connection that has joined a room since it connected, until it disconnects.
#[derive(Default)]
pub(super) struct Connections(HashMap<ConnId, Connection>);

struct Connection {
    rooms: HashSet<RoomName>,
    joins: DefaultDirectRateLimiter,
}

impl Connections {
    fn entry(&mut self, conn: ConnId) -> &mut Connection {
        self.0.entry(conn).or_insert_with(|| Connection {
            rooms: HashSet::new(),
            joins: RateLimiter::direct(Quota::per_second(JOINS_PER_SEC).allow_burst(JOIN_BURST)),
        })
    }

    pub(super) fn is_in(&self, conn: ConnId, room: &RoomName) -> bool {
        self.0.get(&conn).is_some_and(|c| c.rooms.contains(room))
    }

    /// Rooms the connection is in.
    pub(super) fn room_count(&self, conn: ConnId) -> usize {
        self.0.get(&conn).map_or(0, |c| c.rooms.len())
    }

    /// Takes one of the connection's joins; false when it has used them up for now.
    pub(super) fn take_join(&mut self, conn: ConnId) -> bool {
        self.entry(conn).joins.check().is_ok()
    }

    pub(super) fn joined(&mut self, conn: ConnId, room: RoomName) {
        self.entry(conn).rooms.insert(room);
    }

    /// The connection is no longer in `room`.
    pub(super) fn left(&mut self, conn: ConnId, room: &RoomName) {
        if let Some(connection) = self.0.get_mut(&conn) {
            connection.rooms.remove(room);
        }
    }

    /// Forgets the connection; returns the rooms it was in.
    pub(super) fn remove(&mut self, conn: ConnId) -> HashSet<RoomName> {
        self.0.remove(&conn).map(|c| c.rooms).unwrap_or_default()
    }
}
