//! Replays cost bounded memory: long-poll sessions that join a big room again and again
//! and never poll pin at most their queue's byte limit each, and posting goes on.

use crate::helpers::{post_msg, spawn_binary, Client};
use app::protocol::ServerMsg;
use std::time::Duration;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn client(port: u16) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.unwrap();
    let mut client = Client::from_stream(ws);
    client.recv().await; // hello
    client
}

/// Posts `n` posts of 8 KB (2,000 four-byte characters, the longest there is) and waits
/// for their acks.
async fn seed(author: &mut Client, room: &str, n: usize) {
    let text = "😀".repeat(2_000);
    for i in 0..n {
        author.send(&post_msg(room, &text, &format!("seed-{i}"))).await;
    }
    let mut acked = 0;
    while acked < n {
        if let ServerMsg::Ack { .. } = author.recv().await {
            acked += 1;
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
        let (http, url) = (http.clone(), url.clone());
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
    // Ten sessions at most 1 MiB queued each, plus the allocator's slack.
    assert!(after < before + 48 * 1024, "memory grew from {before} KiB to {after} KiB");
}
