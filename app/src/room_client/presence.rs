//! Who is in the room, as the client believes it: `joined` gives the list, each `presence`
//! then applies as set operations (a name may repeat what the client already knows). The
//! number watching without a name is taken as it comes.

use super::Event;
use crate::domain::Username;
use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub struct Presence {
    present: BTreeSet<Username>,
    watching: u32,
}

impl Presence {
    /// Takes a `joined`'s list as the whole truth.
    pub fn replace(&mut self, present: Vec<Username>, watching: u32) -> Event {
        self.present = present.into_iter().collect();
        self.watching = watching;
        Event::Presence { present: self.list(), watching, arrived: Vec::new(), left: Vec::new() }
    }

    /// Applies a `presence`: departures, then arrivals; an event only when something changed.
    pub fn apply(&mut self, joined: Vec<Username>, left: Vec<Username>, watching: u32) -> Option<Event> {
        let left: Vec<Username> = left.into_iter().filter(|name| self.present.remove(name)).collect();
        let arrived: Vec<Username> = joined.into_iter().filter(|name| self.present.insert(name.clone())).collect();
        let watching_moved = std::mem::replace(&mut self.watching, watching) != watching;
        if left.is_empty() && arrived.is_empty() && !watching_moved {
            return None;
        }
        Some(Event::Presence { present: self.list(), watching, arrived, left })
    }

    fn list(&self) -> Vec<Username> {
        self.present.iter().cloned().collect()
    }
}
