//! Name claims: the first use of a name gives its client a secret; without it, nobody else
//! joins under the name, on any transport; names compare after NFKC and lowercasing.

use crate::fallback::{poll, send, SseReader};
use crate::helpers::{spawn_app, spawn_app_with, Client, TestApp};
use app::domain::{ClaimSecret, Fingerprint, Username};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::sync::Arc;
use std::time::Duration;
use wallsocket::claims::{ClaimError, Claims, NameKey};
use wallsocket::store::Store;

fn join(name: &str, claim: Option<&ClaimSecret>) -> ClientMsg {
    let username = Some(Username::parse(name).unwrap());
    ClientMsg::Join { room: "lobby".parse().unwrap(), username, since: None, claim: claim.cloned(), from: None }
}

/// Joins as `name` for the first time: the claim the server issued, and its fingerprint.
async fn first_use(app: &TestApp, name: &str) -> (Client, ClaimSecret, Fingerprint) {
    let mut client = app.client().await;
    client.join("lobby", name, None).await;
    match client.claimed.as_slice() {
        [ServerMsg::Claimed { username, claim, fingerprint }] if username.as_str() == name => {
            let (claim, fingerprint) = (claim.clone(), fingerprint.clone());
            (client, claim, fingerprint)
        }
        other => panic!("expected one claimed for {name}, got {other:?}"),
    }
}

/// The answer to a join sent as it is (no claim added by the helpers), past the `hello`.
async fn answer_to(client: &mut Client, msg: &ClientMsg) -> ServerMsg {
    client.send_unclaimed(msg).await;
    loop {
        match client.recv().await {
            ServerMsg::Hello { .. } | ServerMsg::Presence { .. } => continue,
            other => return other,
        }
    }
}

fn is_taken(msg: &ServerMsg) -> bool {
    matches!(msg, ServerMsg::Error { code: ErrorCode::NameTaken, client_id: None, .. })
}

/// The session id an SSE stream's `hello` names.
async fn sse_session(app: &TestApp) -> (SseReader, String) {
    let mut sse = SseReader::open(app, "", None).await;
    match sse.next().await.msg {
        ServerMsg::Hello { session: Some(id), .. } => (sse, id),
        other => panic!("expected hello with a session, got {other:?}"),
    }
}

/// A long-poll session's id, from its first poll.
async fn poll_session(app: &TestApp) -> String {
    match poll(app, None).await.as_slice() {
        [ServerMsg::Hello { session: Some(id), .. }] => id.clone(),
        other => panic!("expected hello with a session, got {other:?}"),
    }
}

#[tokio::test]
async fn a_claimed_name_without_its_secret_is_refused_on_every_transport_and_accepted_with_it() {
    let app = spawn_app().await;
    let (_alice, secret, _) = first_use(&app, "alice").await;

    let mut ws = app.client().await;
    let refused = answer_to(&mut ws, &join("alice", None)).await;
    assert!(is_taken(&refused), "WebSocket without the claim: {refused:?}");
    let wrong = ClaimSecret::parse(&"0".repeat(64)).unwrap();
    assert!(is_taken(&answer_to(&mut ws, &join("alice", Some(&wrong))).await), "WebSocket, a wrong claim");
    let accepted = answer_to(&mut ws, &join("alice", Some(&secret))).await;
    assert!(matches!(accepted, ServerMsg::Joined { .. }), "WebSocket with the claim: {accepted:?}");

    let (mut sse, session) = sse_session(&app).await;
    let (status, answer) = send(&app, &session, &join("alice", None)).await;
    assert_eq!(status, 200);
    assert!(matches!(answer.as_slice(), [m] if is_taken(m)), "SSE + POST without the claim: {answer:?}");
    let (_, answer) = send(&app, &session, &join("alice", Some(&secret))).await;
    assert!(answer.is_empty(), "SSE + POST with the claim: joined comes on the stream: {answer:?}");
    assert!(matches!(sse.next().await.msg, ServerMsg::Joined { .. }));

    let session = poll_session(&app).await;
    let (_, answer) = send(&app, &session, &join("alice", None)).await;
    assert!(matches!(answer.as_slice(), [m] if is_taken(m)), "long polling without the claim: {answer:?}");
    let (_, answer) = send(&app, &session, &join("alice", Some(&secret))).await;
    assert!(answer.is_empty(), "long polling with the claim: {answer:?}");
    assert!(matches!(poll(&app, Some(&session)).await.as_slice(), [ServerMsg::Joined { .. }]));

    // The SSE query join cannot carry a claim (URLs end up in logs): a claimed name there
    // is refused, and the stream stays open to join by POST.
    let mut by_query = SseReader::open(&app, "?room=lobby&username=alice", None).await;
    by_query.next().await; // hello
    assert!(is_taken(&by_query.next().await.msg), "SSE query join of a claimed name");
}

