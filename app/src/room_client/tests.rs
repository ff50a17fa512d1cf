//! The room client's rules, each driven through its inputs as a driver would; the pacing
//! rules are in `tests/pacing.rs`.

mod pacing;

use super::*;
use crate::protocol::REPLAY_LIMIT;

fn room() -> RoomName {
    "lobby".parse().unwrap()
}

fn name(n: &str) -> Username {
    n.parse().unwrap()
}

fn id(n: &str) -> ClientId {
    n.parse().unwrap()
}

fn post(seq: u64, client_id: &str) -> Post {
    Post {
        room: room(),
        seq,
        client_id: id(client_id),
        username: name("al"),
        text: format!("post {seq}").parse().unwrap(),
        ts: 0,
        fingerprint: None,
    }
}

fn joined(history: Vec<Post>, present: &[&str]) -> ServerMsg {
    let present: Vec<Username> = present.iter().map(|n| name(n)).collect();
    let members = present.len() as u32;
    ServerMsg::Joined { room: room(), history, members, present, watching: 0, truncated: false, deleted: vec![] }
}

fn error(code: ErrorCode, client_id: Option<&str>) -> ServerMsg {
    ServerMsg::Error { code, message: "no".into(), client_id: client_id.map(id) }
}

fn join_since(msg: &ClientMsg) -> Option<Option<u64>> {
    match msg {
        ClientMsg::Join { since, .. } => Some(*since),
        _ => None,
    }
}

fn posted_ids(step: &Step) -> Vec<String> {
    let ids = step.send.iter().filter_map(|m| match m {
        ClientMsg::Post { client_id, .. } => Some(client_id.to_string()),
        _ => None,
    });
    ids.collect()
}

fn seqs(step: &Step) -> Vec<u64> {
    let posts = step.events.iter().filter_map(|e| match e {
        Event::Posts(posts) => Some(posts.iter().map(|p| p.seq)),
        _ => None,
    });
    posts.flatten().collect()
}

/// A client in the room on an open connection, holding every post up to `since`.
fn live(since: Option<u64>) -> RoomClient {
    let mut c = RoomClient::new(room(), Some(name("al")), since, Vec::new());
    let _ = c.on_open(0);
    let _ = c.on_message(joined(vec![], &["al"]), 1);
    c
}

fn text() -> PostText {
    "hello".parse().unwrap()
}

#[test]
fn opening_joins_from_the_last_seq_held() {
    let mut c = RoomClient::new(room(), Some(name("al")), Some(41), Vec::new());
    let step = c.on_open(0);
    assert_eq!(step.send.iter().map(join_since).collect::<Vec<_>>(), [Some(Some(41))]);
}

#[test]
fn a_post_waits_for_joined_then_goes_once() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let step = c.post(id("c1"), text(), 1);
    assert!(step.send.is_empty(), "sent before joined, it would be refused");
    assert_eq!(step.events, [Event::Outbox(c.outbox.entries())]);
    let step = c.on_message(joined(vec![], &["al"]), 2);
    assert_eq!(posted_ids(&step), ["c1"]);
    assert!(step.events.contains(&Event::Live));
    let step = c.post(id("c2"), text(), 3);
    assert_eq!(posted_ids(&step), ["c2"], "joined: straight out");
}

#[test]
fn an_outbox_saved_by_an_earlier_run_goes_after_the_first_join() {
    let saved = vec![OutboxEntry { client_id: id("old"), text: text() }];
    let mut c = RoomClient::new(room(), Some(name("al")), None, saved);
    assert!(!c.all_settled());
    let _ = c.on_open(0);
    assert_eq!(posted_ids(&c.on_message(joined(vec![], &[]), 1)), ["old"]);
}

#[test]
fn every_unstored_post_goes_again_after_a_reconnect_and_an_ack_settles_it() {
    let mut c = live(None);
    let _ = c.post(id("c1"), text(), 2);
    c.on_close();
    let _ = c.on_open(10);
    let step = c.on_message(joined(vec![], &[]), 11);
    assert_eq!(posted_ids(&step), ["c1"], "the same client id, so the server stores it once");
    let step = c.on_message(ServerMsg::Ack { room: room(), client_id: id("c1"), seq: 1 }, 12);
    assert!(step.events.contains(&Event::Stored { client_id: id("c1"), seq: 1 }));
    assert!(c.all_settled());
}

