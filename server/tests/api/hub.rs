//! The hub on its own: rooms kept apart, and a full client queue closes only that client.

use app::protocol::ServerMsg;
use wallsocket::hub::Hub;
use wallsocket::queue::{ClientHandle, Outbound};
use wallsocket::store::Store;

async fn hub() -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/hub.db", dir.path().display())).await.unwrap();
    (Hub::spawn(store, wallsocket::metrics::Metrics::default()), dir)
}

fn decode(item: Outbound) -> ServerMsg {
    match item {
        Outbound::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
        Outbound::Close(code, _) => panic!("unexpected close {code}"),
    }
}

#[tokio::test]
async fn rooms_are_kept_apart() {
    let (hub, _dir) = hub().await;
    let (a, mut a_rx, _) = ClientHandle::channel(16);
    let (b, mut b_rx, _) = ClientHandle::channel(16);
    hub.join(1, "red".parse().unwrap(), "ann".parse().unwrap(), None, a).await.unwrap();
    hub.join(2, "blue".parse().unwrap(), "ben".parse().unwrap(), None, b).await.unwrap();
    assert!(matches!(decode(a_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    assert!(matches!(decode(b_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    let post = hub
        .post("red".parse().unwrap(), "ann".parse().unwrap(), "c1".parse().unwrap(), "hi".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(decode(a_rx.recv().await.unwrap()), ServerMsg::Post(post));
    assert!(b_rx.try_recv().is_err(), "blue heard nothing from red");
}

#[tokio::test]
async fn a_full_queue_closes_only_that_client() {
    let (hub, _dir) = hub().await;
    let (slow, _slow_rx_never_read, slow_overflowed) = ClientHandle::channel(2);
    let (fast, mut fast_rx, fast_overflowed) = ClientHandle::channel(64);
    hub.join(1, "room".parse().unwrap(), "slow".parse().unwrap(), None, slow).await.unwrap();
    hub.join(2, "room".parse().unwrap(), "fast".parse().unwrap(), None, fast).await.unwrap();
    for i in 0..10 {
        hub.post(
            "room".parse().unwrap(),
            "fast".parse().unwrap(),
            format!("c{i}").parse().unwrap(),
            "x".parse().unwrap(),
        )
        .await
        .unwrap();
    }
    assert!(slow_overflowed.is_cancelled(), "the slow client is told to close");
    assert!(!fast_overflowed.is_cancelled());
    let mut seqs = Vec::new();
    while let Ok(item) = fast_rx.try_recv() {
        if let ServerMsg::Post(p) = decode(item) {
            seqs.push(p.seq);
        }
    }
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "the fast client got every post in order");
}
