//! Two nodes behind nginx with `deploy/nginx.conf`: browsers get through the Origin check,
//! foreign pages do not, and a node killed mid-stream loses and doubles nothing.

use crate::helpers::{post_msg, Client};
use crate::nginx::Nginx;
use crate::nodes::{client, Services};
use app::protocol::{Post, ServerMsg};
use std::collections::{BTreeSet, HashMap};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn upgrade_with_origin(port: u16, origin: &str) -> Result<u16, u16> {
    let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request().unwrap();
    request.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("the upgrade failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL, Redis and nginx: scripts/test.sh runs it"]
async fn a_browser_origin_passes_through_nginx_and_a_foreign_one_is_refused() {
    let services = Services::start("origin");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let nginx = Nginx::start(&[a.port, b.port]);
    let own = format!("http://127.0.0.1:{}", nginx.port);
    // Twice: round robin sends the two upgrades to both nodes.
    for _ in 0..2 {
        assert_eq!(upgrade_with_origin(nginx.port, &own).await, Ok(101), "the page's own origin, through nginx");
        assert_eq!(upgrade_with_origin(nginx.port, "http://evil.example").await, Err(403), "a foreign page");
    }
}

/// Reads until every id in `waiting` is acked; returns the posts seen on the way.
async fn until_acked(
    client: &mut Client,
    waiting: &mut BTreeSet<String>,
    acked: &mut HashMap<String, u64>,
) -> Vec<Post> {
    let mut posts = Vec::new();
    while !waiting.is_empty() {
        match client.recv().await {
            ServerMsg::Post(post) => posts.push(post),
            ServerMsg::Ack { client_id, seq, .. } => {
                waiting.remove(client_id.as_str());
                acked.insert(client_id.as_str().to_owned(), seq);
            }
            _ => {}
        }
    }
    posts
}

#[tokio::test]
#[ignore = "needs PostgreSQL, Redis and nginx: scripts/test.sh runs it"]
async fn kill_9_of_a_node_loses_nothing_and_doubles_nothing() {
    let services = Services::start("kill");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let nginx = Nginx::start(&[a.port, b.port]);
    let mut watcher = client(a.port).await;
    watcher.join("lobby", "watt", None).await;
    let mut pat = client(b.port).await;
    pat.join("lobby", "pat", None).await;

    // Thirty posts sent at once; b is killed once ten are acknowledged, the rest in flight.
    let ids: Vec<String> = (1..=30).map(|i| format!("p{i}")).collect();
    for id in &ids {
        pat.send(&post_msg("lobby", &format!("post {id}"), id)).await;
    }
    let mut acked = HashMap::new();
    let mut seen: Vec<Post> = Vec::new();
    while acked.len() < 10 {
        match pat.recv().await {
            ServerMsg::Post(post) => seen.push(post),
            ServerMsg::Ack { client_id, seq, .. } => {
                acked.insert(client_id.as_str().to_owned(), seq);
            }
            _ => {}
        }
    }
    drop((b, pat));

    // pat comes back through nginx (which finds b dead and uses a), resumes from the last
    // post it saw and sends again every post not acknowledged, with the same ids.
    let mut pat = client(nginx.port).await;
    let since = seen.iter().map(|p| p.seq).max();
    let (missed, _) = pat.join("lobby", "pat", since).await;
    seen.extend(missed);
    let mut waiting: BTreeSet<String> = ids.iter().filter(|id| !acked.contains_key(*id)).cloned().collect();
    for id in &waiting {
        pat.send(&post_msg("lobby", &format!("post {id}"), id)).await;
    }
    seen.extend(until_acked(&mut pat, &mut waiting, &mut acked).await);

    // Every post stored once, seqs dense; each acknowledged seq is the stored one.
    let (history, _) = client(a.port).await.join("lobby", "auditor", Some(0)).await;
    let seqs: Vec<u64> = history.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "30 posts, 30 seqs, no gap");
    let stored: HashMap<String, u64> = history.iter().map(|p| (p.client_id.as_str().to_owned(), p.seq)).collect();
    assert_eq!(stored, acked, "every post stored once, under the seq its ack named");
    // The watcher on a got each of them once, in order, across the kill.
    let mut watched = Vec::new();
    while watched.len() < 30 {
        if let ServerMsg::Post(post) = watcher.recv().await {
            watched.push(post.seq);
        }
    }
    assert_eq!(watched, seqs);
    let at_pat: BTreeSet<u64> = seen.iter().map(|p| p.seq).collect();
    assert_eq!(at_pat.len(), 30, "pat saw every post, before or after coming back");
}

#[tokio::test]
#[ignore = "needs PostgreSQL, Redis and nginx: scripts/test.sh runs it"]
async fn sigterm_drains_a_node_onto_the_other() {
    let services = Services::start("drain");
    let grace = ["--shutdown-grace-ms", "1500"];
    let (a, mut b) = (services.node("a", &grace), services.node("b", &grace));
    let nginx = Nginx::start(&[a.port, b.port]);
    let mut bob = client(a.port).await;
    bob.join("lobby", "bob", None).await;
    let mut alice = client(b.port).await;
    alice.join("lobby", "alice", None).await;
    let mut sam = client(b.port).await;
    sam.join("lobby", "sam", None).await;
    assert_eq!(alice.post("lobby", "before the drain", "a1").await, 1);

    let sigterm = std::process::Command::new("kill").args(["-TERM", &b.child.id().to_string()]).status();
    assert!(sigterm.unwrap().success());
    let signalled = std::time::Instant::now();
    assert_eq!(alice.recv_close().await, Some(1001), "going away");

    // alice resumes through nginx (on a), and sees a post made meanwhile.
    assert_eq!(bob.post("lobby", "during the drain", "b1").await, 2);
    let mut alice = client(nginx.port).await;
    let (missed, _) = alice.join("lobby", "alice", Some(1)).await;
    assert_eq!(missed.iter().map(|p| p.seq).collect::<Vec<_>>(), [2]);

    // b said goodbye once drained: its people (sam) left every list at once, not after its
    // heartbeat was missed (10 s), and its presence snapshot is gone from Redis.
    let mut observer = client(a.port).await;
    observer
        .send(&app::protocol::ClientMsg::Join {
            room: "lobby".parse().unwrap(),
            username: None,
            since: None,
            claim: None,
            from: None,
        })
        .await;
    match observer.recv().await {
        ServerMsg::Joined { present, .. } => {
            let names: Vec<&str> = present.iter().map(|n| n.as_str()).collect();
            assert_eq!(names, ["alice", "bob"], "{:?} after the signal", signalled.elapsed());
        }
        other => panic!("expected joined, got {other:?}"),
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = b.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "b did not exit within 10 s of its grace");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(status.success(), "b exits cleanly: {status:?}");
    let mut redis =
        redis::Client::open(services.redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let kept: bool = redis::cmd("EXISTS").arg("wallsocket:presence:b").query_async(&mut redis).await.unwrap();
    assert!(!kept, "b dropped its presence snapshot when it said goodbye");
    drop(sam);
}
