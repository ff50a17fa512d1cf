//! Who is in a room, counted across nodes: `joined`, `presence` and the directory cover
//! every node, and a node that dies leaves no ghosts.

use crate::nodes::{client, Services};
use app::protocol::{ClientMsg, ServerMsg};
use std::time::Duration;

/// Reads until a `presence` (or `joined`) shows `members` people and `watching` watchers, and
/// returns the names it listed as arrived and left on the way.
async fn until_counts(
    client: &mut crate::helpers::Client,
    members: u32,
    watching: u32,
    within: Duration,
) -> (Vec<String>, Vec<String>) {
    let deadline = tokio::time::Instant::now() + within;
    let (mut arrived, mut departed) = (Vec::new(), Vec::new());
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.recv_within(left).await {
            ServerMsg::Presence { joined, left, members: m, watching: w, .. } => {
                arrived.extend(joined.iter().map(|n| n.as_str().to_owned()));
                departed.extend(left.iter().map(|n| n.as_str().to_owned()));
                if (m, w) == (members, watching) {
                    return (arrived, departed);
                }
            }
            ServerMsg::Joined { members: m, watching: w, present, .. } => {
                arrived.extend(present.iter().map(|n| n.as_str().to_owned()));
                if (m, w) == (members, watching) {
                    return (arrived, departed);
                }
            }
            ServerMsg::Typing { .. } => {}
            other => panic!("expected presence, got {other:?}"),
        }
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn members_count_across_nodes() {
    let services = Services::start("presence");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let mut alice = client(a.port).await;
    alice.join("lobby", "alice", None).await;
    let mut bob = client(b.port).await;
    bob.send(&ClientMsg::Join {
        room: "lobby".parse().unwrap(),
        username: Some("bob".parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    })
    .await;
    let (seen_by_bob, _) = until_counts(&mut bob, 2, 0, Duration::from_secs(5)).await;
    assert!(seen_by_bob.contains(&"alice".to_owned()), "bob, on b, sees alice, on a: {seen_by_bob:?}");
    let (seen_by_alice, _) = until_counts(&mut alice, 2, 0, Duration::from_secs(5)).await;
    assert_eq!(seen_by_alice, ["bob"]);

    // A second tab of alice's on b is still one person; a watcher on b is counted on a.
    let mut alice_again = client(b.port).await;
    alice_again.join("lobby", "alice", None).await;
    let mut carol = client(b.port).await;
    carol
        .send(&ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since: None, claim: None, from: None })
        .await;
    let (arrived, _) = until_counts(&mut alice, 2, 1, Duration::from_secs(5)).await;
    assert!(arrived.is_empty(), "nobody new: {arrived:?}");
    let home = reqwest::get(format!("http://127.0.0.1:{}/", a.port)).await.unwrap().text().await.unwrap();
    assert!(home.contains("2 here now"), "the directory on a counts b's people too");
    let metrics = format!("http://127.0.0.1:{}/metrics", a.port);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !reqwest::get(&metrics).await.unwrap().text().await.unwrap().contains("\nwallsocket_cluster_nodes 1\n") {
        assert!(tokio::time::Instant::now() < deadline, "a's /metrics counts b among the nodes it hears");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // b dies without a word: its people leave a's rooms once its heartbeat is missed.
    drop((b, bob, alice_again, carol));
    let (_, left) = until_counts(&mut alice, 1, 0, Duration::from_secs(20)).await;
    assert_eq!(left, ["bob"], "alice is still here, on a");
    let home = reqwest::get(format!("http://127.0.0.1:{}/", a.port)).await.unwrap().text().await.unwrap();
    assert!(home.contains("1 here now"), "no ghost in the directory");

    // b comes back under the same name within its snapshot's 30 s: what its dead run left in
    // Redis must not bring bob back.
    let _b = services.node("b", &[]);
    let mut redis =
        redis::Client::open(services.redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let stale: bool =
        redis::cmd("HEXISTS").arg("wallsocket:presence:b").arg("lobby").query_async(&mut redis).await.unwrap();
    assert!(!stale, "b's new run dropped the snapshot its dead run left");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !reqwest::get(&metrics).await.unwrap().text().await.unwrap().contains("\nwallsocket_cluster_nodes 1\n") {
        assert!(tokio::time::Instant::now() < deadline, "a hears b again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut carol = client(a.port).await;
    carol
        .send(&ClientMsg::Join { room: "lobby".parse().unwrap(), username: None, since: None, claim: None, from: None })
        .await;
    match carol.recv().await {
        ServerMsg::Joined { present, .. } => {
            assert_eq!(present.iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["alice"], "no ghost of b's last run")
        }
        other => panic!("expected joined, got {other:?}"),
    }
}
