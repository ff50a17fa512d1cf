//! Joining, posting, acks and broadcasts, room isolation.

use crate::helpers::{post_msg, spawn_app};
use app::protocol::ServerMsg;

#[tokio::test]
async fn a_post_is_acked_and_broadcast_to_the_room() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;
    let (history, members) = alice.join("lobby", "alice", None).await;
    assert!(history.is_empty());
    assert_eq!(members, 1);
    let (_, members) = bob.join("lobby", "bob", None).await;
    assert_eq!(members, 2);

    alice.send(&post_msg("lobby", "hello, wall", "a-1")).await;
    // The author sees its post broadcast, then the ack naming the same seq.
    let own = alice.next_post().await;
    assert_eq!((own.seq, own.text.as_str(), own.username.as_str()), (1, "hello, wall", "alice"));
    assert_eq!(alice.recv().await, ServerMsg::Ack { room: own.room.clone(), client_id: own.client_id.clone(), seq: 1 });
    assert_eq!(bob.next_post().await, own);

    assert_eq!(bob.post("lobby", "hi alice", "b-1").await, 2);
    assert_eq!(alice.next_post().await.seq, 2);
}

#[tokio::test]
async fn another_room_receives_nothing() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    let mut carol = app.client().await;
    alice.join("lobby", "alice", None).await;
    carol.join("kitchen", "carol", None).await;
    alice.post("lobby", "only for the lobby", "a-1").await;
    carol.expect_silence(300).await;
    // Seqs are per room.
    assert_eq!(carol.post("kitchen", "first here", "c-1").await, 1);
}

#[tokio::test]
async fn the_same_client_id_is_stored_and_broadcast_once() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    let mut bob = app.client().await;
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;
    let first = alice.post("lobby", "only once", "same-id").await;
    for _ in 0..2 {
        assert_eq!(alice.post("lobby", "only once", "same-id").await, first);
    }
    assert_eq!(bob.next_post().await.seq, first);
    bob.expect_silence(300).await;
    let (history, _) = app.client().await.join("lobby", "eve", None).await;
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn join_with_since_replays_exactly_the_missed_posts() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    for i in 1..=5 {
        alice.post("lobby", &format!("post {i}"), &format!("p{i}")).await;
    }
    let mut late = app.client().await;
    let (history, _) = late.join("lobby", "late", Some(3)).await;
    assert_eq!(history.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![4, 5]);
}
