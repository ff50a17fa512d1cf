//! A client that stops reading is closed with SLOW_CONSUMER once its bounded queue is full;
//! everyone else keeps getting every post in order, and the slow client resumes with no gap.

use crate::helpers::{spawn_app_with, Client};
use app::protocol::{close, ClientMsg};
use std::sync::Arc;
use tokio::net::TcpSocket;

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_resumes_without_a_gap() {
    let flags = ["--queue-capacity", "8", "--rate-per-sec", "100000", "--rate-burst", "100000"];
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &flags).await;

    // The slow client: a tiny receive buffer, so the server's side fills up fast.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], app.port).into()).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(app.ws_url(), tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    let mut slow = Client::from_stream(ws);
    slow.recv().await; // hello
    slow.join("busy", "slowpoke", None).await;

    let mut fast = app.client().await;
    fast.join("busy", "fast", None).await;
    let mut publisher = app.client().await;
    publisher.join("busy", "publisher", None).await;

    // Publish until the server gives up on the slow client, reading everything on the fast one.
    let text = "y".repeat(2_000);
    let mut published = 0u64;
    let mut fast_seqs = Vec::new();
    loop {
        published += 1;
        publisher.send(&crate::helpers::post_msg("busy", &text, &format!("p{published}"))).await;
        while fast_seqs.len() < published as usize {
            fast_seqs.push(fast.next_post().await.seq);
        }
        let overflowed = reqwest::get(app.http_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("wallsocket_queue_overflows_total 1");
        if overflowed || published > 3_000 {
            break;
        }
    }
    assert!(published < 3_000, "the slow client's queue never overflowed");
    assert_eq!(fast_seqs, (1..=published).collect::<Vec<_>>(), "the fast client got every post, in order");

    // The slow client reads again: what was queued, then the close frame with 4001.
    let mut seen = Vec::new();
    let code = loop {
        match slow.next_frame().await {
            Some(Ok(msg)) => {
                if let Some(app::protocol::ServerMsg::Post(p)) = msg {
                    seen.push(p.seq);
                }
            }
            Some(Err(code)) => break code,
            None => panic!("closed without a close frame"),
        }
    };
    assert_eq!(code, Some(close::SLOW_CONSUMER));
    assert_eq!(seen, (1..=seen.len() as u64).collect::<Vec<_>>(), "what it did get is in order");

    // It comes back and resumes from the last seq it saw: nothing missing, nothing twice.
    let mut back = app.client().await;
    let (history, _) = back.join("busy", "slowpoke", seen.last().copied().or(Some(0))).await;
    let mut all = seen;
    all.extend(history.iter().map(|p| p.seq));
    assert_eq!(all, (1..=published).collect::<Vec<_>>());
    back.send(&ClientMsg::Ping).await;
}
