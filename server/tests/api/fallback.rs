//! SSE + POST and long polling carry the same messages, in the same order, as WebSocket.

use crate::helpers::{post_msg, spawn_app, TestApp};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::time::Duration;

/// Reads Server-Sent Events from a streaming response.
pub(crate) struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

/// One SSE event: its `id:` line, if any, and its data as a server message.
pub(crate) struct SseEvent {
    pub(crate) id: Option<String>,
    pub(crate) msg: ServerMsg,
}

impl SseReader {
    pub(crate) async fn open(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Self {
        let mut request = reqwest::Client::new().get(app.http_url(&format!("/x/sse{query}")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        Self { response, buffer: String::new() }
    }

    pub(crate) async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                let msg = serde_json::from_str(&data).expect("a ServerMsg");
                if matches!(msg, ServerMsg::Claimed { .. }) {
                    continue; // a first use of a name; the claims tests read it
                }
                return SseEvent { id, msg };
            }
            let chunk =
                tokio::time::timeout(Duration::from_secs(5), self.response.chunk()).await.expect("an event within 5 s");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("stream open")));
        }
    }

    pub(crate) async fn next_post(&mut self) -> (Option<String>, u64) {
        loop {
            let event = self.next().await;
            if let ServerMsg::Post(post) = event.msg {
                return (event.id, post.seq);
            }
        }
    }
}

pub(crate) async fn send(app: &TestApp, session: &str, msg: &ClientMsg) -> (u16, Vec<ServerMsg>) {
    let response = reqwest::Client::new()
        .post(app.http_url(&format!("/x/send?session={session}")))
        .body(serde_json::to_string(msg).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

pub(crate) async fn poll(app: &TestApp, session: Option<&str>) -> Vec<ServerMsg> {
    let query = session.map(|s| format!("?session={s}")).unwrap_or_default();
    let response = reqwest::get(app.http_url(&format!("/x/poll{query}"))).await.unwrap();
    assert_eq!(response.status(), 200);
    let answers: Vec<ServerMsg> = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    // A first use of a name also answers `claimed`; the claims tests read it.
    answers.into_iter().filter(|m| !matches!(m, ServerMsg::Claimed { .. })).collect()
}

pub(crate) fn session_of(msg: &ServerMsg) -> String {
    match msg {
        ServerMsg::Hello { session: Some(s), .. } => s.clone(),
        other => panic!("expected hello with a session, got {other:?}"),
    }
}

#[tokio::test]
async fn sse_and_post_carry_the_websocket_sequence() {
    let app = spawn_app().await;
    let mut ws = app.client().await;
    ws.join("lobby", "wsuser", None).await;
    let mut observer = app.client().await;
    observer.join("lobby", "observer", None).await;
    let mut sse = SseReader::open(&app, "?room=lobby&username=sseuser", None).await;
    let session = session_of(&sse.next().await.msg);
    assert!(matches!(sse.next().await.msg, ServerMsg::Joined { .. }));

    for i in 1..=3 {
        ws.post("lobby", &format!("ws {i}"), &format!("w{i}")).await;
    }
    let (status, answer) = send(&app, &session, &post_msg("lobby", "from sse", "s1")).await;
    assert_eq!(status, 200);
    assert!(matches!(answer.as_slice(), [ServerMsg::Ack { seq: 4, .. }]), "{answer:?}");

    let mut over_sse = Vec::new();
    for _ in 0..4 {
        let (id, seq) = sse.next_post().await;
        assert_eq!(id, Some(seq.to_string()), "the event id is the seq, for Last-Event-ID");
        over_sse.push(seq);
    }
    let mut over_ws = Vec::new();
    for _ in 0..4 {
        over_ws.push(observer.next_post().await.seq);
    }
    assert_eq!(over_sse, [1, 2, 3, 4]);
    assert_eq!(over_ws, over_sse);

    // Resume with Last-Event-ID: only what came after it. (Watching: a query cannot carry
    // the claim `sseuser` now has, and without it the name is refused.)
    let mut resumed = SseReader::open(&app, "?room=lobby", Some("2")).await;
    resumed.next().await; // hello
    match resumed.next().await.msg {
        ServerMsg::Joined { history, .. } => assert_eq!(history.iter().map(|p| p.seq).collect::<Vec<_>>(), [3, 4]),
        other => panic!("expected joined, got {other:?}"),
    }
}

#[tokio::test]
async fn long_polling_carries_the_websocket_sequence() {
    let app = spawn_app().await;
    let opened = poll(&app, None).await;
    let session = session_of(&opened[0]);
    let (_, answer) = send(
        &app,
        &session,
        &ClientMsg::Join {
            room: "lobby".parse().unwrap(),
            username: Some("poller".parse().unwrap()),
            since: None,
            claim: None,
            from: None,
        },
    )
    .await;
    assert!(answer.is_empty(), "joined arrives by poll");
    assert!(matches!(poll(&app, Some(&session)).await.as_slice(), [ServerMsg::Joined { .. }]));

    let mut ws = app.client().await;
    ws.join("lobby", "wsuser", None).await;
    ws.post("lobby", "one", "w1").await;
    ws.post("lobby", "two", "w2").await;
    let (_, answer) = send(&app, &session, &post_msg("lobby", "three", "p3")).await;
    assert!(matches!(answer.as_slice(), [ServerMsg::Ack { seq: 3, .. }]), "{answer:?}");

    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        for msg in poll(&app, Some(&session)).await {
            if let ServerMsg::Post(p) = msg {
                seqs.push(p.seq);
            }
        }
    }
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(ws.next_post().await.seq, 3);
}

#[tokio::test]
async fn a_poll_waits_for_news_and_an_unknown_session_is_refused() {
    let app = spawn_app().await;
    let session = session_of(&poll(&app, None).await[0]);
    send(
        &app,
        &session,
        &ClientMsg::Join {
            room: "lobby".parse().unwrap(),
            username: Some("poller".parse().unwrap()),
            since: None,
            claim: None,
            from: None,
        },
    )
    .await;
    poll(&app, Some(&session)).await; // joined
    let waiting = tokio::spawn({
        let url = app.http_url(&format!("/x/poll?session={session}"));
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the poll is held open until there is news");
    app.client().await.join("lobby", "ws", None).await;
    let body = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert!(body.contains(r#""type":"presence""#), "{body}");

    let (status, answer) = send(&app, "no-such-session", &ClientMsg::Ping).await;
    assert_eq!(status, 404);
    assert!(matches!(answer.as_slice(), [ServerMsg::Error { code: ErrorCode::UnknownSession, .. }]));
}

#[tokio::test]
async fn fallback_endpoints_check_the_origin() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(app.http_url("/x/sse"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = reqwest::Client::new()
        .get(app.http_url("/x/poll"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn closing_an_sse_stream_leaves_the_room() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    let mut sse = SseReader::open(&app, "?room=lobby&username=streamer", None).await;
    sse.next().await; // hello
    assert!(matches!(alice.recv().await, ServerMsg::Presence { .. }));
    drop(sse);
    match alice.recv().await {
        ServerMsg::Presence { left, members, .. } => {
            assert_eq!((left, members), (vec!["streamer".parse().unwrap()], 1))
        }
        other => panic!("expected streamer to leave, got {other:?}"),
    }
}
