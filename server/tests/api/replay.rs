//! Replays cost bounded memory: long-poll sessions that join a big room again and again
//! and never poll pin at most their queue's byte limit each, and posting goes on.

use crate::helpers::{post_msg, rss_kib, spawn_binary, Client};
use app::protocol::ServerMsg;
use std::time::Duration;

async fn client(port: u16) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.unwrap();
    let mut client = Client::from_stream(ws);
    client.recv().await; // hello
    client
}

/// Posts `n` posts of 8 KB (2,000 four-byte characters, the longest there is) and waits
/// for their acks, 50 in flight at a time: the author reads its own broadcasts as it goes,
/// so its queue never holds more than its byte limit.
async fn seed(author: &mut Client, room: &str, n: usize) {
    let text = "😀".repeat(2_000);
    for start in (0..n).step_by(50) {
        let batch = 50.min(n - start);
        for i in start..start + batch {
            author.send(&post_msg(room, &text, &format!("seed-{i}"))).await;
        }
        let mut acked = 0;
        while acked < batch {
            if let ServerMsg::Ack { .. } = author.recv().await {
                acked += 1;
            }
        }
    }
}

#[tokio::test]
async fn long_poll_sessions_that_replay_a_big_room_and_never_poll_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/replay.db", dir.path().display());
    let flags = ["--log", "info", "--database-url", &db, "--ip-connect-rate", "100000"];
    let binary = spawn_binary(&[&flags[..], &["--rate-per-sec", "1000", "--rate-burst", "1000"]].concat());
    let port = binary.port;
    let mut author = client(port).await;
    author.join("big", "author", None).await;
    seed(&mut author, "big", 1_000).await;
    let before = rss_kib(binary.child.id());

    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let attack = (0..10).map(|s| {
        let http = http.clone();
        async move {
            let hello: Vec<ServerMsg> = http.get(url("/x/poll")).send().await.unwrap().json().await.unwrap();
            let Some(ServerMsg::Hello { session: Some(session), .. }) = hello.into_iter().next() else {
                panic!("no session")
            };
            // Join with since=0 (a full replay), leave, again: twelve replays, never polled.
            for _ in 0..12 {
                for body in [
                    format!(r#"{{"type":"join","room":"big","username":"attacker{s}","since":0}}"#),
                    r#"{"type":"leave","room":"big"}"#.to_owned(),
                ] {
                    let sent = http.post(url(&format!("/x/send?session={session}"))).body(body).send().await.unwrap();
                    assert!(sent.status().is_success() || sent.status().as_u16() == 404);
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(attack))
        .await
        .expect("long_poll_sessions_that_replay_a_big_room_and_never_poll_keep_memory_bounded: the attack finished");

    // Everyone else still posts and gets acks.
    let mut bystander = client(port).await;
    bystander.join("other", "bystander", None).await;
    assert_eq!(bystander.post("other", "still fine", "by-1").await, 1);

    let after = rss_kib(binary.child.id());
    // Ten sessions with at most 1 MiB queued each, the buffers of the joins in flight (a
    // replay is read, encoded and spliced: ~2 MB each), SQLite's page caches and the
    // allocator's slack. Before queues were bounded in bytes, 120 replays took 500 MB.
    assert!(after < before + 96 * 1024, "memory grew from {before} KiB to {after} KiB");
}

/// A client that joins `room` with `since=0` (a full replay), leaves, and again, at 20
/// messages a second, until `stop`.
async fn replayer(port: u16, room: &'static str, n: usize, stop: tokio_util::sync::CancellationToken) {
    let mut client = client(port).await;
    let pace = Duration::from_millis(50);
    while !stop.is_cancelled() {
        let join = format!(r#"{{"type":"join","room":"{room}","username":"replayer{n}","since":0}}"#);
        client.send_text(&join).await;
        // Joined, or refused by the join rate limit: either way the answer comes. Frames are
        // told apart by their type only: decoding 400 KB replays would load the test itself.
        while !is_one_of(&client.recv_text().await, &["joined", "error"]) {}
        tokio::time::sleep(pace).await;
        client.send_text(&format!(r#"{{"type":"leave","room":"{room}"}}"#)).await;
        while !is_one_of(&client.recv_text().await, &["left", "error"]) {}
        tokio::time::sleep(pace).await;
    }
}

/// Whether a server message's `type` (its first field) is one of `types`.
fn is_one_of(frame: &str, types: &[&str]) -> bool {
    types.iter().any(|t| frame.starts_with(&format!(r#"{{"type":"{t}""#)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_joins_neither_stall_posting_nor_close_live_clients() {
    // How much replays slow other rooms is measured in release by `bench hostile`
    // (docs/BENCHMARKS.md); timings in a debug build sharing two cores with the rest of the
    // suite say nothing. This checks what must hold whatever the machine does.
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/latency.db", dir.path().display());
    let flags = ["--log", "info", "--database-url", &db, "--ip-connect-rate", "100000", "--rate-per-sec", "1000"];
    // Pings every second: a reader held up by joins for 3 s would be closed with 4002.
    // Writes keep a roomy deadline: this test's own clients share two busy cores.
    let timing = ["--rate-burst", "1000", "--ping-interval-ms", "1000", "--ping-timeout-ms", "3000"];
    let timing = [&timing[..], &["--write-timeout-ms", "10000"]].concat();
    let binary = spawn_binary(&[&flags[..], &timing[..]].concat());
    let port = binary.port;
    let mut author = client(port).await;
    author.join("big", "author", None).await;
    seed(&mut author, "big", 1_000).await;
    drop(author);
    let mut poster = client(port).await;
    poster.join("quiet", "poster", None).await;

    let stop = tokio_util::sync::CancellationToken::new();
    // A member of the replayed room that keeps reading (and so answering pings).
    let mut watcher = client(port).await;
    watcher.join("big", "watcher", Some(1_000)).await;
    let watching = tokio::spawn({
        let stop = stop.clone();
        async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return watcher,
                    frame = watcher.next_frame() => match frame {
                        Some(Ok(_)) => continue,
                        other => panic!("the watcher was closed: {other:?}"),
                    },
                }
            }
        }
    });
    let replayers: Vec<_> = (0..10).map(|n| tokio::spawn(replayer(port, "big", n, stop.clone()))).collect();
    // Three seconds of replays (past the join burst, into the rate limit), posting meanwhile:
    // every post is acknowledged (the helper fails after 5 s without one).
    let started = std::time::Instant::now();
    let mut acked = 0;
    while started.elapsed() < Duration::from_secs(3) {
        poster.post("quiet", "tick", &format!("t-{acked}")).await;
        acked += 1;
    }
    stop.cancel();
    for replayer in replayers {
        tokio::time::timeout(Duration::from_secs(10), replayer)
            .await
            .expect("replaying_joins_neither_stall_posting_nor_close_live_clients: a replayer stopped")
            .expect("every join and leave was answered, none closed");
    }
    let mut watcher = watching.await.expect("the watcher stayed connected");
    assert_eq!(watcher.post("big", "after", "after-1").await, 1_001);
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("code=\"4002\""), "a live client was closed for missing pongs:\n{metrics}");
    assert!(acked > 10, "only {acked} posts acknowledged in 3 s");
}