#[tokio::test]
async fn alice_capital_alice_and_fullwidth_alice_are_one_name() {
    let app = spawn_app().await;
    let (_alice, secret, _) = first_use(&app, "alice").await;
    let mut other = app.client().await;
    for look_alike in ["Alice", "ALICE", "ａｌｉｃｅ"] {
        let answer = answer_to(&mut other, &join(look_alike, None)).await;
        assert!(is_taken(&answer), "{look_alike} is alice's: {answer:?}");
    }
    // Its holder may use any spelling of it.
    let mut holder = app.client().await;
    let answer = answer_to(&mut holder, &join("ａｌｉｃｅ", Some(&secret))).await;
    assert!(matches!(answer, ServerMsg::Joined { .. }), "{answer:?}");
}

#[tokio::test]
async fn every_post_carries_its_claims_fingerprint_live_and_in_history() {
    let app = spawn_app().await;
    let (mut alice, _, fingerprint) = first_use(&app, "alice").await;
    let (mut bob, _, bobs) = first_use(&app, "bob").await;
    assert_ne!(fingerprint, bobs, "two claims, two fingerprints (4 hex digits: 1 in 65,536 alike)");
    alice.post("lobby", "hello", "a1").await;
    assert_eq!(bob.next_post().await.fingerprint, Some(fingerprint.clone()), "live");
    let (history, _) = app.client().await.join("lobby", "carol", None).await;
    assert_eq!(history[0].fingerprint, Some(fingerprint.clone()), "in a join's history");
    let page = reqwest::get(app.http_url("/r/lobby")).await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!(">#{fingerprint}<")), "beside the name on the room page: {page}");
}

#[tokio::test]
async fn a_claim_survives_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir.clone(), &[]).await;
    let (_alice, secret, fingerprint) = first_use(&app, "alice").await;
    drop(_alice);
    app.stop().await;
    let app = spawn_app_with(dir, &[]).await;
    let mut other = app.client().await;
    assert!(is_taken(&answer_to(&mut other, &join("alice", None)).await), "still alice's after a restart");
    let mut holder = app.client().await;
    assert!(matches!(answer_to(&mut holder, &join("alice", Some(&secret))).await, ServerMsg::Joined { .. }));
    holder.post("lobby", "back", "b1").await;
    let (history, _) = app.client().await.join("lobby", "reader", None).await;
    assert_eq!(history[0].fingerprint, Some(fingerprint), "the same claim as before");
}

#[tokio::test]
async fn a_released_name_is_free_and_only_its_holder_may_release_it() {
    let app = spawn_app().await;
    let (mut alice, secret, _) = first_use(&app, "alice").await;
    let wrong = ClaimSecret::parse(&"1".repeat(64)).unwrap();
    let release = |claim: &ClaimSecret| ClientMsg::Release { username: "alice".parse().unwrap(), claim: claim.clone() };
    let mut mallory = app.client().await;
    assert!(is_taken(&answer_to(&mut mallory, &release(&wrong)).await), "a wrong secret releases nothing");
    let answer = answer_to(&mut alice, &release(&secret)).await;
    assert!(matches!(answer, ServerMsg::Released { ref username } if username.as_str() == "alice"), "{answer:?}");
    let mut newcomer = app.client().await;
    let answer = answer_to(&mut newcomer, &join("alice", None)).await;
    assert!(matches!(answer, ServerMsg::Joined { .. }), "without any secret: {answer:?}");
    assert!(matches!(newcomer.claimed.as_slice(), [ServerMsg::Claimed { .. }]), "the name was claimed afresh");
    // The old secret is worth nothing now.
    let mut old = app.client().await;
    assert!(is_taken(&answer_to(&mut old, &join("alice", Some(&secret))).await));
}