#[test]
fn a_post_found_in_the_replayed_history_is_settled_not_sent_again() {
    let mut c = live(Some(0));
    let _ = c.post(id("c1"), text(), 2);
    c.on_close();
    let _ = c.on_open(10);
    // Stored before the connection died; its ack was lost with it.
    let step = c.on_message(joined(vec![post(1, "c1")], &[]), 11);
    assert!(posted_ids(&step).is_empty());
    assert!(c.all_settled());
    assert_eq!(seqs(&step), [1]);
}

#[test]
fn its_own_post_coming_back_settles_it_and_the_later_ack_adds_nothing() {
    let mut c = live(Some(0));
    let _ = c.post(id("c1"), text(), 2);
    let step = c.on_message(ServerMsg::Post(post(1, "c1")), 3);
    let stored = Event::Stored { client_id: id("c1"), seq: 1 };
    assert_eq!(step.events, [Event::Outbox(vec![]), stored, Event::Posts(vec![post(1, "c1")])]);
    let ack = c.on_message(ServerMsg::Ack { room: room(), client_id: id("c1"), seq: 1 }, 4);
    assert!(ack.events.is_empty(), "reported once");
}

#[test]
fn a_post_past_a_missing_seq_asks_for_a_resync_from_before_the_gap() {
    let mut c = live(Some(2));
    let step = c.on_message(ServerMsg::Post(post(4, "x4")), 2);
    assert_eq!(seqs(&step), [4], "shown at once");
    assert_eq!(step.send.iter().map(join_since).collect::<Vec<_>>(), [Some(Some(2))]);
    assert_eq!(c.cursor.since(), Some(2));
    // A second post past the gap while the resync is on its way: no second join.
    let step = c.on_message(ServerMsg::Post(post(5, "x5")), 3);
    assert!(step.send.is_empty());
    // The replay fills the gap; what was already shown is not handed on again.
    let step = c.on_message(joined(vec![post(3, "x3"), post(4, "x4"), post(5, "x5")], &[]), 4);
    assert_eq!(seqs(&step), [3]);
    assert_eq!(c.cursor.since(), Some(5));
}

#[test]
fn duplicates_are_handed_on_once() {
    let mut c = live(Some(0));
    assert_eq!(seqs(&c.on_message(ServerMsg::Post(post(1, "x1")), 2)), [1]);
    assert!(seqs(&c.on_message(ServerMsg::Post(post(1, "x1")), 3)).is_empty());
    assert!(seqs(&c.on_message(joined(vec![post(1, "x1")], &[]), 4)).is_empty());
}

#[test]
fn without_a_starting_seq_the_first_post_held_starts_the_cursor() {
    let mut c = live(None);
    let step = c.on_message(ServerMsg::Post(post(7, "x7")), 2);
    assert_eq!(seqs(&step), [7]);
    assert!(step.send.is_empty(), "no gap below the first post held");
    assert_eq!(c.cursor.since(), Some(7));
}

#[test]
fn a_truncated_replay_resumes_from_the_latest_page_without_asking_again() {
    let mut c = RoomClient::new(room(), Some(name("al")), Some(1), Vec::new());
    let _ = c.on_open(0);
    // More than REPLAY_LIMIT missed: the server sends its latest page instead.
    let latest: Vec<Post> = (1_951..=2_000).map(|s| post(s, &format!("x{s}"))).collect();
    let msg = ServerMsg::Joined {
        room: room(),
        history: latest,
        members: 0,
        present: vec![],
        watching: 0,
        truncated: true,
        deleted: vec![],
    };
    let step = c.on_message(msg, 1);
    assert!(step.events.contains(&Event::HistoryTruncated), "more than {REPLAY_LIMIT} missed");
    assert_eq!(seqs(&step).len(), 50, "the latest page is shown");
    assert!(step.send.is_empty(), "no join: asking again would bring the same page");
    assert_eq!(c.cursor.since(), Some(2_000));
    assert!(c.on_message(ServerMsg::Post(post(2_001, "x")), 2).send.is_empty(), "live posts follow without a gap");
}

#[test]
fn a_retryable_refusal_keeps_the_post_and_sends_it_again_after_a_growing_pause() {
    let mut c = live(None);
    let _ = c.post(id("c1"), text(), 10);
    let step = c.on_message(error(ErrorCode::RateLimited, Some("c1")), 20);
    let delayed = Event::Delayed { client_id: id("c1"), code: ErrorCode::RateLimited, message: "no".into() };
    assert_eq!(step.events, [delayed], "not failed");
    assert!(posted_ids(&c.on_tick(500)).is_empty(), "not yet");
    assert_eq!(posted_ids(&c.on_tick(1_020)), ["c1"]);
    assert!(!c.all_settled());
    // Turned away again: the pause doubles, so a server in trouble is not hammered.
    let _ = c.on_message(error(ErrorCode::Internal, Some("c1")), 1_100);
    assert!(posted_ids(&c.on_tick(2_100)).is_empty());
    assert_eq!(posted_ids(&c.on_tick(3_100)), ["c1"]);
}

