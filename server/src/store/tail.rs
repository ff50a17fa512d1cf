//! The newest entries of recently read rooms, in memory, so that a room's first page (what
//! every room page renders and every plain join replays) is answered without a database read.
//!
//! A tail is made only from a read that no write of its room overlapped: the store's version
//! lives here and is bumped under the same lock that updates the tails, and each tail counts
//! the writes that changed it; a read is kept if the version is unchanged since it started,
//! or if the room's tail then is still there and saw no write. After that the store's own
//! writes keep it current: a new
//! post is appended when its seq follows the tail's last (a room's seqs are dense), skipped
//! when the tail has it already, and ends the tail when it would leave a gap; a deletion
//! turns the tail's copy into a tombstone. A write that does not finish telling the tails
//! (a failed or cancelled commit) makes them forget everything.
//!
//! Only this process's writes are seen, so a tail is trusted for [`TRUSTED_FOR`] and then
//! read again: what another process writes to the same SQLite file (a second server started
//! by mistake, a hand edit) shows within that, as with the page cache. Not kept at all on
//! PostgreSQL, which other nodes write all the time.
//!
//! Each post is kept with its JSON ([`PostJson`]), made when the post joins the tail: a room
//! page rendered from the tail, or a plain join's history, writes it instead of serialising
//! the post again. A tail read again (every [`TRUSTED_FOR`]) makes it again, once.
//!
//! Bounded: at most [`MAX_ROOMS`] tails and [`MAX_BYTES`] of posts; past either the least
//! recently used tail goes: when there are too many, rooms without posts first (pages of
//! made-up rooms push out only each other, and while fewer than 256 rooms with posts hold
//! tails a crowd joining a new room reads it about once a second); when they weigh too
//! much, only tails with posts (an empty one frees nothing).

use super::{Entries, Inserted};
use app::api::PostJson;
use app::domain::RoomName;
use app::protocol::{Post, HISTORY_PAGE};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries (posts and tombstones) a tail holds: one room page.
pub const TAIL_LEN: u32 = HISTORY_PAGE;
/// Rooms with a tail at most.
const MAX_ROOMS: usize = 256;
/// Bytes of posts all tails hold at most, their JSON included (50 posts of 2,000 four-byte
/// characters are 800 KB with it).
const MAX_BYTES: usize = 8 << 20;
/// What a post costs besides its strings and JSON: the struct, the deque slot, six allocations.
const POST_OVERHEAD: usize = 256;
/// How long a tail is trusted before it is read again.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Tails {
    /// Bumped whenever stored posts change: equal versions mean equal posts.
    version: AtomicU64,
    /// `None` when tails are not kept (another process writes the database too).
    kept: Option<Mutex<Kept>>,
}

#[derive(Debug, Default)]
struct Kept {
    rooms: HashMap<RoomName, Tail>,
    bytes: usize,
    /// Counts uses, so the least recently used tail is the one with the smallest `used`.
    clock: u64,
}

/// A room's newest entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    entries: VecDeque<Entry>,
    /// Whether the room has entries older than the first here.
    has_older: bool,
    bytes: usize,
    used: u64,
    read_at: Instant,
    /// Which tail this is (the clock when it was kept), and how many writes changed it since:
    /// a room's re-read is good if its tail saw no write meanwhile, whatever other rooms did.
    id: u64,
    changes: u64,
}

/// What a read of a room's first page started from: the version, the room's tail then (its
/// id and changes), and the moment.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    version: u64,
    tail: Option<(u64, u64)>,
    at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Post(Post, PostJson),
    Removed(u64),
}

impl Entry {
    fn post(post: Post) -> Self {
        let json = PostJson::of(&post);
        Entry::Post(post, json)
    }

