//! How many people are in each room, kept by the hub as they arrive and leave, and read
//! without a round trip to it: the directory and `/metrics` cost the same with 10 rooms or
//! 100,000, and never queue behind posts.

use app::domain::RoomName;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// A cloneable handle on the counts; only the hub changes them.
#[derive(Clone, Debug, Default)]
pub struct Occupancy(Arc<Mutex<Counts>>);

#[derive(Debug, Default)]
struct Counts {
    /// People (distinct usernames) in each room that has any.
    people: HashMap<RoomName, u32>,
    /// The same rooms, busiest first (ties by name).
    busiest: BTreeSet<(Reverse<u32>, RoomName)>,
}

impl Occupancy {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the room's count of people; 0 forgets the room.
    pub(super) fn set(&self, room: &RoomName, people: u32) {
        let mut counts = self.lock();
        let old = if people == 0 { counts.people.remove(room) } else { counts.people.insert(room.clone(), people) };
        if old == Some(people) {
            return;
        }
        if let Some(old) = old {
            counts.busiest.remove(&(Reverse(old), room.clone()));
        }
        if people > 0 {
            counts.busiest.insert((Reverse(people), room.clone()));
        }
    }

    /// Rooms with at least one person.
    pub fn rooms(&self) -> usize {
        self.lock().people.len()
    }

    /// People in `room` (0 if nobody is there).
    pub fn people(&self, room: &RoomName) -> u32 {
        self.lock().people.get(room).copied().unwrap_or(0)
    }

    /// Up to `n` rooms that `keep` accepts, busiest first, with their people. Looks at `n`
    /// rooms plus those `keep` refuses, never at every room.
    pub fn busiest(&self, n: usize, keep: impl Fn(&RoomName) -> bool) -> Vec<(RoomName, u32)> {
        let counts = self.lock();
        counts.busiest.iter().filter(|(_, room)| keep(room)).take(n).map(|(p, room)| (room.clone(), p.0)).collect()
    }

    /// Every room with its people: O(rooms), for tests and diagnostics only.
    pub fn all(&self) -> HashMap<RoomName, u32> {
        self.lock().people.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::Occupancy;

    #[test]
    fn counts_follow_arrivals_and_departures_busiest_first() {
        let occupancy = Occupancy::default();
        let room = |name: &str| name.parse().unwrap();
        occupancy.set(&room("a"), 1);
        occupancy.set(&room("b"), 3);
        occupancy.set(&room("c"), 2);
        occupancy.set(&room("a"), 4);
        assert_eq!(occupancy.rooms(), 3);
        let names = |list: Vec<(app::domain::RoomName, u32)>| {
            list.into_iter().map(|(r, n)| format!("{r}={n}")).collect::<Vec<_>>()
        };
        assert_eq!(names(occupancy.busiest(2, |_| true)), ["a=4", "b=3"]);
        assert_eq!(names(occupancy.busiest(5, |r| r.as_str() != "b")), ["a=4", "c=2"]);
        occupancy.set(&room("a"), 0);
        assert_eq!(occupancy.people(&room("a")), 0);
        assert_eq!(names(occupancy.busiest(5, |_| true)), ["b=3", "c=2"]);
        assert_eq!(occupancy.rooms(), 2);
    }
}