#[test]
fn a_final_refusal_reports_the_post_and_forgets_it() {
    let mut c = live(None);
    let _ = c.post(id("c1"), text(), 10);
    let step = c.on_message(error(ErrorCode::InvalidText, Some("c1")), 20);
    let refused = Event::Refused {
        post: OutboxEntry { client_id: id("c1"), text: text() },
        code: ErrorCode::InvalidText,
        message: "no".into(),
    };
    assert_eq!(step.events, [Event::Outbox(vec![]), refused]);
    assert!(c.all_settled());
}

#[test]
fn not_joined_rejoins_once_and_the_posts_go_after_joined() {
    let mut c = live(Some(3));
    let _ = c.post(id("c1"), text(), 2);
    let _ = c.post(id("c2"), text(), 2);
    let step = c.on_message(error(ErrorCode::NotJoined, Some("c1")), 3);
    assert_eq!(step.send.iter().map(join_since).collect::<Vec<_>>(), [Some(Some(3))]);
    assert!(c.on_message(error(ErrorCode::NotJoined, Some("c2")), 4).send.is_empty());
    assert_eq!(posted_ids(&c.on_message(joined(vec![], &[]), 5)), ["c1", "c2"]);
}

#[test]
fn a_refused_join_drops_the_connection_with_a_notice() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let step = c.on_message(error(ErrorCode::TooManyRooms, None), 1);
    assert!(step.reconnect);
    assert_eq!(step.events, [Event::Notice { code: ErrorCode::TooManyRooms, message: "no".into() }]);
}

#[test]
fn presence_applies_as_sets_and_reports_only_real_changes() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let _ = c.on_message(joined(vec![], &["al", "bo"]), 1);
    // Repeats al (already here), brings cy, takes away bo and dee (never here).
    let msg = ServerMsg::Presence {
        room: room(),
        joined: vec![name("al"), name("cy")],
        left: vec![name("bo"), name("dee")],
        members: 2,
        watching: 0,
    };
    let step = c.on_message(msg, 2);
    let expected = Event::Presence {
        present: vec![name("al"), name("cy")],
        watching: 0,
        arrived: vec![name("cy")],
        left: vec![name("bo")],
    };
    assert_eq!(step.events, [expected]);
    let again = ServerMsg::Presence { room: room(), joined: vec![name("cy")], left: vec![], members: 2, watching: 0 };
    assert!(c.on_message(again, 3).events.is_empty());
    let watched = ServerMsg::Presence { room: room(), joined: vec![], left: vec![], members: 2, watching: 5 };
    let step = c.on_message(watched, 4);
    let expected =
        Event::Presence { present: vec![name("al"), name("cy")], watching: 5, arrived: vec![], left: vec![] };
    assert_eq!(step.events, [expected], "the watching count moving alone is news");
}

#[test]
fn a_watcher_joins_without_a_name_and_posts_wait_for_one() {
    let mut c = RoomClient::new(room(), None, Some(4), Vec::new());
    let step = c.on_open(0);
    assert_eq!(step.send, [ClientMsg::Join { room: room(), username: None, since: Some(4), claim: None, from: None }]);
    let _ = c.on_message(joined(vec![], &["bo"]), 1);
    assert!(c.typing(2).send.is_empty(), "a watcher has nobody to be shown typing");
    let step = c.post(id("c1"), text(), 3);
    assert!(posted_ids(&step).is_empty(), "a post waits for a name: {step:?}");
    assert!(!c.all_settled(), "and is kept");
    let step = c.rename(Some(name("al")), None, 4);
    let join = ClientMsg::Join { room: room(), username: Some(name("al")), since: Some(4), claim: None, from: None };
    assert_eq!(step.send, [join]);
    let step = c.on_message(joined(vec![], &["al", "bo"]), 5);
    assert_eq!(posted_ids(&step), ["c1"], "sent once joined under the name");
}

