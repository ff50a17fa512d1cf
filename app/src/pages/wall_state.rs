//! A wall's state in the page: posts by seq (so duplicates collapse and order is by seq),
//! the author's pending posts, and what the server said about the room.

use super::room::membership::refused_for_good;
use crate::api::HistoryPage;
use crate::components::presence::Notice;
use crate::domain::{ClientId, PostText, Username};
use crate::protocol::{Post, ServerMsg, TYPING_SHOW_MS};
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How many arrivals and departures are remembered.
const NOTICES_KEPT: usize = 50;

/// What a server message asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    Nothing,
    /// A post arrived past a missing seq: join again from the last one held without a gap.
    Resync,
    /// The server could not replay everything missed: reload the page's history.
    Reload,
}

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

    /// The newest seq held with every post before it (back to the oldest held): what a
    /// (re)join asks the server to continue from, so a gap is always filled.
    pub fn last_seq(&self, first_page: &HistoryPage) -> Option<u64> {
        self.extra.with_untracked(|extra| {
            let mut seqs: Vec<u64> = extra.keys().copied().chain(first_page.posts.iter().map(|p| p.seq)).collect();
            seqs.sort_unstable();
            seqs.dedup();
            let mut last = *seqs.first()?;
            for seq in seqs.into_iter().skip(1) {
                if seq != last + 1 {
                    break;
                }
                last = seq;
            }
            Some(last)
        })
    }

    /// True when a live post arrived beyond a missing one.
    fn has_gap(&self, first_page: &HistoryPage) -> bool {
        let newest = self
            .extra
            .with_untracked(|m| m.last_key_value().map(|(seq, _)| *seq))
            .max(first_page.posts.last().map(|p| p.seq));
        newest != self.last_seq(first_page)
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

    /// Applies one arrival or departure; a notice only for a real change (a `presence` may
    /// repeat what a recent `joined` already showed).
    fn announce(&self, username: Username, joined: bool) {
        let mut changed = false;
        self.present.update(|p| {
            let p = p.get_or_insert_with(BTreeSet::new);
            changed = if joined { p.insert(username.clone()) } else { p.remove(&username) };
        });
        if !changed {
            return;
        }
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

    /// Applies one server message at `now_ms`, and says what the connection must do next.
    pub fn apply(&self, msg: ServerMsg, now_ms: i64, first_page: &HistoryPage) -> FollowUp {
        match msg {
            ServerMsg::Joined { history, present, truncated, .. } => {
                self.present.set(Some(present.into_iter().collect()));
                self.notice.set(None);
                if truncated {
                    return FollowUp::Reload;
                }
                self.add_posts(history);
            }
            ServerMsg::Post(post) => {
                self.typing.update(|t| {
                    t.remove(&post.username);
                });
                self.add_posts([post]);
                if self.has_gap(first_page) {
                    return FollowUp::Resync;
                }
            }
            ServerMsg::Presence { joined, left, .. } => {
                for username in left {
                    self.announce(username, false);
                }
                for username in joined {
                    self.announce(username, true);
                }
            }
            ServerMsg::Typing { username, .. } => self.typing.update(|t| {
                t.insert(username, now_ms + TYPING_SHOW_MS as i64);
            }),
            ServerMsg::Ack { client_id, .. } => {
                self.pending.update(|pending| pending.retain(|p| p.client_id != client_id));
            }
            ServerMsg::Error { code, message, client_id: Some(id) } if refused_for_good(code) => {
                self.pending.update(|pending| {
                    if let Some(p) = pending.iter_mut().find(|p| p.client_id == id) {
                        p.error = Some(message);
                    }
                })
            }
            // The socket sends it again (after joining again, or on the next connection): not failed.
            ServerMsg::Error { client_id: Some(_), .. } => {}
            ServerMsg::Error { message, client_id: None, .. } => self.notice.set(Some(message)),
            ServerMsg::Hello { .. } | ServerMsg::Left { .. } | ServerMsg::Pong => {}
        }
        FollowUp::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RoomName;
    use crate::protocol::ErrorCode;

    fn post(seq: u64) -> Post {
        Post {
            room: "lobby".parse().unwrap(),
            seq,
            client_id: format!("c{seq}").parse().unwrap(),
            username: "al".parse().unwrap(),
            text: "hi".parse().unwrap(),
            ts: 0,
        }
    }

    #[test]
    fn duplicates_collapse_and_a_gap_asks_for_a_resync() {
        let owner = Owner::new();
        owner.set();
        let state = WallState::new();
        let page = HistoryPage { posts: vec![post(1), post(2)], has_older: false, now_ms: 0 };
        assert_eq!(state.apply(ServerMsg::Post(post(2)), 0, &page), FollowUp::Nothing);
        assert_eq!(state.posts_newest_first(&page).iter().map(|p| p.seq).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(state.apply(ServerMsg::Post(post(4)), 0, &page), FollowUp::Resync);
        assert_eq!(state.last_seq(&page), Some(2), "resume from before the gap");
        assert_eq!(state.apply(ServerMsg::Post(post(3)), 0, &page), FollowUp::Nothing);
        assert_eq!(state.last_seq(&page), Some(4));
        assert_eq!(state.posts_newest_first(&page).iter().map(|p| p.seq).collect::<Vec<_>>(), [4, 3, 2, 1]);
    }

    #[test]
    fn an_acknowledged_or_broadcast_post_is_no_longer_pending() {
        let owner = Owner::new();
        owner.set();
        let state = WallState::new();
        let page = HistoryPage { posts: vec![], has_older: false, now_ms: 0 };
        let pending = |id: &str| Pending { client_id: id.parse().unwrap(), text: "hi".parse().unwrap(), error: None };
        state.pending.set(vec![pending("c1"), pending("c2")]);
        state.apply(ServerMsg::Post(post(1)), 0, &page);
        state.apply(
            ServerMsg::Ack { room: "lobby".parse().unwrap(), client_id: "c2".parse().unwrap(), seq: 2 },
            0,
            &page,
        );
        assert!(state.pending.get_untracked().is_empty());
    }

    #[test]
    fn a_post_that_will_be_retried_is_not_shown_as_failed() {
        let owner = Owner::new();
        owner.set();
        let state = WallState::new();
        let page = HistoryPage { posts: vec![], has_older: false, now_ms: 0 };
        let pending = |id: &str| Pending { client_id: id.parse().unwrap(), text: "hi".parse().unwrap(), error: None };
        state.pending.set(vec![pending("c1"), pending("c2")]);
        let error =
            |code, id: &str| ServerMsg::Error { code, message: "no".into(), client_id: Some(id.parse().unwrap()) };
        state.apply(error(ErrorCode::NotJoined, "c1"), 0, &page);
        state.apply(error(ErrorCode::InvalidText, "c2"), 0, &page);
        let errors: Vec<Option<String>> = state.pending.get_untracked().into_iter().map(|p| p.error).collect();
        assert_eq!(errors, [None, Some("no".to_owned())]);
    }

    #[test]
    fn presence_changes_apply_as_sets_with_a_notice_per_real_change() {
        let owner = Owner::new();
        owner.set();
        let state = WallState::new();
        let page = HistoryPage { posts: vec![], has_older: false, now_ms: 0 };
        let names = |list: &[&str]| list.iter().map(|n| n.parse().unwrap()).collect::<Vec<Username>>();
        let room: RoomName = "lobby".parse().unwrap();
        let joined = ServerMsg::Joined {
            room: room.clone(),
            history: vec![],
            members: 2,
            present: names(&["al", "bo"]),
            truncated: false,
        };
        state.apply(joined, 0, &page);
        // Repeats al and bo (already shown), brings cy, takes away bo and dee (never shown).
        let presence =
            ServerMsg::Presence { room, joined: names(&["al", "cy"]), left: names(&["bo", "dee"]), members: 2 };
        state.apply(presence, 0, &page);
        let present: Vec<String> = state.present.get_untracked().unwrap().iter().map(|u| u.to_string()).collect();
        assert_eq!(present, ["al", "cy"]);
        let notices: Vec<(String, bool)> =
            state.notices.get_untracked().into_iter().map(|n| (n.username, n.joined)).collect();
        assert_eq!(notices, [("bo".to_owned(), false), ("cy".to_owned(), true)]);
    }
}
