//! Each room's posts delivered in seq order and once, whatever order (or loss) the bus brings
//! them in: the rules as a plain state machine, with no I/O and no clock of its own. The hub
//! drives it: it offers what the bus and its own commits bring, reads the gaps it names from
//! the store, and delivers what it releases.
//!
//! The promise a room's cursor (`delivered`) keeps: every post up to it is stored, and every
//! member on this node either has it (delivered, or in the history its join read) or joined
//! after it was stored (so its history read finds it). A post is stored before it is
//! published, and a room's seqs become visible in seq order, so a post heard means every
//! earlier one is stored too.
//!
//! A room with no member on this node is not followed: its cursor jumps to each post heard,
//! with nothing to wait for. Once followed, a post beyond a missing seq waits
//! (`gap_wait`) for the missing one, then the gap is read from the store; the heads check
//! reports a room's newest stored seq, so a last post that was never published is read too.
//! A gap that cannot be filled (the store keeps failing, or does not have the posts) is given
//! up after [`GIVE_UP_AFTER`]: the posts after it go out, and clients, which check seqs
//! themselves, ask for what they miss with `since`.
//!
//! A deleted post is a tombstone in the log: its seq is released as [`Released::Removed`]
//! in its place (so nothing waits for it, and the post itself never goes out after it).

use app::domain::RoomName;
use app::protocol::Post;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// Most posts one gap fill asks for; a longer gap is read in turns.
pub const FILL_MAX: u64 = 1_000;
/// Most posts waiting behind a gap in one room; past it the gap is given up at once.
const WAITING_MAX: usize = 4_096;
/// How long a gap may stay unfilled before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// Seqs a room is missing: those after `after`, up to `upto`, to read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub room: RoomName,
    pub after: u64,
    pub upto: u64,
}

/// What the orderer did besides releasing posts, for `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OrderStats {
    /// Gap reads asked for because a post arrived beyond a missing one.
    pub fills_after_bus: u64,
    /// Gap reads asked for because the store holds more than arrived (the heads check).
    pub fills_after_heads: u64,
    /// Gaps given up.
    pub given_up: u64,
}

/// What the orderer lets go, in each room's seq order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Post(Post),
    /// The post with this seq was deleted: tell members who may hold it.
    Removed {
        room: RoomName,
        seq: u64,
    },
}

impl Released {
    pub fn seq(&self) -> u64 {
        match self {
            Released::Post(post) => post.seq,
            Released::Removed { seq, .. } => *seq,
        }
    }
}

/// Every room's delivery cursor on this node.
#[derive(Debug)]
pub struct Order {
    rooms: HashMap<RoomName, RoomOrder>,
    /// Followed rooms with a gap: the only ones [`Order::due`] looks at.
    gapped: HashSet<RoomName>,
    gap_wait: Duration,
    stats: OrderStats,
}

#[derive(Debug, Default)]
struct RoomOrder {
    delivered: u64,
    /// Posts heard beyond a missing seq, by seq (`None`: deleted).
    waiting: BTreeMap<u64, Option<Post>>,
    /// The newest seq the store is known to hold.
    head: u64,
    /// Whether a member on this node is in the room.
    followed: bool,
    /// When the current gap was first seen, and when to read it next.
    gap: Option<(Instant, Instant)>,
    /// A read of the gap is under way.
    filling: bool,
}

impl Order {
    /// Cursors starting at each room's newest stored seq (read after subscribing to the bus,
    /// so every later post is heard or found by the heads check).
    pub fn new(gap_wait: Duration, heads: impl IntoIterator<Item = (RoomName, u64)>) -> Self {
        let rooms =
            heads.into_iter().map(|(room, head)| (room, RoomOrder { delivered: head, head, ..Default::default() }));
        Self { rooms: rooms.collect(), gapped: HashSet::new(), gap_wait, stats: OrderStats::default() }
    }

