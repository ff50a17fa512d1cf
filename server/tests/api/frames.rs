//! Broadcast frames are framed once and written to every member as they are: each must
//! still arrive whole, in order, in each of the three length forms, with the server's
//! answers to pings between them.

use crate::helpers::{post_msg, spawn_app_with};
use app::protocol::ServerMsg;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn frames_of_every_length_arrive_whole_and_in_order_between_pongs() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let generous = ["--rate-per-sec", "1000", "--rate-burst", "1000", "--posts-per-claim-burst", "1000"];
    let app = spawn_app_with(dir, &generous).await;
    let mut alice = app.client().await;
    alice.join("frames", "alice", None).await;
    // 4,000-byte posts: each broadcast needs a 16-bit length, a page of them a 64-bit one.
    let long = "é".repeat(2_000);
    for i in 0..50 {
        alice.post("frames", &long, &format!("long-{i}")).await;
    }
    let mut bob = app.client().await;
    let (history, _) = bob.join("frames", "bob", None).await;
    assert_eq!(history.len(), 50, "a page of 50 posts in one frame of about 200 KB");
    assert!(history.iter().all(|post| post.text.as_str() == long));

    // A burst alice does not wait on, short and long mixed; bob pings between reads, so
    // the server owes him pongs while it writes the burst.
    let texts: Vec<String> = (0..40).map(|i| if i % 2 == 0 { format!("short {i}") } else { long.clone() }).collect();
    for (i, text) in texts.iter().enumerate() {
        alice.send(&post_msg("frames", text, &format!("burst-{i}"))).await;
    }
    let (mut pings, mut pongs, mut posts) = (0, 0, Vec::new());
    while posts.len() < texts.len() {
        if pings < 10 {
            bob.send_raw(Message::Ping(vec![pings as u8].into())).await.expect("ping");
            pings += 1;
        }
        match bob.next_message().await {
            Message::Pong(payload) => {
                assert_eq!(payload.as_ref(), [pongs as u8], "pongs answer the pings in order");
                pongs += 1;
            }
            Message::Text(text) => match serde_json::from_str(&text).expect("a whole ServerMsg") {
                ServerMsg::Post(post) => posts.push(post),
                ServerMsg::Presence { .. } | ServerMsg::Typing { .. } => {}
                other => panic!("expected a post, got {other:?}"),
            },
            Message::Ping(_) => {}
            other => panic!("expected a post or a pong, got {other:?}"),
        }
    }
    let got: Vec<&str> = posts.iter().map(|post| post.text.as_str()).collect();
    assert_eq!(got, texts.iter().map(String::as_str).collect::<Vec<_>>(), "every post whole, in order");
    assert!(posts.windows(2).all(|pair| pair[1].seq == pair[0].seq + 1), "no gap in the seqs");
    while pongs < pings {
        match bob.next_message().await {
            Message::Pong(payload) => {
                assert_eq!(payload.as_ref(), [pongs as u8], "pongs answer the pings in order");
                pongs += 1;
            }
            Message::Ping(_) | Message::Text(_) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}
