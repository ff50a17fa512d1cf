//! What one connection's joins may cost: a bounded number of rooms, a join rate, replays cut
//! to a byte budget, and no replay at all for a room it is already in.

use crate::helpers::{post_msg, spawn_app, spawn_app_with, Client};
use app::domain::Username;
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::sync::Arc;

fn join_msg(room: &str, since: Option<u64>) -> ClientMsg {
    ClientMsg::Join {
        room: room.parse().unwrap(),
        username: Some(Username::parse("joiner").unwrap()),
        since,
        claim: None,
        from: None,
    }
}

/// The answer to a join: the `joined` (history length, truncated) or the error code.
async fn join_answer(client: &mut Client, room: &str, since: Option<u64>) -> Result<(usize, bool), ErrorCode> {
    client.send(&join_msg(room, since)).await;
    loop {
        match client.recv().await {
            ServerMsg::Joined { history, truncated, .. } => return Ok((history.len(), truncated)),
            ServerMsg::Error { code, .. } => return Err(code),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_connection_is_in_at_most_sixteen_rooms() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    for i in 0..16 {
        assert!(join_answer(&mut client, &format!("room-{i}"), None).await.is_ok());
    }
    assert_eq!(join_answer(&mut client, "room-16", None).await, Err(ErrorCode::TooManyRooms));
    // Re-joining one it is in is not a seventeenth room.
    assert!(join_answer(&mut client, "room-3", None).await.is_ok());
    // The refused join left the connection usable in the rooms it has.
    assert_eq!(client.post("room-0", "still in", "c-1").await, 1);
}

#[tokio::test]
async fn joins_past_the_burst_are_rate_limited() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let mut refused = None;
    for i in 0..40 {
        let room = format!("r-{}", i % 8);
        if i >= 8 {
            client.send(&ClientMsg::Leave { room: room.parse().unwrap() }).await;
            while !matches!(client.recv().await, ServerMsg::Left { .. }) {}
        }
        match join_answer(&mut client, &room, None).await {
            Ok(_) => {}
            Err(code) => {
                refused = Some((i, code));
                break;
            }
        }
    }
    let (at, code) = refused.expect("40 joins in a row were all accepted");
    assert_eq!(code, ErrorCode::RateLimited);
    assert!((16..=18).contains(&at), "the first 16 joins are a burst, then 2 a second: refused at join {at}");
}

#[tokio::test]
async fn a_join_of_a_room_it_is_in_replays_only_what_it_asks_for() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    client.join("lobby", "joiner", None).await;
    for i in 0..5 {
        client.post("lobby", "hello", &format!("p-{i}")).await;
    }
    // A rename: the connection has every post already.
    assert_eq!(join_answer(&mut client, "lobby", None).await, Ok((0, false)));
    // A gap repair: the posts after `since`, as for any join.
    assert_eq!(join_answer(&mut client, "lobby", Some(3)).await, Ok((2, false)));
}

#[tokio::test]
async fn a_replay_over_the_byte_budget_is_cut_and_says_so() {
    let flags = ["--rate-per-sec", "100000", "--rate-burst", "100000"];
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &flags).await;
    let mut author = app.client().await;
    author.join("big", "author", None).await;
    // 40 posts of 8 KB: 320 KB, over the 256 KiB a replay may carry.
    let text = "😀".repeat(2_000);
    for i in 0..40 {
        author.send(&post_msg("big", &text, &format!("b-{i}"))).await;
    }
    let mut acked = 0;
    while acked < 40 {
        if let ServerMsg::Ack { .. } = author.recv().await {
            acked += 1;
        }
    }
    let mut late = app.client().await;
    let (history, truncated) = join_answer(&mut late, "big", Some(0)).await.unwrap();
    assert!(truncated, "the replay was cut");
    assert!(history <= 50, "it carries at most the latest page");
    let mut near = app.client().await;
    assert_eq!(join_answer(&mut near, "big", Some(35)).await, Ok((5, false)), "a small replay is whole");
}