    pub fn stats(&self) -> OrderStats {
        self.stats
    }

    /// Every post of `room` up to this seq has gone out (or was stored before it was followed).
    pub fn delivered(&self, room: &RoomName) -> u64 {
        self.rooms.get(room).map_or(0, |r| r.delivered)
    }

    /// A member on this node is in `room`: from now on its posts go out in order.
    pub fn follow(&mut self, room: &RoomName) {
        self.rooms.entry(room.clone()).or_default().followed = true;
    }

    /// The room's last member on this node left: its waiting posts are released as they are
    /// (there is nobody to order them for) and its cursor jumps to the newest seq heard.
    pub fn unfollow(&mut self, room: &RoomName) -> Vec<Released> {
        let Some(entry) = self.rooms.get_mut(room) else { return Vec::new() };
        entry.followed = false;
        entry.gap = None;
        self.gapped.remove(room);
        let waiting = std::mem::take(&mut entry.waiting).into_iter();
        let released: Vec<Released> = waiting.map(|(seq, post)| released(room, seq, post)).collect();
        let newest = released.last().map_or(0, Released::seq);
        entry.delivered = entry.delivered.max(newest).max(entry.head);
        released
    }

    /// A post heard (from the bus, a local commit or a fill): the posts that may go out now,
    /// in seq order. A post already delivered is dropped.
    pub fn offer(&mut self, post: Post, now: Instant) -> Vec<Released> {
        let room = post.room.clone();
        let entry = self.rooms.entry(room.clone()).or_default();
        if post.seq <= entry.delivered {
            return Vec::new();
        }
        entry.head = entry.head.max(post.seq);
        if !entry.followed {
            entry.delivered = post.seq;
            return vec![Released::Post(post)];
        }
        // A deletion heard before the post wins: the post never goes out.
        entry.waiting.entry(post.seq).or_insert(Some(post));
        self.release(&room, now)
    }

    /// A deletion heard: released at once if its post went out already (members may hold
    /// it), else in the post's place when its turn comes.
    pub fn removed(&mut self, room: &RoomName, seq: u64, now: Instant) -> Vec<Released> {
        let entry = self.rooms.entry(room.clone()).or_default();
        if !entry.followed {
            // As for a post: the cursor moves past it, so the post heard later is dropped.
            entry.delivered = entry.delivered.max(seq);
            entry.head = entry.head.max(seq);
        }
        if seq <= entry.delivered {
            return vec![Released::Removed { room: room.clone(), seq }];
        }
        entry.head = entry.head.max(seq);
        entry.waiting.insert(seq, None);
        self.release(room, now)
    }

    /// The store holds posts up to `head` in `room` (the heads check): a followed room
    /// behind it has a gap, read after `gap_wait` unless the bus brings it first.
    pub fn head(&mut self, room: &RoomName, head: u64, now: Instant) -> Vec<Released> {
        // A room not heard of yet (created while this node missed the bus) starts there, as
        // the rooms read at startup do.
        let entry =
            self.rooms.entry(room.clone()).or_insert_with(|| RoomOrder { delivered: head, ..Default::default() });
        entry.head = entry.head.max(head);
        if !entry.followed {
            entry.delivered = entry.delivered.max(head);
            return Vec::new();
        }
        self.release(room, now)
    }

    /// When the next gap is to be read, if any is.
    pub fn due(&self) -> Option<Instant> {
        let due = self.gapped.iter().filter_map(|room| self.rooms.get(room));
        due.filter(|r| !r.filling).filter_map(|r| r.gap.map(|(_, at)| at)).min()
    }

