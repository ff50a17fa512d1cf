//! A wall's state in the page: seeded once with the server-rendered page, then it owns every
//! post after it (live ones, replayed ones, older pages), keyed by seq so order is by seq and
//! a repeat replaces nothing. It takes in the room client's [`Event`]s; the rules behind them
//! (resume, outbox, presence as sets) live in [`crate::room_client`].

use crate::api::HistoryPage;
use crate::components::presence::Notice;
use crate::domain::{ClientId, PostText, Username};
use crate::protocol::{Post, TYPING_SHOW_MS};
use crate::room_client::Event;
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How many deletions of posts not shown are remembered (to keep older pages from showing
/// them).
const UNSEEN_KEPT: usize = 1_000;

/// How many arrivals and departures are remembered.
const NOTICES_KEPT: usize = 50;

/// A post this browser wrote that is not on the wall yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client_id: ClientId,
    pub text: PostText,
    /// Why the server refused it for good, if it did.
    pub error: Option<String>,
}

/// One entry of the wall as shown: a post, or where a deleted one was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Post(Post),
    Removed(u64),
}

impl Shown {
    /// Changes when a post is deleted, so the list redraws it.
    pub fn key(&self) -> (u64, bool) {
        match self {
            Shown::Post(post) => (post.seq, false),
            Shown::Removed(seq) => (*seq, true),
        }
    }
}

/// Every signal a wall needs; `Copy` so closures can share it.
#[derive(Clone, Copy)]
pub struct WallState {
    pub posts: RwSignal<BTreeMap<u64, Post>>,
    /// Seqs of posts shown here and deleted since (their text is dropped from `posts`).
    pub removed: RwSignal<BTreeSet<u64>>,
    /// Seqs told deleted while not shown: an older page read before the deletion must not
    /// bring their text back.
    unseen_deleted: StoredValue<BTreeSet<u64>>,
    /// Posts being sent (the room client's outbox), then the ones refused for good.
    pub pending: RwSignal<Vec<Pending>>,
    /// Who is here now; `None` until joined.
    pub present: RwSignal<Option<Vec<Username>>>,
    /// Connections watching without a name (this page's own too, until it has a name).
    pub watching: RwSignal<u32>,
    pub notices: RwSignal<Vec<Notice>>,
    /// Who is typing, with when their indicator expires (browser clock, ms).
    pub typing: RwSignal<BTreeMap<Username, i64>>,
    pub has_older: RwSignal<bool>,
    /// A problem with the connection that concerns no single post.
    pub notice: RwSignal<Option<String>>,
    /// The moderator this page is signed in as (it may delete any post, and block).
    pub moderator: RwSignal<Option<Username>>,
    /// The name this page tried and someone else holds, until another is chosen.
    pub name_taken: RwSignal<Option<Username>>,
    /// The clock relative times are shown against: the server's at first, then the browser's.
    pub now_ms: RwSignal<i64>,
    /// Most posts held: older ones leave as new ones come (the projector runs all day).
    keep: usize,
}