#[test]
fn a_silent_server_is_pinged_then_given_up_on() {
    let mut c = live(None);
    assert!(c.on_tick(PING_AFTER_MS).send.is_empty());
    let step = c.on_tick(PING_AFTER_MS + 2);
    assert_eq!(step.send, [ClientMsg::Ping]);
    assert!(c.on_tick(PING_AFTER_MS + 3).send.is_empty(), "one ping at a time");
    assert!(!c.on_tick(PING_AFTER_MS + 2 + ANSWER_TIMEOUT_MS).reconnect);
    assert!(c.on_tick(PING_AFTER_MS + 3 + ANSWER_TIMEOUT_MS).reconnect);
}

#[test]
fn any_message_answers_the_ping() {
    let mut c = live(None);
    let _ = c.on_tick(PING_AFTER_MS + 2);
    let _ = c.on_message(ServerMsg::Pong, PING_AFTER_MS + 5);
    assert!(!c.on_tick(PING_AFTER_MS + 5 + ANSWER_TIMEOUT_MS).reconnect);
}

#[test]
fn an_unanswered_post_or_join_means_a_dead_connection() {
    let mut c = live(None);
    let _ = c.post(id("c1"), text(), 100);
    assert!(!c.on_tick(100 + ANSWER_TIMEOUT_MS).reconnect);
    assert!(c.on_tick(101 + ANSWER_TIMEOUT_MS).reconnect);

    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    assert!(c.on_tick(1 + membership::JOIN_TIMEOUT_MS).reconnect);
}

#[test]
fn a_rename_joins_again_and_posts_wait_for_its_answer() {
    let mut c = live(Some(9));
    let step = c.rename(Some(name("bo")), None, 2);
    let Some(ClientMsg::Join { username, since, .. }) = step.send.first() else { panic!("no join: {step:?}") };
    assert_eq!((username.as_ref().map(Username::as_str), *since), (Some("bo"), Some(9)));
    assert!(c.post(id("c1"), text(), 3).send.is_empty());
    assert!(c.rename(Some(name("bo")), None, 4).send.is_empty(), "the same name again changes nothing");
    let mut closed = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    assert!(closed.rename(Some(name("bo")), None, 0).send.is_empty(), "offline: the next join carries it");
}

#[test]
fn typing_goes_only_when_joined_and_at_most_every_two_seconds() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    assert!(c.typing(0).send.is_empty());
    let mut c = live(None);
    assert_eq!(c.typing(10).send.len(), 1);
    assert!(c.typing(10 + TYPING_RESEND_MS as i64 - 1).send.is_empty());
    assert_eq!(c.typing(10 + TYPING_RESEND_MS as i64).send.len(), 1);
}

#[test]
fn backoff_doubles_up_to_ten_seconds_and_resets_after_a_join() {
    let mut b = Backoff::default();
    let worst: Vec<u128> = (0..8).map(|_| b.failed(1.0).as_millis()).collect();
    assert_eq!(worst, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    assert_eq!(b.failures(), 8);
    assert_eq!(b.failed(0.0).as_millis(), 100, "never at once");
    assert_eq!(b.failed(0.5).as_millis(), 5_000, "full jitter: anywhere below the cap");
    b.reset();
    assert_eq!(b.failed(1.0).as_millis(), 500);
}

fn secret(fill: &str) -> ClaimSecret {
    ClaimSecret::parse(&fill.repeat(64)).unwrap()
}

fn join_claim(step: &Step) -> Option<Option<ClaimSecret>> {
    step.send.iter().find_map(|m| match m {
        ClientMsg::Join { claim, .. } => Some(claim.clone()),
        _ => None,
    })
}

#[test]
fn the_claim_a_first_join_was_issued_goes_with_every_later_join() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    assert_eq!(join_claim(&c.on_open(0)), Some(None), "nothing to show yet");
    let claimed = ServerMsg::Claimed { username: name("al"), claim: secret("a"), fingerprint: "0a9f".parse().unwrap() };
    let step = c.on_message(claimed, 1);
    assert!(matches!(step.events.as_slice(), [Event::Claimed { .. }]), "the driver keeps it: {step:?}");
    let _ = c.on_message(joined(vec![], &["al"]), 2);
    c.on_close();
    assert_eq!(join_claim(&c.on_open(3)), Some(Some(secret("a"))), "a reconnect brings it");
    // Another name brings its own secret (or none), never this one.
    assert_eq!(join_claim(&c.rename(Some(name("bo")), None, 4)), Some(None));
    // A secret for the name just left still reaches the driver (it is never sent again).
    let late = ServerMsg::Claimed { username: name("al"), claim: secret("c"), fingerprint: "0a9f".parse().unwrap() };
    assert!(matches!(c.on_message(late, 5).events.as_slice(), [Event::Claimed { .. }]));
    c.on_close();
    assert_eq!(join_claim(&c.on_open(6)), Some(None), "but bo's joins do not carry it");
    let mut kept = RoomClient::new(room(), Some(name("al")), None, Vec::new()).with_claim(Some(secret("b")));
    assert_eq!(join_claim(&kept.on_open(0)), Some(Some(secret("b"))), "a secret kept from an earlier run");
}