    fn seq(&self) -> u64 {
        match self {
            Entry::Post(post, _) => post.seq,
            Entry::Removed(seq) => *seq,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Entry::Post(p, json) => {
                let strings = [p.text.as_str(), p.username.as_str(), p.room.as_str(), p.client_id.as_str()];
                POST_OVERHEAD + strings.iter().map(|s| s.len()).sum::<usize>() + json.bytes()
            }
            Entry::Removed(_) => POST_OVERHEAD,
        }
    }
}

impl Tail {
    /// The tail a read of a room's newest [`TAIL_LEN`] entries makes.
    pub fn read(entries: Entries, has_older: bool) -> Self {
        let mut posts = entries.posts.into_iter().peekable();
        let mut removed = entries.removed.into_iter().peekable();
        let mut merged = VecDeque::with_capacity(TAIL_LEN as usize);
        loop {
            let entry = match (posts.peek(), removed.peek()) {
                (Some(post), Some(seq)) if post.seq < *seq => posts.next().map(Entry::post),
                (_, Some(_)) => removed.next().map(Entry::Removed),
                (Some(_), None) => posts.next().map(Entry::post),
                (None, None) => break,
            };
            merged.extend(entry);
        }
        let bytes = merged.iter().map(Entry::bytes).sum();
        Self { entries: merged, has_older, bytes, used: 0, read_at: Instant::now(), id: 0, changes: 0 }
    }

    /// The newest `limit` entries (at most [`TAIL_LEN`]) oldest first, and whether older ones
    /// exist: what the database's page would be, with the posts' JSON.
    pub fn page(&self, limit: u32) -> (Entries, bool) {
        let skip = self.entries.len().saturating_sub(limit as usize);
        let mut page = Entries::default();
        let mut json = Vec::with_capacity(self.entries.len() - skip);
        for entry in self.entries.iter().skip(skip) {
            match entry {
                Entry::Post(post, post_json) => {
                    page.posts.push(post.clone());
                    json.push(post_json.clone());
                }
                Entry::Removed(seq) => page.removed.push(*seq),
            }
        }
        page.posts_json = Some(json);
        (page, self.has_older || skip > 0)
    }

    /// The room's newest seq (0 for a room without posts).
    fn last_seq(&self) -> u64 {
        self.entries.back().map_or(0, Entry::seq)
    }

    /// Appends a newly stored post; false when the tail can no longer say what the room's
    /// newest entries are (the post would leave a gap).
    fn append(&mut self, post: &Post) -> bool {
        let last = self.last_seq();
        if post.seq <= last {
            return true;
        }
        if post.seq != last + 1 {
            return false;
        }
        let entry = Entry::post(post.clone());
        self.changes += 1;
        self.bytes += entry.bytes();
        self.entries.push_back(entry);
        if self.entries.len() > TAIL_LEN as usize {
            self.bytes -= self.entries.pop_front().as_ref().map_or(0, Entry::bytes);
            self.has_older = true;
        }
        true
    }

    fn remove(&mut self, seq: u64) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.seq() == seq) {
            self.changes += 1;
            self.bytes -= entry.bytes();
            *entry = Entry::Removed(seq);
            self.bytes += entry.bytes();
        }
    }
}

