//! Who is here (each person once), arrivals and departures, and the typing relay.

use crate::helpers::{spawn_app, spawn_app_with};
use app::domain::Username;
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::collections::BTreeSet;
use std::sync::Arc;

fn name(n: &str) -> Username {
    n.parse().unwrap()
}

fn presence(joined: &[&str], left: &[&str], members: u32) -> ServerMsg {
    let names = |list: &[&str]| list.iter().map(|n| name(n)).collect();
    ServerMsg::Presence {
        room: "lobby".parse().unwrap(),
        joined: names(joined),
        left: names(left),
        members,
        watching: 0,
    }
}

async fn joined_present(client: &mut crate::helpers::Client, room: &str, user: &str) -> Vec<Username> {
    client
        .send(&ClientMsg::Join {
            room: room.parse().unwrap(),
            username: Some(name(user)),
            since: None,
            claim: None,
            from: None,
        })
        .await;
    match client.recv().await {
        ServerMsg::Joined { present, members, .. } => {
            assert_eq!(members as usize, present.len());
            present
        }
        other => panic!("expected joined, got {other:?}"),
    }
}

#[tokio::test]
async fn one_person_with_several_tabs_is_here_once() {
    let app = spawn_app().await;
    let (mut tab1, mut tab2, mut bob) = (app.client().await, app.client().await, app.client().await);
    assert_eq!(joined_present(&mut tab1, "lobby", "alice").await, [name("alice")]);
    assert_eq!(joined_present(&mut tab2, "lobby", "alice").await, [name("alice")]);
    tab1.expect_silence(200).await; // a second tab is no arrival
    assert_eq!(joined_present(&mut bob, "lobby", "bob").await, [name("alice"), name("bob")]);
    let arrival = presence(&["bob"], &[], 2);
    assert_eq!(tab1.recv().await, arrival);
    assert_eq!(tab2.recv().await, arrival);

    drop(tab2); // alice is still here through tab1
    bob.expect_silence(300).await;
    tab1.send(&ClientMsg::Leave { room: "lobby".parse().unwrap() }).await;
    assert!(matches!(tab1.recv().await, ServerMsg::Left { .. }));
    assert_eq!(bob.recv().await, presence(&[], &["alice"], 1));
}

#[tokio::test]
async fn closing_the_last_tab_is_a_departure() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = (app.client().await, app.client().await);
    joined_present(&mut alice, "lobby", "alice").await;
    joined_present(&mut bob, "lobby", "bob").await;
    assert_eq!(alice.recv().await, presence(&["bob"], &[], 2));
    bob.expect_silence(100).await; // nobody announces bob's arrival to bob
    drop(bob);
    assert_eq!(alice.recv().await, presence(&[], &["bob"], 1));
}

#[tokio::test]
async fn typing_is_relayed_to_others_at_most_once_a_second() {
    let app = spawn_app().await;
    let (mut alice, mut bob) = (app.client().await, app.client().await);
    joined_present(&mut alice, "lobby", "alice").await;
    joined_present(&mut bob, "lobby", "bob").await;
    alice.recv().await; // bob's arrival
    let typing = ClientMsg::Typing { room: "lobby".parse().unwrap() };
    for _ in 0..5 {
        alice.send(&typing).await;
    }
    let relayed = ServerMsg::Typing { room: "lobby".parse().unwrap(), username: name("alice") };
    assert_eq!(bob.recv().await, relayed);
    bob.expect_silence(500).await; // the other four were redundant
    alice.expect_silence(0).await; // nobody is told of their own typing
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    alice.send(&typing).await;
    assert_eq!(bob.recv().await, relayed);
}

#[tokio::test]
async fn typing_outside_a_joined_room_is_refused() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.send(&ClientMsg::Typing { room: "lobby".parse().unwrap() }).await;
    assert!(matches!(alice.recv().await, ServerMsg::Error { code: ErrorCode::NotJoined, .. }));
}

/// 150 of a room's 200 people leave at once. The 50 who stay hear it in a few `presence`
/// messages (not 150 each), so even members that read nothing meanwhile, with room for 16
/// frames in their queue, are not closed as slow.
#[tokio::test]
async fn a_crowd_leaving_at_once_is_announced_in_a_few_messages() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--queue-capacity", "16"]).await;
    let (mut stayers, mut leavers) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let mut client = app.client().await;
        client.join("hall", &format!("p{i}"), None).await;
        if i < 50 {
            stayers.push(client)
        } else {
            leavers.push(client)
        }
    }
    drop(leavers);
    for stayer in &mut stayers {
        let (mut left, mut messages) = (BTreeSet::new(), 0);
        while left.len() < 150 {
            match stayer.recv().await {
                ServerMsg::Presence { left: gone, members, .. } => {
                    messages += 1;
                    left.extend(gone);
                    if left.len() == 150 {
                        assert_eq!(members, 50);
                    }
                }
                other => panic!("expected presence, got {other:?}"),
            }
        }
        assert!(messages <= 16, "{messages} presence messages");
        assert_eq!(left, (50..200).map(|i| name(&format!("p{i}"))).collect());
    }
}
