//! A wall's state in the page: posts by seq (so duplicates collapse and order is by seq),
//! the author's pending posts, and what the server said about the room.

use crate::api::HistoryPage;
use crate::components::presence::Notice;
use crate::domain::{ClientId, PostText, Username};
use crate::protocol::{Post, ServerMsg, TYPING_SHOW_MS};
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How many arrivals and departures are remembered.
const NOTICES_KEPT: usize = 50;

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
    /// Who is here now; `None` until joined.
    pub present: RwSignal<Option<BTreeSet<Username>>>,
    pub notices: RwSignal<Vec<Notice>>,
    /// Who is typing, with when their indicator expires (browser clock, ms).
    pub typing: RwSignal<BTreeMap<Username, i64>>,
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
            present: RwSignal::new(None),
            notices: RwSignal::new(Vec::new()),
            typing: RwSignal::new(BTreeMap::new()),
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

    fn announce(&self, username: Username, joined: bool) {
        self.present.update(|p| {
            let p = p.get_or_insert_with(BTreeSet::new);
            if joined {
                p.insert(username.clone());
            } else {
                p.remove(&username);
            }
        });
        if !joined {
            self.typing.update(|t| {
                t.remove(&username);
            });
        }
        self.notices.update(|n| {
            n.push(Notice { username: username.to_string(), joined });
            let excess = n.len().saturating_sub(NOTICES_KEPT);
            n.drain(..excess);
        });
    }

    /// Applies one server message at `now_ms`. Returns true when the page must reload its
    /// history (the server could not replay everything that was missed).
    pub fn apply(&self, msg: ServerMsg, now_ms: i64) -> bool {
        match msg {
            ServerMsg::Joined { history, present, truncated, .. } => {
                self.present.set(Some(present.into_iter().collect()));
                self.notice.set(None);
                if truncated {
                    return true;
                }
                self.add_posts(history);
            }
            ServerMsg::Post(post) => {
                self.typing.update(|t| {
                    t.remove(&post.username);
                });
                self.add_posts([post]);
            }
            ServerMsg::UserJoined { username, .. } => self.announce(username, true),
            ServerMsg::UserLeft { username, .. } => self.announce(username, false),
            ServerMsg::Typing { username, .. } => self.typing.update(|t| {
                t.insert(username, now_ms + TYPING_SHOW_MS as i64);
            }),
            ServerMsg::Ack { client_id, .. } => {
                self.pending.update(|pending| pending.retain(|p| p.client_id != client_id));
            }
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
