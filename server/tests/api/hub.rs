//! The hub on its own: rooms kept apart, and a full client queue closes only that client.

use app::protocol::{Post, ServerMsg};
use std::sync::Arc;
use wallsocket::frame::Frame;
use wallsocket::hub::{Hub, JoinRequest, Member, NewPost};
use wallsocket::queue::ClientHandle;
use wallsocket::store::Store;

async fn hub() -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/hub.db", dir.path().display())).await.unwrap();
    (Hub::spawn(store, wallsocket::metrics::Metrics::default()), dir)
}

/// A connection on `client` that has joined `room` as `username` (its `joined` is queued).
async fn join(hub: &Hub, room: &str, username: &str, client: ClientHandle) -> Member {
    let member = hub.connect(client, usize::MAX);
    let request = JoinRequest {
        room: room.parse().unwrap(),
        username: Some(username.parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    };
    member.join(request).await.unwrap().complete().await.unwrap();
    member
}

/// Posts as `member` and waits until the post is stored.
async fn post(member: &Member, room: &str, client_id: &str, text: &str) -> Post {
    let post =
        NewPost { room: room.parse().unwrap(), client_id: client_id.parse().unwrap(), text: text.parse().unwrap() };
    member.post(post).await.unwrap().into_result().await.unwrap()
}

fn decode(frame: Arc<Frame>) -> ServerMsg {
    serde_json::from_str(frame.as_str()).unwrap()
}

#[tokio::test]
async fn rooms_are_kept_apart() {
    let (hub, _dir) = hub().await;
    let (a, mut a_rx, _) = ClientHandle::channel(16, usize::MAX);
    let (b, mut b_rx, _) = ClientHandle::channel(16, usize::MAX);
    let ann = join(&hub, "red", "ann", a).await;
    let _ben = join(&hub, "blue", "ben", b).await;
    assert!(matches!(decode(a_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    assert!(matches!(decode(b_rx.recv().await.unwrap()), ServerMsg::Joined { .. }));
    let post = post(&ann, "red", "c1", "hi").await;
    assert_eq!(decode(a_rx.recv().await.unwrap()), ServerMsg::Post(post));
    assert!(b_rx.try_recv().is_none(), "blue heard nothing from red");
}

#[tokio::test]
async fn a_full_queue_closes_only_that_client() {
    let (hub, _dir) = hub().await;
    let (slow, _slow_rx_never_read, slow_overflowed) = ClientHandle::channel(2, usize::MAX);
    let (fast, mut fast_rx, fast_overflowed) = ClientHandle::channel(64, usize::MAX);
    let _slow = join(&hub, "room", "slow", slow).await;
    let fast = join(&hub, "room", "fast", fast).await;
    for i in 0..10 {
        post(&fast, "room", &format!("c{i}"), "x").await;
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
    let fast = join(&hub, "big", "fast", fast).await;
    // 500 members that never read, with room for one frame each: their `joined` fills it,
    // so the post (or an arrival notice before it) overflows every one of them.
    let mut tokens = Vec::new();
    let mut receivers = Vec::new();
    let mut members = Vec::new();
    for i in 1..=500u64 {
        let (slow, rx, overflowed) = ClientHandle::channel(1, usize::MAX);
        members.push(join(&hub, "big", &format!("slow{i}"), slow).await);
        tokens.push(overflowed);
        receivers.push(rx);
    }
    post(&fast, "big", "c1", "x").await;
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
        async move { join(&hub, "hall", &format!("person{i:04}"), client).await }
    });
    let members = futures::future::join_all(joins.collect::<Vec<_>>()).await;
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
    drop((members, receivers));
}
