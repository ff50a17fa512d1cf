//! The hub on its own: rooms kept apart, and a full client queue closes only that client.

use app::protocol::ServerMsg;
use wallsocket::hub::{History, Hub};
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
        Outbound::Close(&(code, _)) => panic!("unexpected close {code}"),
    }
}

#[tokio::test]
async fn rooms_are_kept_apart() {
    let (hub, _dir) = hub().await;
    let (a, mut a_rx, _) = ClientHandle::channel(16, usize::MAX);
    let (b, mut b_rx, _) = ClientHandle::channel(16, usize::MAX);
    hub.join(1, "red".parse().unwrap(), "ann".parse().unwrap(), History::Latest, a).await.unwrap();
    hub.join(2, "blue".parse().unwrap(), "ben".parse().unwrap(), History::Latest, b).await.unwrap();
    assert!(matches!(decode(a_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    assert!(matches!(decode(b_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    let post = hub
        .post("red".parse().unwrap(), "ann".parse().unwrap(), "c1".parse().unwrap(), "hi".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(decode(a_rx.recv().await.unwrap()), ServerMsg::Post(post));
    assert!(b_rx.try_recv().is_none(), "blue heard nothing from red");
}

#[tokio::test]
async fn a_full_queue_closes_only_that_client() {
    let (hub, _dir) = hub().await;
    let (slow, _slow_rx_never_read, slow_overflowed) = ClientHandle::channel(2, usize::MAX);
    let (fast, mut fast_rx, fast_overflowed) = ClientHandle::channel(64, usize::MAX);
    hub.join(1, "room".parse().unwrap(), "slow".parse().unwrap(), History::Latest, slow).await.unwrap();
    hub.join(2, "room".parse().unwrap(), "fast".parse().unwrap(), History::Latest, fast).await.unwrap();
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
    while let Some(item) = fast_rx.try_recv() {
        if let ServerMsg::Post(p) = decode(item) {
            seqs.push(p.seq);
        }
    }
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "the fast client got every post in order");
}

#[tokio::test]
async fn a_mass_overflow_drops_each_slow_member_once_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/hub.db", dir.path().display())).await.unwrap();
    let metrics = wallsocket::metrics::Metrics::default();
    let hub = Hub::spawn(store, metrics.clone());
    let (fast, mut fast_rx, _) = ClientHandle::channel(100_000, usize::MAX);
    hub.join(0, "big".parse().unwrap(), "fast".parse().unwrap(), History::Latest, fast).await.unwrap();
    // 500 members that never read, with room for one frame each: their `joined` fills it,
    // so the post (or an arrival notice before it) overflows every one of them.
    let mut tokens = Vec::new();
    let mut receivers = Vec::new();
    for i in 1..=500u64 {
        let (slow, rx, overflowed) = ClientHandle::channel(1, usize::MAX);
        hub.join(i, "big".parse().unwrap(), format!("slow{i}").parse().unwrap(), History::Latest, slow).await.unwrap();
        tokens.push(overflowed);
        receivers.push(rx);
    }
    hub.post("big".parse().unwrap(), "fast".parse().unwrap(), "c1".parse().unwrap(), "x".parse().unwrap())
        .await
        .unwrap();
    let dropped = tokens.iter().filter(|t| t.is_cancelled()).count();
    assert_eq!(dropped, 500, "every slow member overflowed");
    let rendered = metrics.render(0, 0);
    assert!(
        rendered.contains(&format!("wallsocket_queue_overflows_total {dropped}\n")),
        "each counted once:\n{rendered}"
    );
    // The fast member is still there and got the post.
    let mut got_post = false;
    while let Some(item) = fast_rx.try_recv() {
        got_post |= matches!(decode(item), ServerMsg::Post(_));
    }
    assert!(got_post);
    assert_eq!(hub.member_counts().await.unwrap()[&"big".parse().unwrap()], 501 - dropped as u32);
}

#[tokio::test]
async fn a_crowd_arriving_at_once_costs_each_member_a_bounded_share_of_presence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/hub.db", dir.path().display())).await.unwrap();
    let metrics = wallsocket::metrics::Metrics::default();
    let hub = Hub::spawn(store, metrics.clone());
    // 2,000 people arrive together; nobody reads (their queues are large enough to hold all).
    const CROWD: u64 = 2_000;
    let mut receivers = Vec::new();
    let joins = (0..CROWD).map(|i| {
        let (client, rx, _) = ClientHandle::channel(100_000, usize::MAX);
        receivers.push(rx);
        let hub = hub.clone();
        async move {
            let name = format!("person{i:04}").parse().unwrap();
            hub.join(i, "hall".parse().unwrap(), name, History::Latest, client).await.unwrap();
        }
    });
    futures::future::join_all(joins.collect::<Vec<_>>()).await;
    // Wait past the presence window so every arrival has been announced.
    tokio::time::sleep(std::time::Duration::from_millis(2 * app::protocol::PRESENCE_INTERVAL_MS)).await;
    hub.member_counts().await.unwrap();
    let rendered = metrics.render(0, 0);
    let encoded: u64 = rendered
        .lines()
        .find_map(|l| l.strip_prefix("wallsocket_presence_encoded_bytes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no presence counter in:\n{rendered}"));
    // Each name is ~20 bytes of JSON: the whole crowd once is ~40 KB. Tailoring a frame per
    // arrival would encode ~K²/2 names (~40 MB); a few shared frames per window is the bound.
    let per_member = encoded / CROWD;
    assert!(per_member <= 300, "{encoded} bytes of presence encoded for {CROWD} arrivals ({per_member} each)");
    drop(receivers);
}