#[test]
fn a_name_someone_else_holds_makes_the_client_watch_and_keeps_its_posts() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let _ = c.post(id("c1"), "hello".parse().unwrap(), 1);
    let step = c.on_message(error(ErrorCode::NameTaken, None), 2);
    assert!(!step.reconnect, "reconnecting would be refused again");
    assert!(step.events.contains(&Event::NameTaken(name("al"))), "{step:?}");
    let rejoin = step.send.iter().find_map(|m| match m {
        ClientMsg::Join { username, claim, .. } => Some((username.clone(), claim.clone())),
        _ => None,
    });
    assert_eq!(rejoin, Some((None, None)), "joins again, watching");
    let step = c.on_message(joined(vec![], &[]), 3);
    assert!(posted_ids(&step).is_empty(), "the post waits for a name");
    assert!(!c.all_settled(), "and is kept");
    let _ = c.rename(Some(name("al2")), None, 4);
    let step = c.on_message(joined(vec![], &["al2"]), 5);
    assert_eq!(posted_ids(&step), ["c1"], "under the name chosen next");
}

#[test]
fn deletions_are_reported_count_as_held_and_a_resume_asks_about_the_posts_held() {
    let mut c = RoomClient::new(room(), Some(name("al")), Some(3), Vec::new()).holding_from(Some(1));
    let step = c.on_open(0);
    assert!(matches!(step.send.as_slice(), [ClientMsg::Join { since: Some(3), from: Some(1), .. }]), "{step:?}");
    let mut joined = joined(vec![post(5, "five")], &["al"]);
    if let ServerMsg::Joined { deleted, .. } = &mut joined {
        *deleted = vec![4, 2];
    }
    let step = c.on_message(joined, 1);
    assert!(step.events.contains(&Event::Deleted(vec![2, 4])), "{step:?}");
    assert!(step.send.is_empty(), "4 was deleted, not missed: no gap to ask for: {step:?}");
    let step = c.on_message(ServerMsg::Deleted { room: room(), seq: 6 }, 2);
    assert_eq!(step.events, [Event::Deleted(vec![6])]);
    let step = c.on_message(ServerMsg::Post(post(7, "seven")), 3);
    assert!(step.send.is_empty(), "6 is held, as a deletion: {step:?}");
    assert!(c.delete(5, 4).send.contains(&ClientMsg::Delete { room: room(), seq: 5 }));
}

#[test]
fn a_moderator_signs_in_after_each_join_so_a_wrong_secret_is_a_notice_not_a_failed_join() {
    let secret = crate::domain::ClaimSecret::parse(&"ab".repeat(32)).unwrap();
    let mut c = RoomClient::new(room(), None, None, Vec::new()).with_moderator(Some(secret.clone()));
    let step = c.on_open(0);
    assert!(matches!(step.send.as_slice(), [ClientMsg::Join { .. }]), "the join goes alone: {step:?}");
    let step = c.on_message(joined(vec![], &[]), 1);
    assert_eq!(step.send, [ClientMsg::Moderate { secret: secret.clone() }]);
    let refused = ServerMsg::Error { code: ErrorCode::NotAllowed, message: "no".into(), client_id: None };
    let step = c.on_message(refused, 2);
    assert!(!step.reconnect, "a wrong secret does not drop the connection");
    let step = c.on_message(ServerMsg::Moderating { moderator: name("mo") }, 3);
    assert_eq!(step.events, [Event::Moderating(name("mo"))]);
    assert_eq!(c.block(4, 60, 4).send, [ClientMsg::Block { room: room(), seq: 4, minutes: 60 }]);
    assert_eq!(c.delete(4, 5).send, [ClientMsg::Delete { room: room(), seq: 4 }], "a watching moderator deletes");
    let _ = c.on_open(6);
    let step = c.on_message(joined(vec![], &[]), 7);
    assert_eq!(step.send, [ClientMsg::Moderate { secret }], "again on the next connection");
}
