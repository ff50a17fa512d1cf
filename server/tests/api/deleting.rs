//! Deleting posts: only the author (under the claim that wrote it) may; every member is told
//! `deleted`; nothing deleted is served again (page, cache, join, resume); and the text is
//! gone from the database's files.

use crate::helpers::{is_presence, spawn_app_with, Client};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "meet me at the loading dock 7f3a";

fn delete(seq: u64) -> ClientMsg {
    ClientMsg::Delete { room: "lobby".parse().unwrap(), seq }
}

/// The next message that is not presence or typing.
async fn answer(client: &mut Client) -> ServerMsg {
    loop {
        match client.recv().await {
            msg if is_presence(&msg) => continue,
            msg => return msg,
        }
    }
}

async fn page(app: &crate::helpers::TestApp) -> String {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let response = client.get(app.http_url("/r/lobby")).send().await.expect("deleting: page within 20 s");
    response.text().await.expect("deleting: body within 20 s")
}

/// The bytes of every file of the database (the file, its write-ahead log, its index).
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("wall.db") {
            bytes.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    bytes
}

#[tokio::test]
async fn an_author_deletes_their_post_every_member_is_told_and_nothing_serves_it_again() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // The page cache on for long: only the deletion may make it render again.
    let app = spawn_app_with(dir.clone(), &["--page-cache-ms", "600000"]).await;
    let (mut alice, mut bob) = (app.client().await, app.client().await);
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;
    assert_eq!(alice.post("lobby", SECRET, "s-1").await, 1);
    assert_eq!(alice.post("lobby", "this one stays", "s-2").await, 2);
    assert!(bob.next_post().await.text.as_str() == SECRET);
    bob.next_post().await;
    assert!(page(&app).await.contains(SECRET), "rendered, and now cached");
    assert!(database_bytes(dir.path()).windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "stored");

    bob.send(&delete(1)).await;
    match answer(&mut bob).await {
        ServerMsg::Error { code: ErrorCode::NotAllowed, .. } => {}
        other => panic!("bob may not delete alice's post: {other:?}"),
    }
    alice.send(&delete(9)).await;
    assert!(matches!(answer(&mut alice).await, ServerMsg::Error { code: ErrorCode::NoSuchPost, .. }));

    alice.send(&delete(1)).await;
    for (who, client) in [("alice", &mut alice), ("bob", &mut bob)] {
        match answer(client).await {
            ServerMsg::Deleted { seq: 1, .. } => {}
            other => panic!("{who} is told of the deletion: {other:?}"),
        }
    }
    alice.send(&delete(1)).await;
    assert!(matches!(answer(&mut alice).await, ServerMsg::Deleted { seq: 1, .. }), "deleting again says so");
    bob.expect_silence(200).await;

    let html = page(&app).await;
    assert!(!html.contains(SECRET) && html.contains("this one stays"), "the cached page is dropped at once");
    let mut carol = app.client().await;
    carol
        .send(&ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since: None, claim: None, from: None })
        .await;
    match answer(&mut carol).await {
        ServerMsg::Joined { history, deleted, .. } => {
            assert_eq!(history.iter().map(|p| p.seq).collect::<Vec<_>>(), [2]);
            assert_eq!(deleted, [1], "the latest page names its tombstone");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    // The log is emptied by a task of its own, right after the deletion's commit.
    let gone_by = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let bytes = database_bytes(dir.path());
        assert!(bytes.windows(14).any(|w| w == b"this one stays"), "the search finds text that is there");
        if !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
            break;
        }
        assert!(tokio::time::Instant::now() < gone_by, "deleting: the text is still in the files after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_client_that_was_away_learns_on_resume_which_of_its_posts_were_deleted() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &[]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    for i in 1..=3 {
        alice.post("lobby", &format!("post {i}"), &format!("p{i}")).await;
    }
    // Carol held posts 1 to 3 when she left; meanwhile 2 is deleted, 4 posted and deleted,
    // 5 posted.
    alice.send(&delete(2)).await;
    assert!(matches!(answer(&mut alice).await, ServerMsg::Deleted { seq: 2, .. }));
    alice.post("lobby", "post 4", "p4").await;
    alice.send(&delete(4)).await;
    assert!(matches!(answer(&mut alice).await, ServerMsg::Deleted { seq: 4, .. }));
    alice.post("lobby", "post 5", "p5").await;
    // A retry of the deleted post 4 is acknowledged, not stored again.
    assert_eq!(alice.post("lobby", "post 4", "p4").await, 4);

    let mut carol = app.client().await;
    let resume = |from| ClientMsg::Join {
        room: "lobby".parse().unwrap(),
        username: Some("carol".parse().unwrap()),
        since: Some(3),
        claim: None,
        from,
    };
    carol.send(&resume(Some(1))).await;
    match answer(&mut carol).await {
        ServerMsg::Joined { history, deleted, truncated: false, .. } => {
            assert_eq!(history.iter().map(|p| p.seq).collect::<Vec<_>>(), [5]);
            assert_eq!(deleted, [2, 4], "the one she holds and the one she missed");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    // Without `from` (a client of protocol 4) only the tombstones after `since` are named.
    carol.send(&resume(None)).await;
    match answer(&mut carol).await {
        ServerMsg::Joined { deleted, .. } => assert_eq!(deleted, [4]),
        other => panic!("expected joined, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watcher_may_not_delete_and_a_room_not_joined_is_named() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &[]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "mine", "m1").await;
    let mut eve = app.client().await;
    eve.send(&ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since: None, claim: None, from: None })
        .await;
    assert!(matches!(answer(&mut eve).await, ServerMsg::Joined { .. }));
    eve.send(&delete(1)).await;
    assert!(matches!(answer(&mut eve).await, ServerMsg::Error { code: ErrorCode::NotAllowed, .. }));
    eve.send(&ClientMsg::Delete { room: "other".parse().unwrap(), seq: 1 }).await;
    assert!(matches!(answer(&mut eve).await, ServerMsg::Error { code: ErrorCode::NotJoined, .. }));
}