impl Tails {
    /// Tails that keep nothing unless `keep` (this process is the database's only writer).
    pub fn new(keep: bool) -> Self {
        Self { version: AtomicU64::new(0), kept: keep.then(Mutex::default) }
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether tails are kept at all.
    pub fn keeps(&self) -> bool {
        self.kept.is_some()
    }

    /// Notes what a read of `room`'s first page starts from, for [`Tails::keep`].
    pub fn before_reading(&self, room: &RoomName) -> Before {
        let kept = self.lock();
        let tail = kept.as_ref().and_then(|k| k.rooms.get(room)).map(|t| (t.id, t.changes));
        Before { version: self.version(), tail, at: Instant::now() }
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Kept>> {
        self.kept.as_ref().map(|kept| kept.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The room's first page of `limit` entries, if its tail is known and recent.
    pub fn first_page(&self, room: &RoomName, limit: u32) -> Option<(Entries, bool)> {
        let mut kept = self.lock()?;
        kept.clock += 1;
        let clock = kept.clock;
        let tail = kept.rooms.get_mut(room).filter(|t| t.read_at.elapsed() < TRUSTED_FOR)?;
        tail.used = clock;
        Some(tail.page(limit))
    }

    /// Keeps the tail read from the database, unless a write may have come between the read
    /// and `before`: stored posts changed since, and the room had no tail then that shows
    /// it saw none. Trusted from the moment the read started.
    pub fn keep(&self, room: &RoomName, before: Before, mut tail: Tail) {
        let Some(mut kept) = self.lock() else { return };
        let unchanged = self.version() == before.version
            || before.tail.is_some() && kept.rooms.get(room).map(|t| (t.id, t.changes)) == before.tail;
        if !unchanged {
            return;
        }
        kept.clock += 1;
        (tail.used, tail.id, tail.read_at) = (kept.clock, kept.clock, before.at);
        kept.forget(room);
        kept.bytes += tail.bytes;
        kept.rooms.insert(room.clone(), tail);
        kept.shrink();
    }

    /// Starts a write: the tails hear how it ended, or forget everything.
    pub fn write(&self) -> Write<'_> {
        Write::new(self)
    }

    /// A commit stored `answers`: the new posts join their rooms' tails (counted as changes).
    /// The version is bumped under the same lock, so a read that missed them is never kept.
    fn stored(&self, answers: &[Inserted]) {
        let mut kept = self.lock();
        if let Some(kept) = kept.as_mut() {
            for answer in answers {
                if let Inserted::New(post) = answer {
                    kept.append(post);
                }
            }
            kept.shrink();
        }
        if answers.iter().any(|a| matches!(a, Inserted::New(_))) {
            self.version.fetch_add(1, Ordering::Release);
        }
        drop(kept);
    }

    /// A post was deleted: its tail keeps only its seq.
    fn deleted(&self, room: &RoomName, seq: u64) {
        let mut kept = self.lock();
        if let Some(kept) = kept.as_mut() {
            if let Some(tail) = kept.rooms.get_mut(room) {
                let before = tail.bytes;
                tail.remove(seq);
                let after = tail.bytes;
                kept.bytes = kept.bytes - before + after;
            }
        }
        self.version.fetch_add(1, Ordering::Release);
        drop(kept);
    }

    /// Posts may have changed without this process writing them: forget every tail.
    pub fn changed_elsewhere(&self) {
        let mut kept = self.lock();
        if let Some(kept) = kept.as_mut() {
            kept.rooms.clear();
            kept.bytes = 0;
        }
        self.version.fetch_add(1, Ordering::Release);
        drop(kept);
    }
}

impl Kept {
    fn append(&mut self, post: &Post) {
        let Some(tail) = self.rooms.get_mut(&post.room) else { return };
        let before = tail.bytes;
        if tail.append(post) {
            let after = tail.bytes;
            self.bytes = self.bytes - before + after;
        } else {
            self.forget(&post.room);
        }
    }

    fn forget(&mut self, room: &RoomName) {
        if let Some(tail) = self.rooms.remove(room) {
            self.bytes -= tail.bytes;
        }
    }

    /// Lets the least recently used tails go until both bounds hold: empty ones first while
    /// there are too many, only ones with posts while they weigh too much.
    fn shrink(&mut self) {
        while self.rooms.len() > MAX_ROOMS || self.bytes > MAX_BYTES {
            let too_many = self.rooms.len() > MAX_ROOMS;
            let oldest = self
                .rooms
                .iter()
                .filter(|(_, t)| too_many || !t.entries.is_empty())
                .min_by_key(|(_, t)| (!t.entries.is_empty(), t.used))
                .map(|(room, _)| room.clone());
            let Some(oldest) = oldest else { return };
            self.forget(&oldest);
        }
    }
}

#[path = "tail_write.rs"]
mod write;
pub use write::Write;

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
