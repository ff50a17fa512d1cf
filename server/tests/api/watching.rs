//! Watching without a name, over every transport: a `join` without `username` receives the
//! room's posts live, is counted in `watching` (not listed in `present`), and a `post` or
//! `typing` from it is refused `name_required` with nothing stored.

use crate::fallback::{poll, send, session_of, SseReader};
use crate::helpers::{post_msg, spawn_app, Client, TestApp};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};

fn watch(since: Option<u64>) -> ClientMsg {
    ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since, claim: None, from: None }
}

/// The next `presence` a client hears: (people, watching).
async fn next_counts(client: &mut Client) -> (u32, u32) {
    loop {
        if let ServerMsg::Presence { members, watching, .. } = client.recv().await {
            return (members, watching);
        }
    }
}

/// Checks the refusal of a watcher's post: `name_required`, naming the post.
fn assert_name_required(answer: &[ServerMsg]) {
    match answer {
        [ServerMsg::Error { code: ErrorCode::NameRequired, client_id: Some(id), .. }] => assert_eq!(id.as_str(), "w1"),
        other => panic!("expected name_required for w1, got {other:?}"),
    }
}

/// Nothing a watcher sent was stored: the room holds only the posts the named user made.
async fn stored_seqs(app: &TestApp) -> Vec<u64> {
    let (history, _) = app.client().await.join("lobby", "checker", Some(0)).await;
    history.iter().map(|p| p.seq).collect()
}

#[tokio::test]
async fn a_websocket_watcher_sees_posts_is_counted_not_listed_and_may_not_post_or_type() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    let mut watcher = app.client().await;
    watcher.send(&watch(None)).await;
    match watcher.recv().await {
        ServerMsg::Joined { present, members, watching, .. } => {
            assert_eq!((present.len(), members, watching), (1, 1, 1), "alice listed, the watcher counted")
        }
        other => panic!("expected joined, got {other:?}"),
    }
    assert_eq!(next_counts(&mut alice).await, (1, 1), "alice hears one watching");

    alice.post("lobby", "hello watchers", "a1").await;
    assert_eq!(watcher.next_post().await.text.as_str(), "hello watchers");

    watcher.send(&post_msg("lobby", "sneaky", "w1")).await;
    assert_name_required(&[watcher.recv().await]);
    watcher.send(&ClientMsg::Typing { room: "lobby".parse().unwrap() }).await;
    assert!(matches!(watcher.recv().await, ServerMsg::Error { code: ErrorCode::NameRequired, .. }));
    drop(watcher);
    assert_eq!(next_counts(&mut alice).await, (1, 0), "a watcher leaving is counted too");
    assert_eq!(stored_seqs(&app).await, [1], "the watcher's post was not stored");
}

#[tokio::test]
async fn an_sse_watcher_needs_no_username_and_its_post_is_refused() {
    let app = spawn_app().await;
    let mut sse = SseReader::open(&app, "?room=lobby", None).await;
    let session = session_of(&sse.next().await.msg);
    assert!(matches!(sse.next().await.msg, ServerMsg::Joined { watching: 1, members: 0, .. }));

    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "for the stream", "a1").await;
    assert_eq!(sse.next_post().await.1, 1, "the post reaches the watching stream");

    let (status, answer) = send(&app, &session, &post_msg("lobby", "sneaky", "w1")).await;
    assert_eq!(status, 200);
    assert_name_required(&answer);
    assert_eq!(stored_seqs(&app).await, [1]);
}

#[tokio::test]
async fn a_long_polling_watcher_needs_no_username_and_its_post_is_refused() {
    let app = spawn_app().await;
    let session = session_of(&poll(&app, None).await[0]);
    let (_, answer) = send(&app, &session, &watch(Some(0))).await;
    assert!(answer.is_empty(), "joined arrives by poll: {answer:?}");
    assert!(matches!(poll(&app, Some(&session)).await.as_slice(), [ServerMsg::Joined { watching: 1, .. }]));

    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "for the poller", "a1").await;
    let post = loop {
        let news = poll(&app, Some(&session)).await;
        if let Some(post) = news.into_iter().find_map(|m| if let ServerMsg::Post(p) = m { Some(p) } else { None }) {
            break post;
        }
    };
    assert_eq!(post.text.as_str(), "for the poller");

    let (_, answer) = send(&app, &session, &post_msg("lobby", "sneaky", "w1")).await;
    assert_name_required(&answer);
    assert_eq!(stored_seqs(&app).await, [1]);
}
