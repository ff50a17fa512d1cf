//! Two nodes on one database and one Redis: every client sees every post once, in seq order,
//! whichever node it is on and whichever node stored the post.

use crate::helpers::post_msg;
use crate::nodes::{client, collect, seqs, Services};
use app::protocol::{ClientMsg, ServerMsg};

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn posts_from_both_nodes_reach_every_client_in_seq_order() {
    let services = Services::start("fanout");
    // No heads check within the test: every post must come over the bus.
    let bus_only = ["--heads-check-ms", "600000"];
    let (a, b) = (services.node("a", &bus_only), services.node("b", &bus_only));
    let mut alice = client(a.port).await;
    let mut bob = client(b.port).await;
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;

    // Both nodes store posts of the same room at once, and a third client joins on b while
    // they are on their way: its history and the live posts must meet with no gap and no
    // duplicate.
    for i in 0..20 {
        alice.send(&post_msg("lobby", &format!("from a {i}"), &format!("a{i}"))).await;
        bob.send(&post_msg("lobby", &format!("from b {i}"), &format!("b{i}"))).await;
    }
    let mut carol = client(b.port).await;
    let (history, _) = carol.join("lobby", "carol", Some(0)).await;

    let everyone = 1..=40u64;
    let at_alice = collect(&mut alice, 40, 20).await;
    let at_bob = collect(&mut bob, 40, 20).await;
    assert_eq!(seqs(&at_alice), everyone.clone().collect::<Vec<_>>(), "alice, on node a");
    assert_eq!(seqs(&at_bob), everyone.clone().collect::<Vec<_>>(), "bob, on node b");
    assert_eq!(at_alice, at_bob, "the same post under each seq on both nodes");
    let live = collect(&mut carol, 40 - history.len(), 0).await;
    let at_carol: Vec<_> = history.into_iter().chain(live).collect();
    assert_eq!(at_carol, at_alice, "carol's history and live posts, met without a gap or a duplicate");

    // A retry sent to the other node is answered with the stored post, not stored twice.
    let first = at_alice.iter().find(|p| p.client_id.as_str() == "a0").unwrap().seq;
    assert_eq!(bob.post("lobby", "from a 0", "a0").await, first);

    // b's /metrics show what crossed the bus, and how long it took.
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", b.port)).await.unwrap().text().await.unwrap();
    let lag_count = metrics.lines().find_map(|l| l.strip_prefix("wallsocket_bus_lag_seconds_count ")).unwrap_or("0");
    assert!(lag_count.parse::<u64>().unwrap() >= 20, "every post of a's heard and timed on b:\n{metrics}");
    assert!(metrics.contains(r#"wallsocket_bus_messages_total{event="heard"}"#), "{metrics}");

    // Typing crosses nodes too.
    alice.send(&ClientMsg::Typing { room: "lobby".parse().unwrap() }).await;
    loop {
        match bob.recv().await {
            ServerMsg::Typing { username, .. } => break assert_eq!(username.as_str(), "alice"),
            ServerMsg::Presence { .. } => continue,
            other => panic!("expected alice typing, got {other:?}"),
        }
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn redis_restart_is_healed_from_the_store() {
    let mut services = Services::start("heal");
    let fast = ["--heads-check-ms", "200"];
    let (a, b) = (services.node("a", &fast), services.node("b", &fast));
    let mut alice = client(a.port).await;
    let mut bob = client(b.port).await;
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;
    assert_eq!(alice.post("lobby", "before", "p1").await, 1);
    assert_eq!(bob.next_post().await.text.as_str(), "before");

    // With Redis gone nothing is published: b finds a's posts in the store (heads check).
    services.redis.kill();
    assert_eq!(alice.post("lobby", "while redis is down", "p2").await, 2);
    assert_eq!(alice.post("lobby", "still down", "p3").await, 3);
    let healed = collect(&mut bob, 2, 0).await;
    assert_eq!(seqs(&healed), [2, 3], "read from the store, in order, on the same socket");

    // Back on Redis, posts flow through it again, still in order, no duplicate.
    services.redis.restart();
    let mut seq = 4;
    let mut heard = Vec::new();
    while heard.len() < 3 {
        assert_eq!(alice.post("lobby", &format!("after {seq}"), &format!("p{seq}")).await, seq);
        heard.extend(collect(&mut bob, 1, 0).await);
        seq += 1;
    }
    assert_eq!(seqs(&heard), (4..seq).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_post_on_one_node_refreshes_the_cached_page_on_the_other() {
    let services = Services::start("pages");
    let cache = ["--page-cache-ms", "600000"];
    let (a, b) = (services.node("a", &cache), services.node("b", &cache));
    let page = format!("http://127.0.0.1:{}/r/lobby", b.port);
    let before = reqwest::get(&page).await.unwrap().text().await.unwrap();
    assert!(!before.contains("fresh from node a"));

    let mut alice = client(a.port).await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "fresh from node a", "p1").await;
    // b hears the post on the bus; give it until the heads check at the latest.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let after = reqwest::get(&page).await.unwrap().text().await.unwrap();
        if after.contains("fresh from node a") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "b still serves its cached page 5 s after the post");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn postgres_restart_fails_posts_cleanly_and_keeps_acked_ones() {
    let services = Services::start("restart");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let mut alice = client(a.port).await;
    alice.join("lobby", "alice", None).await;
    let mut bob = client(b.port).await;
    bob.join("lobby", "bob", None).await;
    for i in 1..=3 {
        assert_eq!(alice.post("lobby", &format!("kept {i}"), &format!("k{i}")).await, i);
    }

    // PostgreSQL goes away: a post fails with a typed error, in bounded time, and the node
    // says why on /health; the socket stays open.
    services.pg.stop();
    alice.send(&post_msg("lobby", "while the database is down", "d1")).await;
    loop {
        match alice.recv_within(std::time::Duration::from_secs(20)).await {
            ServerMsg::Error { code: app::protocol::ErrorCode::Internal, client_id: Some(id), .. } => {
                break assert_eq!(id.as_str(), "d1");
            }
            ServerMsg::Presence { .. } | ServerMsg::Typing { .. } | ServerMsg::Post(_) => {}
            other => panic!("expected the post to fail cleanly, got {other:?}"),
        }
    }
    let health = reqwest::get(format!("http://127.0.0.1:{}/health", a.port)).await.unwrap();
    assert_eq!(health.status(), 503, "a node that cannot store says so");

    // Back: the same post, retried, is stored once; nothing acknowledged was lost.
    services.pg.start_again();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let seq = loop {
        alice.send(&post_msg("lobby", "while the database is down", "d1")).await;
        match alice.recv_within(std::time::Duration::from_secs(20)).await {
            ServerMsg::Ack { seq, .. } => break seq,
            ServerMsg::Error { .. } => {
                assert!(tokio::time::Instant::now() < deadline, "posts still fail 20 s after PostgreSQL is back");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            _ => {}
        }
    };
    assert_eq!(seq, 4);
    let (history, _) = client(b.port).await.join("lobby", "carol", Some(0)).await;
    let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["kept 1", "kept 2", "kept 3", "while the database is down"]);
    let at_bob = collect(&mut bob, 4, 0).await;
    assert_eq!(seqs(&at_bob), [1, 2, 3, 4], "b delivered the posts stored on a, once each");
}