// `apply`, `add_older` and the typing clock serve the browser build (and the unit tests).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl WallState {
    /// The state of a wall showing `page`, the newest posts the server rendered, and every
    /// post after it.
    pub fn seeded(page: &HistoryPage) -> Self {
        Self::seeded_keeping(page, usize::MAX)
    }

    /// The state of a wall showing at most the `keep` newest posts, from `page` on.
    pub fn seeded_keeping(page: &HistoryPage, keep: usize) -> Self {
        let newest = page.posts.iter().rev().take(keep);
        let removed = page.removed.iter().rev().take(keep).copied();
        Self {
            posts: RwSignal::new(newest.map(|p| (p.seq, p.clone())).collect()),
            removed: RwSignal::new(removed.collect()),
            unseen_deleted: StoredValue::new(BTreeSet::new()),
            pending: RwSignal::new(Vec::new()),
            present: RwSignal::new(None),
            watching: RwSignal::new(0),
            notices: RwSignal::new(Vec::new()),
            typing: RwSignal::new(BTreeMap::new()),
            has_older: RwSignal::new(page.has_older),
            notice: RwSignal::new(None),
            name_taken: RwSignal::new(None),
            moderator: RwSignal::new(None),
            now_ms: RwSignal::new(page.now_ms),
            keep,
        }
    }

    pub fn posts_newest_first(&self) -> Vec<Post> {
        self.posts.with(|posts| posts.values().rev().cloned().collect())
    }

    /// The posts and the places of deleted ones, newest first.
    pub fn shown_newest_first(&self) -> Vec<Shown> {
        let mut shown: Vec<Shown> = self.posts.with(|posts| posts.values().cloned().map(Shown::Post).collect());
        shown.extend(self.removed.with(|removed| removed.iter().copied().map(Shown::Removed).collect::<Vec<_>>()));
        shown.sort_unstable_by_key(|s| std::cmp::Reverse(s.key().0));
        shown
    }

    /// The oldest seq shown, a removed post's included: where "Older posts" continues.
    pub fn oldest_seq(&self) -> Option<u64> {
        let post = self.posts.with_untracked(|posts| posts.keys().next().copied());
        let removed = self.removed.with_untracked(|removed| removed.first().copied());
        match (post, removed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds a page of older posts (those deleted since it was read stay removed).
    pub fn add_older(&self, page: HistoryPage) {
        self.has_older.set(page.has_older);
        let unseen = self.unseen_deleted.get_value();
        let (gone, live): (Vec<Post>, Vec<Post>) =
            Vec::from(page.posts).into_iter().partition(|p| unseen.contains(&p.seq));
        self.posts.update(|posts| posts.extend(live.into_iter().map(|p| (p.seq, p))));
        self.removed.update(|r| r.extend(page.removed.into_iter().chain(gone.iter().map(|p| p.seq))));
    }

    /// Names of people typing (expired ones are pruned by `expire_typing`), except `me`.
    pub fn typing_names(&self, me: Option<&str>) -> Vec<String> {
        self.typing.with(|t| t.keys().filter(|name| Some(name.as_str()) != me).map(|n| n.to_string()).collect())
    }

    /// Forgets typing indicators that have expired.
    pub fn expire_typing(&self, now_ms: i64) {
        if self.typing.with_untracked(|t| t.values().any(|until| *until <= now_ms)) {
            self.typing.update(|t| t.retain(|_, until| *until > now_ms));
        }
    }

    /// Shows one event from the room client, at `now_ms` by the browser's clock.
    pub fn apply(&self, event: Event, now_ms: i64) {
        match event {
            Event::Live => self.notice.set(None),
            Event::Posts(posts) => {
                self.typing.update(|t| posts.iter().for_each(|p| _ = t.remove(&p.username)));
                let keep = self.keep;
                self.posts.update(|all| {
                    all.extend(posts.into_iter().map(|p| (p.seq, p)));
                    while all.len() > keep {
                        all.pop_first();
                    }
                });
            }
            Event::Presence { present, watching, arrived, left } => {
                self.present.set(Some(present));
                self.watching.set(watching);
                self.typing.update(|t| left.iter().for_each(|name| _ = t.remove(name)));
                let changes = left.into_iter().map(|n| (n, false)).chain(arrived.into_iter().map(|n| (n, true)));
                let mut fresh: Vec<Notice> =
                    changes.map(|(name, joined)| Notice { username: name.to_string(), joined }).collect();
                if !fresh.is_empty() {
                    self.notices.update(|n| {
                        n.append(&mut fresh);
                        n.drain(..n.len().saturating_sub(NOTICES_KEPT));
                    });
                }
            }
            Event::Deleted(seqs) => {
                let keep = self.keep;
                let (shown, unseen): (Vec<u64>, Vec<u64>) =
                    self.posts.with_untracked(|posts| seqs.into_iter().partition(|seq| posts.contains_key(seq)));
                self.unseen_deleted.update_value(|told| {
                    told.extend(unseen);
                    while told.len() > keep.min(UNSEEN_KEPT) {
                        told.pop_first();
                    }
                });
                if shown.is_empty() {
                    return;
                }
                self.posts.update(|posts| shown.iter().for_each(|seq| _ = posts.remove(seq)));
                self.removed.update(|removed| {
                    removed.extend(shown);
                    while removed.len() > keep {
                        removed.pop_first();
                    }
                });
            }
            Event::Moderating(name) => self.moderator.set(Some(name)),
            Event::AuthorBlocked { seq, until_ms } => {
                let minutes = ((until_ms - now_ms).max(0) + 59_999) / 60_000;
                self.notice.set(Some(format!("The author of post {seq} may not post for {minutes} min.")))
            }
            Event::Typing(username) => self.typing.update(|t| _ = t.insert(username, now_ms + TYPING_SHOW_MS as i64)),
            Event::Outbox(entries) => self.pending.update(|pending| {
                pending.retain(|p| p.error.is_some());
                let sending =
                    entries.into_iter().map(|e| Pending { client_id: e.client_id, text: e.text, error: None });
                pending.splice(0..0, sending);
            }),
            Event::Refused { post, message, .. } => self
                .pending
                .update(|p| p.push(Pending { client_id: post.client_id, text: post.text, error: Some(message) })),
            Event::Notice { message, .. } => self.notice.set(Some(message)),
            Event::NameTaken(name) => self.name_taken.set(Some(name)),
            // The page's browser half keeps the secret.
            Event::Claimed { .. } => self.name_taken.set(None),
            // The page's browser half reloads the page on `HistoryTruncated`.
            // A delayed post stays pending: the room client sends it again.
            Event::Stored { .. } | Event::Delayed { .. } | Event::HistoryTruncated => {}
        }
    }
}

#[cfg(test)]
mod tests;
