use super::*;
use crate::protocol::ErrorCode;
use crate::room_client::OutboxEntry;

fn post(seq: u64) -> Post {
    Post {
        room: "lobby".parse().unwrap(),
        seq,
        client_id: format!("c{seq}").parse().unwrap(),
        username: "al".parse().unwrap(),
        text: "hi".parse().unwrap(),
        ts: 0,
        fingerprint: None,
    }
}

fn page(posts: Vec<Post>, has_older: bool) -> HistoryPage {
    HistoryPage { posts: posts.into(), removed: Vec::new(), has_older, now_ms: 0 }
}

fn entry(id: &str) -> OutboxEntry {
    OutboxEntry { client_id: id.parse().unwrap(), text: "hi".parse().unwrap() }
}

fn names(list: &[&str]) -> Vec<Username> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

fn seqs(state: &WallState) -> Vec<u64> {
    state.posts_newest_first().iter().map(|p| p.seq).collect()
}

/// A wall seeded with `first`, inside a reactive owner.
fn wall(first: HistoryPage) -> (Owner, WallState) {
    let owner = Owner::new();
    owner.set();
    let state = WallState::seeded(&first);
    (owner, state)
}

#[test]
fn the_rendered_page_seeds_the_wall_and_later_posts_and_older_pages_join_it_by_seq() {
    let (_owner, state) = wall(page(vec![post(3), post(4)], true));
    assert_eq!(seqs(&state), [4, 3]);
    state.apply(Event::Posts(vec![post(6), post(5)]), 0);
    assert_eq!(seqs(&state), [6, 5, 4, 3]);
    assert_eq!(state.oldest_seq(), Some(3));
    state.add_older(page(vec![post(1), post(2)], false));
    assert_eq!(seqs(&state), [6, 5, 4, 3, 2, 1]);
    assert!(!state.has_older.get_untracked());
}

#[test]
fn pending_follows_the_outbox_and_a_refused_post_stays_shown_as_failed() {
    let (_owner, state) = wall(page(vec![], false));
    state.apply(Event::Outbox(vec![entry("c1"), entry("c2")]), 0);
    state.apply(Event::Outbox(vec![entry("c2")]), 0);
    let refused = Event::Refused { post: entry("c2"), code: ErrorCode::InvalidText, message: "no".into() };
    state.apply(Event::Outbox(vec![]), 0);
    state.apply(refused, 0);
    state.apply(Event::Outbox(vec![entry("c3")]), 0);
    let pending: Vec<(String, Option<String>)> =
        state.pending.get_untracked().into_iter().map(|p| (p.client_id.to_string(), p.error)).collect();
    assert_eq!(pending, [("c3".to_owned(), None), ("c2".to_owned(), Some("no".to_owned()))]);
}

#[test]
fn presence_shows_the_list_and_a_notice_per_change() {
    let (_owner, state) = wall(page(vec![], false));
    state.apply(Event::Presence { present: names(&["al", "bo"]), watching: 3, arrived: vec![], left: vec![] }, 0);
    assert!(state.notices.get_untracked().is_empty(), "joining shows the list, not who arrived");
    state.apply(
        Event::Presence { present: names(&["al", "cy"]), watching: 2, arrived: names(&["cy"]), left: names(&["bo"]) },
        0,
    );
    assert_eq!(state.present.get_untracked(), Some(names(&["al", "cy"])));
    let notices: Vec<(String, bool)> =
        state.notices.get_untracked().into_iter().map(|n| (n.username, n.joined)).collect();
    assert_eq!(notices, [("bo".to_owned(), false), ("cy".to_owned(), true)]);
}

#[test]
fn typing_shows_until_it_expires_or_the_author_posts() {
    let (_owner, state) = wall(page(vec![], false));
    state.apply(Event::Typing("al".parse().unwrap()), 1_000);
    state.apply(Event::Typing("bo".parse().unwrap()), 1_000);
    assert_eq!(state.typing_names(Some("bo")), ["al"], "not one's own");
    state.apply(Event::Posts(vec![post(1)]), 1_100);
    assert!(state.typing_names(None) == ["bo"], "al posted");
    state.expire_typing(1_000 + TYPING_SHOW_MS as i64);
    assert!(state.typing_names(None).is_empty());
}

#[test]
fn a_notice_shows_until_the_room_answers_again() {
    let (_owner, state) = wall(page(vec![], false));
    state.apply(Event::Notice { code: ErrorCode::RateLimited, message: "slow down".into() }, 0);
    assert_eq!(state.notice.get_untracked().as_deref(), Some("slow down"));
    state.apply(Event::Live, 0);
    assert_eq!(state.notice.get_untracked(), None);
}

#[test]
fn a_wall_keeping_n_posts_holds_the_newest_n_however_many_arrive() {
    let owner = Owner::new();
    owner.set();
    let state = WallState::seeded_keeping(&page((1..=5).map(post).collect(), false), 3);
    assert_eq!(seqs(&state), [5, 4, 3], "seeded with the newest three");
    for seq in 6..=2_000 {
        state.apply(Event::Posts(vec![post(seq)]), 0);
    }
    assert_eq!(seqs(&state), [2_000, 1_999, 1_998]);
    state.apply(Event::Posts((2_001..=2_010).map(post).collect()), 0);
    assert_eq!(seqs(&state), [2_010, 2_009, 2_008], "a batch is cut too");
}

#[test]
fn a_deleted_post_leaves_its_place_and_its_text_behind_and_a_seq_never_shown_changes_nothing() {
    let (_owner, state) = wall(page(vec![post(1), post(2), post(3)], false));
    state.apply(Event::Deleted(vec![2, 9]), 0);
    let shown = state.shown_newest_first();
    assert_eq!(shown, [Shown::Post(post(3)), Shown::Removed(2), Shown::Post(post(1))]);
    assert_eq!(seqs(&state), [3, 1], "the text is no longer held");
    state.apply(Event::Deleted(vec![2]), 0);
    assert_eq!(state.shown_newest_first().len(), 3, "told twice, shown once");
}

#[test]
fn a_page_shows_where_deleted_posts_were_and_an_older_page_never_brings_one_back() {
    let first = HistoryPage { posts: vec![post(4)].into(), removed: vec![5, 6], has_older: true, now_ms: 0 };
    assert_eq!((first.oldest_seq(), first.newest_seq()), (Some(4), Some(6)), "where to resume from");
    let (_owner, state) = wall(first);
    assert_eq!(state.shown_newest_first(), [Shown::Removed(6), Shown::Removed(5), Shown::Post(post(4))]);
    state.apply(Event::Deleted(vec![4]), 0);
    assert_eq!(state.oldest_seq(), Some(4), "older posts continue below the removed one");
    // A page read before 2 was deleted still brings it: it stays removed once told.
    state.apply(Event::Deleted(vec![2]), 0);
    state.add_older(HistoryPage {
        posts: vec![post(2), post(3)].into(),
        removed: vec![1],
        has_older: false,
        now_ms: 0,
    });
    assert_eq!(seqs(&state), [3], "2 was told deleted before its page came: its text is not shown");
    assert_eq!(state.shown_newest_first().iter().filter(|s| matches!(s, Shown::Removed(_))).count(), 5);
}
