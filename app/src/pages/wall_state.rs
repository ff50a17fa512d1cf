//! A wall's state in the page: posts by seq (so duplicates collapse and order is by seq),
//! the author's pending posts, and what the server said about the room.

use crate::api::HistoryPage;
use crate::domain::{ClientId, PostText};
use crate::protocol::{Post, ServerMsg};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// A post this browser sent that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client_id: ClientId,
    pub text: PostText,
    /// Why the server refused it, if it did.
    pub error: Option<String>,
}

/// Every signal a wall needs; `Copy` so closures can share it.
#[derive(Clone, Copy)]
pub struct WallState {
    /// Posts learnt after the first render: live ones and older pages.
    pub extra: RwSignal<BTreeMap<u64, Post>>,
    pub pending: RwSignal<Vec<Pending>>,
    pub members: RwSignal<Option<u32>>,
    pub has_older: RwSignal<Option<bool>>,
    /// A problem with the connection that concerns no single post.
    pub notice: RwSignal<Option<String>>,
    /// The browser's clock once it ticks; before that the page's server time is used.
    pub now_ms: RwSignal<Option<i64>>,
}

// `last_seq`, `add_posts` and `apply` serve the browser build (and the unit tests).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl WallState {
    pub fn new() -> Self {
        Self {
            extra: RwSignal::new(BTreeMap::new()),
            pending: RwSignal::new(Vec::new()),
            members: RwSignal::new(None),
            has_older: RwSignal::new(None),
            notice: RwSignal::new(None),
            now_ms: RwSignal::new(None),
        }
    }

    /// The first page merged with everything learnt since, newest first.
    pub fn posts_newest_first(&self, first_page: &HistoryPage) -> Vec<Post> {
        let mut all = self.extra.get();
        for post in &first_page.posts {
            all.entry(post.seq).or_insert_with(|| post.clone());
        }
        all.into_values().rev().collect()
    }

    /// The newest seq shown, which a (re)join asks the server to continue from.
    pub fn last_seq(&self, first_page: &HistoryPage) -> Option<u64> {
        let extra = self.extra.with_untracked(|m| m.last_key_value().map(|(seq, _)| *seq));
        extra.max(first_page.posts.last().map(|p| p.seq))
    }

    pub fn add_posts(&self, posts: impl IntoIterator<Item = Post>) {
        let posts: Vec<Post> = posts.into_iter().collect();
        if posts.is_empty() {
            return;
        }
        self.pending.update(|pending| pending.retain(|p| !posts.iter().any(|post| post.client_id == p.client_id)));
        self.extra.update(|map| map.extend(posts.into_iter().map(|p| (p.seq, p))));
    }

    /// Applies one server message. Returns true when the page must reload its history
    /// (the server could not replay everything that was missed).
    pub fn apply(&self, msg: ServerMsg) -> bool {
        match msg {
            ServerMsg::Joined { history, members, truncated, .. } => {
                self.members.set(Some(members));
                self.notice.set(None);
                if truncated {
                    return true;
                }
                self.add_posts(history);
            }
            ServerMsg::Post(post) => self.add_posts([post]),
            ServerMsg::Ack { client_id, .. } => {
                self.pending.update(|pending| pending.retain(|p| p.client_id != client_id));
            }
            ServerMsg::Members { count, .. } => self.members.set(Some(count)),
            ServerMsg::Error { message, client_id: Some(id), .. } => self.pending.update(|pending| {
                if let Some(p) = pending.iter_mut().find(|p| p.client_id == id) {
                    p.error = Some(message);
                }
            }),
            ServerMsg::Error { message, client_id: None, .. } => self.notice.set(Some(message)),
            ServerMsg::Hello { .. } | ServerMsg::Left { .. } => {}
        }
        false
    }
}