    /// The gaps to read now; each is marked as being read until [`Order::filled`] or
    /// [`Order::fill_failed`].
    pub fn gaps(&mut self, now: Instant) -> Vec<Gap> {
        let mut gaps = Vec::new();
        for room in &self.gapped {
            let Some(entry) = self.rooms.get_mut(room) else { continue };
            if entry.filling || entry.gap.is_none_or(|(_, at)| at > now) {
                continue;
            }
            let before = entry.waiting.keys().next().map_or(entry.head, |first| first - 1);
            let upto = before.min(entry.delivered + FILL_MAX);
            entry.filling = true;
            if entry.waiting.is_empty() {
                self.stats.fills_after_heads += 1;
            } else {
                self.stats.fills_after_bus += 1;
            }
            gaps.push(Gap { room: room.clone(), after: entry.delivered, upto });
        }
        gaps
    }

    /// What the store had for a gap read (its posts, and the seqs of its deleted ones): what
    /// may go out now. Seqs it lacked are given up (the store is the log: what it does not
    /// hold was never stored).
    pub fn filled(&mut self, gap: &Gap, posts: Vec<Post>, removed: Vec<u64>, now: Instant) -> Vec<Released> {
        let Some(entry) = self.rooms.get_mut(&gap.room) else { return Vec::new() };
        entry.filling = false;
        if !entry.followed {
            return Vec::new();
        }
        let newest = posts.last().map(|p| p.seq).max(removed.last().copied());
        let read_all = newest.is_some_and(|seq| seq >= gap.upto);
        for post in posts.into_iter().filter(|p| p.room == gap.room && p.seq > entry.delivered) {
            entry.waiting.entry(post.seq).or_insert(Some(post));
        }
        for seq in removed.into_iter().filter(|seq| *seq > entry.delivered) {
            entry.waiting.insert(seq, None);
        }
        let mut out = self.release(&gap.room, now);
        if !read_all && self.delivered(&gap.room) <= gap.after {
            out.extend(self.give_up(&gap.room, now));
        }
        out
    }

    /// A gap read failed: it is read again after `gap_wait`, or given up after
    /// [`GIVE_UP_AFTER`].
    pub fn fill_failed(&mut self, gap: &Gap, now: Instant) -> Vec<Released> {
        let gap_wait = self.gap_wait;
        let Some(entry) = self.rooms.get_mut(&gap.room) else { return Vec::new() };
        entry.filling = false;
        match entry.gap {
            Some((since, _)) if now.duration_since(since) >= GIVE_UP_AFTER => self.give_up(&gap.room, now),
            Some((since, _)) => {
                entry.gap = Some((since, now + gap_wait));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// Gives up the room's current gap: the posts after it go out.
    fn give_up(&mut self, room: &RoomName, now: Instant) -> Vec<Released> {
        let Some(entry) = self.rooms.get_mut(room) else { return Vec::new() };
        self.stats.given_up += 1;
        entry.gap = None;
        entry.delivered = match entry.waiting.keys().next() {
            Some(first) => first - 1,
            None => entry.head,
        };
        self.release(room, now)
    }

    /// Releases the posts that follow the cursor without a gap, and notes whether a gap is
    /// left (and since when).
    fn release(&mut self, room: &RoomName, now: Instant) -> Vec<Released> {
        let Some(entry) = self.rooms.get_mut(room) else { return Vec::new() };
        let mut out = Vec::new();
        while let Some(post) = entry.waiting.remove(&(entry.delivered + 1)) {
            entry.delivered += 1;
            out.push(released(room, entry.delivered, post));
        }
        let gapped = !entry.waiting.is_empty() || entry.head > entry.delivered;
        if !gapped {
            entry.gap = None;
            self.gapped.remove(room);
        } else if entry.gap.is_none() {
            entry.gap = Some((now, now + self.gap_wait));
            self.gapped.insert(room.clone());
        }
        if entry.waiting.len() > WAITING_MAX {
            out.extend(self.give_up(room, now));
        }
        out
    }
}

fn released(room: &RoomName, seq: u64, post: Option<Post>) -> Released {
    match post {
        Some(post) => Released::Post(post),
        None => Released::Removed { room: room.clone(), seq },
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
