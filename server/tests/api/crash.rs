//! `kill -9` during a stream of posts: after a restart every acknowledged post is there,
//! seqs have no holes, and retried posts are not doubled.

use crate::helpers::spawn_binary;
use crate::helpers::KillOnDrop;
use app::protocol::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn start(db: &str) -> (KillOnDrop, u16) {
    let binary =
        spawn_binary(&["--log", "info", "--rate-per-sec", "100000", "--rate-burst", "100000", "--database-url", db]);
    (binary.child, binary.port)
}

fn post(i: usize, writer: usize) -> ClientMsg {
    ClientMsg::Post {
        room: "crash".parse().unwrap(),
        text: format!("post {i} by {writer}").parse().unwrap(),
        client_id: format!("w{writer}-{i}").parse().unwrap(),
    }
}

/// Posts `count` posts one after another, recording each ack, until the socket dies.
async fn writer(port: u16, writer: usize, count: usize, acked: Arc<Mutex<HashMap<String, u64>>>) {
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await else { return };
    let join = ClientMsg::Join {
        room: "crash".parse().unwrap(),
        username: Some(format!("writer{writer}").parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    };
    if ws.send(Message::text(serde_json::to_string(&join).unwrap())).await.is_err() {
        return;
    }
    for i in 0..count {
        if ws.send(Message::text(serde_json::to_string(&post(i, writer)).unwrap())).await.is_err() {
            return;
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ServerMsg::Ack { client_id, seq, .. }) = serde_json::from_str(&text) {
                        acked.lock().unwrap().insert(client_id.to_string(), seq);
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            }
        }
    }
}

#[tokio::test]
async fn kill_9_mid_stream_loses_no_acknowledged_post_and_doubles_no_retry() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/crash.db", dir.path().display());
    let (mut server, port) = start(&db);
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let writers: Vec<_> = (0..3).map(|w| tokio::spawn(writer(port, w, 334, acked.clone()))).collect();
    while acked.lock().unwrap().len() < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();

    let (mut server, port) = start(&db);
    let app_url = format!("ws://127.0.0.1:{port}/ws");
    let (ws, _) = tokio_tungstenite::connect_async(&app_url).await.unwrap();
    let mut client = crate::helpers::Client::from_stream(ws);
    client.recv().await;
    let (stored, _) = client.join("crash", "auditor", Some(0)).await;
    let seqs: Vec<u64> = stored.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>(), "no holes in the seqs");
    for (client_id, seq) in &acked {
        let found = stored.iter().find(|p| p.client_id.as_str() == client_id);
        assert_eq!(found.map(|p| p.seq), Some(*seq), "acknowledged post {client_id} survived with its seq");
    }

    // Every writer retries everything it had sent (up to the one in flight): nothing is
    // stored twice, and a retry of a stored post is acknowledged with its first seq.
    let seq_of = |id: &str| stored.iter().find(|p| p.client_id.as_str() == id).map(|p| p.seq);
    for w in 0..3 {
        let sent =
            (0..334).filter(|i| seq_of(&format!("w{w}-{i}")).is_some()).max().map_or(1, |last| last + 2).min(334);
        for i in 0..sent {
            let id = format!("w{w}-{i}");
            let seq = client.post("crash", &format!("post {i} by {w}"), &id).await;
            if let Some(first) = seq_of(&id) {
                assert_eq!(seq, first, "a retry of {id} is acknowledged with its first seq");
            }
        }
    }
    let (after, _) = client.join("crash", "auditor", Some(0)).await;
    let mut ids: Vec<&str> = after.iter().map(|p| p.client_id.as_str()).collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "no client id stored twice");
    assert_eq!(after.iter().map(|p| p.seq).collect::<Vec<_>>(), (1..=total as u64).collect::<Vec<_>>());
    server.kill().unwrap();
    server.wait().unwrap();
}
