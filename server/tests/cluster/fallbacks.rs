//! SSE and long polling with no sticky sessions: each request may land on any node (nginx,
//! round robin), and a session whose node died sends its client to resume.

use crate::helpers::post_msg;
use crate::nginx::Nginx;
use crate::nodes::{client, Services};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::time::{Duration, Instant};

/// Where a client's requests go: one address (nginx's, or a node's).
struct Entry(u16);

impl Entry {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.0)
    }
}

async fn send(url: String, msg: &ClientMsg) -> (u16, Vec<ServerMsg>) {
    let body = serde_json::to_string(msg).unwrap();
    let response = reqwest::Client::new().post(url).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

async fn poll(url: String) -> (u16, Vec<ServerMsg>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

fn session_of(msg: &ServerMsg) -> String {
    match msg {
        ServerMsg::Hello { session: Some(s), .. } => s.clone(),
        other => panic!("expected hello with a session, got {other:?}"),
    }
}

fn join(room: &str, user: Option<&str>, since: Option<u64>) -> ClientMsg {
    ClientMsg::Join {
        room: room.parse().unwrap(),
        username: user.map(|u| u.parse().unwrap()),
        since,
        claim: None,
        from: None,
    }
}

/// Polls until `posts` posts have arrived; every poll must be answered 200.
async fn poll_posts(rr: &Entry, session: &str, posts: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < posts {
        let (status, batch) = poll(rr.url(&format!("/x/poll?session={session}"))).await;
        assert_eq!(status, 200, "a poll landing on another node than the session's: {batch:?}");
        seqs.extend(batch.into_iter().filter_map(|m| match m {
            ServerMsg::Post(post) => Some(post.seq),
            _ => None,
        }));
    }
    seqs
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn sse_and_long_polling_work_round_robin_without_sticky_sessions() {
    let services = Services::start("fallbacks");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let nginx = Nginx::start(&[a.port, b.port]);
    let rr = Entry(nginx.port);
    let mut watcher = client(b.port).await;
    watcher.send(&join("lobby", None, None)).await;

    // Long polling through nginx: each request lands on the other node than the last.
    let (_, hello) = poll(rr.url("/x/poll")).await;
    let session = session_of(&hello[0]);
    let url = rr.url(&format!("/x/send?session={session}"));
    assert_eq!(send(url, &join("lobby", Some("pat"), None)).await.0, 200);
    for i in 1..=3 {
        let (status, answer) =
            send(rr.url(&format!("/x/send?session={session}")), &post_msg("lobby", "hi", &format!("p{i}"))).await;
        assert_eq!(status, 200, "{answer:?}");
    }
    assert_eq!(poll_posts(&rr, &session, 3).await, [1, 2, 3]);

    // A node tells proxies not to buffer its streams (nginx takes the header for itself).
    let direct = reqwest::get(format!("http://127.0.0.1:{}/x/sse", a.port)).await.unwrap();
    assert_eq!(direct.headers().get("x-accel-buffering").map(|v| v.to_str().unwrap()), Some("no"));
    drop(direct);

    // SSE through nginx: the stream on one node, its posts sent through nginx again.
    let mut stream = reqwest::get(rr.url("/x/sse?room=lobby&username=sid&since=3")).await.unwrap();
    let mut text = String::new();
    let sse_session = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await.expect("the SSE hello");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
        if let Some(session) = text.split("\"session\":\"").nth(1).and_then(|rest| rest.split('"').next()) {
            break session.to_owned();
        }
    };
    for i in 4..=5 {
        let url = rr.url(&format!("/x/send?session={sse_session}"));
        let (status, answer) = send(url, &post_msg("lobby", "over sse", &format!("s{i}"))).await;
        assert_eq!(status, 200, "{answer:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(text.contains(r#""seq":4"#) && text.contains(r#""seq":5"#)) {
        assert!(Instant::now() < deadline, "posts sent through either node reach the stream: {text}");
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await.expect("an event");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
    }
    // And every post reached the WebSocket watcher on b, in order.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        if let ServerMsg::Post(post) = watcher.recv().await {
            seen.push(post.seq);
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_dead_owner_sends_the_client_to_resume() {
    let services = Services::start("owner");
    let (a, b) = (services.node("a", &[]), services.node("b", &[]));
    let on_a = |path: &str| format!("http://127.0.0.1:{}{path}", a.port);
    let (_, hello) = poll(format!("http://127.0.0.1:{}/x/poll", b.port)).await;
    let session = session_of(&hello[0]);
    assert_eq!(send(on_a(&format!("/x/send?session={session}")), &join("lobby", Some("pat"), None)).await.0, 200);
    assert_eq!(send(on_a(&format!("/x/send?session={session}")), &post_msg("lobby", "one", "p1")).await.0, 200);
    // The first use of the name answered `claimed`: the client keeps the secret.
    let (_, answers) = poll(on_a(&format!("/x/poll?session={session}"))).await;
    let claim = answers.into_iter().find_map(|m| match m {
        ServerMsg::Claimed { claim, .. } => Some(claim),
        _ => None,
    });
    assert!(claim.is_some(), "pat's claim comes with the first poll");

    drop(b); // kill -9: its sessions die with it.
    let mut alice = client(a.port).await;
    alice.join("lobby", "alice", None).await;
    assert_eq!(alice.post("lobby", "two, while pat is away", "p2").await, 2);

    let asked = Instant::now();
    let (status, answer) = poll(on_a(&format!("/x/poll?session={session}"))).await;
    assert_eq!(status, 404);
    assert!(matches!(&answer[..], [ServerMsg::Error { code: ErrorCode::UnknownSession, .. }]), "{answer:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "told at once, not after the relay's wait: {:?}",
        asked.elapsed()
    );

    // The client opens a session on a node that is alive and resumes: nothing is lost.
    let (_, hello) = poll(on_a("/x/poll")).await;
    let session = session_of(&hello[0]);
    let mut rejoin = join("lobby", Some("pat"), Some(1));
    if let ClientMsg::Join { claim: slot, .. } = &mut rejoin {
        *slot = claim;
    }
    let (status, answer) = send(on_a(&format!("/x/send?session={session}")), &rejoin).await;
    assert_eq!((status, answer), (200, vec![]), "pat joins again under the claim");
    for _ in 0..3 {
        let (_, batch) = poll(on_a(&format!("/x/poll?session={session}"))).await;
        if let Some(ServerMsg::Joined { history, .. }) = batch.iter().find(|m| matches!(m, ServerMsg::Joined { .. })) {
            let texts: Vec<&str> = history.iter().map(|p| p.text.as_str()).collect();
            assert_eq!(texts, ["two, while pat is away"]);
            return;
        }
    }
    panic!("the resumed session's `joined` did not come within three polls");
}