#[tokio::test]
async fn a_claim_unused_for_its_lifetime_lapses_and_a_use_renews_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/claims.db", dir.path().display())).await.unwrap();
    let claims = Claims::new(store.clone(), Duration::from_millis(400));
    let (alice, bob): (Username, Username) = ("alice".parse().unwrap(), "bob".parse().unwrap());
    claims.admit(&bob, None, true).await.unwrap();
    let issued = claims.admit(&alice, None, true).await.unwrap().issued.expect("a first use issues a claim");
    assert!(matches!(claims.admit(&alice, None, true).await, Err(ClaimError::Taken)), "held while fresh");
    for _ in 0..3 {
        // Used every 250 ms: each use renews it, so 750 ms on it is still held.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(claims.admit(&alice, Some(&issued), true).await.unwrap().issued.is_none(), "its holder's use");
    }
    assert!(matches!(claims.admit(&alice, None, true).await, Err(ClaimError::Taken)), "renewed by its use");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = claims.admit(&alice, None, true).await.unwrap();
    assert!(again.issued.is_some_and(|s| s != issued), "lapsed: anyone may claim the name anew");
    // A name tried once and never again is swept away, not kept for ever.
    let bobs = NameKey::of(&bob);
    assert!(store.claim(bobs.as_str()).await.unwrap().is_some());
    let removed = store.remove_lapsed_claims(wallsocket::store::now_ms() - 400).await.unwrap();
    assert_eq!(removed, 1, "bob's claim, not alice's new one");
    assert!(store.claim(bobs.as_str()).await.unwrap().is_none());
}

#[tokio::test]
async fn one_connection_claims_at_most_four_names_and_may_still_use_them() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    for i in 0..4 {
        let answer = answer_to(&mut client, &join(&format!("name{i}"), None)).await;
        assert!(matches!(answer, ServerMsg::Joined { .. }), "name {i}: {answer:?}");
        assert_eq!(client.claimed.len(), i + 1, "name{i} claimed");
    }
    let refused = answer_to(&mut client, &join("name4", None)).await;
    assert!(
        matches!(
            refused,
            ServerMsg::Error { code: ErrorCode::RateLimited, ref message, .. } if message.contains("at most 4 names")
        ),
        "{refused:?}"
    );
    // Names it holds are still its own; a new connection may claim the fifth.
    let kept = client_claim(&client, "name0");
    let back = answer_to(&mut client, &join("name0", kept.as_ref())).await;
    assert!(matches!(back, ServerMsg::Joined { .. }), "{back:?}");
    let mut fresh = app.client().await;
    fresh.join("lobby", "name4", None).await;
}

fn client_claim(client: &Client, name: &str) -> Option<ClaimSecret> {
    client.claimed.iter().find_map(|m| match m {
        ServerMsg::Claimed { username, claim, .. } if username.as_str() == name => Some(claim.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn a_person_posts_within_one_allowance_however_many_connections_they_open() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--posts-per-claim-per-min", "1", "--posts-per-claim-burst", "2"]).await;
    let (mut first, mut second) = (app.client().await, app.client().await);
    first.join("lobby", "alice", None).await;
    second.join("lobby", "alice", None).await;
    assert_eq!(first.post("lobby", "one", "a1").await, 1);
    assert_eq!(second.post("lobby", "two", "a2").await, 2);
    first.send(&crate::helpers::post_msg("lobby", "three", "a3")).await;
    loop {
        match first.recv().await {
            ServerMsg::Error { code: ErrorCode::RateLimited, message, client_id } => {
                assert_eq!(client_id.map(String::from).as_deref(), Some("a3"));
                assert!(message.contains("1 a minute per name"), "{message}");
                break;
            }
            ServerMsg::Post(_) | ServerMsg::Presence { .. } => continue,
            other => panic!("alice's third post, from her first connection, is over her allowance: {other:?}"),
        }
    }
    let mut bob = app.client().await;
    bob.join("lobby", "bob", None).await;
    assert_eq!(bob.post("lobby", "mine", "b1").await, 3, "bob's allowance is his own");
}
