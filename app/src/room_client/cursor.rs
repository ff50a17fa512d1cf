//! Where a client resumes: the newest seq it holds with every post before it (back to the
//! first one it held), and which posts it already has past a gap, so each post is handed on
//! once however often the server repeats it; and the oldest seq it holds, so a resume can
//! ask which of its posts were deleted meanwhile. A deleted post's seq counts as held.

use std::collections::BTreeSet;

/// What a post's seq means to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Next in line (or filling a gap): hand it on.
    New,
    /// Held already: drop it.
    Duplicate,
    /// Beyond a missing seq: hand it on, and join again from [`Cursor::since`] to fill the gap.
    PastGap,
}

#[derive(Debug, Default)]
pub struct Cursor {
    /// The newest seq held without a gap; `None` before the first post.
    last: Option<u64>,
    /// Seqs held beyond `last + 1`, waiting for the gap below them to fill.
    ahead: BTreeSet<u64>,
    /// The oldest seq held.
    first: Option<u64>,
}

impl Cursor {
    /// A cursor for a client that already holds every post up to `since` (the server-rendered
    /// page, say); `None` takes whatever comes first as the start.
    pub fn starting_at(since: Option<u64>) -> Self {
        Self { last: since, ahead: BTreeSet::new(), first: None }
    }

    /// Also holds the posts from `seq` on (a page rendered by the server, older posts read).
    pub fn holding_from(&mut self, seq: u64) {
        self.first = Some(self.first.map_or(seq, |first| first.min(seq)));
    }

    /// The oldest seq held, for a join's `from`.
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// What a (re)join asks the server to continue from.
    pub fn since(&self) -> Option<u64> {
        self.last
    }

    /// True while some post beyond a missing seq is held.
    pub fn has_gap(&self) -> bool {
        !self.ahead.is_empty()
    }

    /// Takes in a post's seq.
    pub fn take(&mut self, seq: u64) -> Seen {
        self.holding_from(seq);
        let Some(last) = self.last else {
            self.last = Some(seq);
            return Seen::New;
        };
        if seq <= last || self.ahead.contains(&seq) {
            return Seen::Duplicate;
        }
        if seq > last + 1 {
            self.ahead.insert(seq);
            return Seen::PastGap;
        }
        let mut last = seq;
        while self.ahead.remove(&(last + 1)) {
            last += 1;
        }
        self.last = Some(last);
        Seen::New
    }
}
