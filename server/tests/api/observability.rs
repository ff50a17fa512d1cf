//! `/health`, `/metrics`, and logs that never carry what users wrote.

use crate::helpers::spawn_app;
use crate::helpers::{spawn_binary, Binary};
use app::protocol::close;
use std::process::Command;
use tokio_tungstenite::tungstenite::Message;

async fn metrics(app: &crate::helpers::TestApp) -> String {
    reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap()
}

fn value(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{metrics}"))
}

#[tokio::test]
async fn health_and_metrics_follow_the_traffic() {
    let app = spawn_app().await;
    let health = reqwest::get(app.http_url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), r#"{"status":"ok"}"#);
    let mut alice = app.client().await;
    let mut bob = app.client().await;
    alice.join("lobby", "alice", None).await;
    bob.join("lobby", "bob", None).await;
    alice.post("lobby", "counted", "m-1").await;

    let m = metrics(&app).await;
    assert_eq!(value(&m, "wallsocket_connections"), 2.0);
    assert_eq!(value(&m, "wallsocket_rooms"), 1.0);
    assert_eq!(value(&m, "wallsocket_posts_total"), 1.0);
    assert_eq!(value(&m, "wallsocket_deliveries_total"), 2.0);
    assert_eq!(value(&m, "wallsocket_post_to_delivery_seconds_count"), 1.0);

    let huge = "x".repeat(100_000);
    let _ = bob.send_raw(Message::text(huge)).await;
    assert_eq!(bob.recv_close().await, Some(close::TOO_BIG));
    drop(bob);
    drop(alice);
    // Back to the baseline once both are gone.
    let mut m = metrics(&app).await;
    for _ in 0..50 {
        if value(&m, "wallsocket_connections") == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        m = metrics(&app).await;
    }
    assert_eq!(value(&m, "wallsocket_connections"), 0.0);
    assert_eq!(value(&m, "wallsocket_closes_total{code=\"1009\"}"), 1.0);
}

/// Waits until `name` reaches at least `at_least`; its value then.
async fn value_reaching(app: &crate::helpers::TestApp, name: &str, at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = value(&metrics(app).await, name);
        if now >= at_least || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_post_is_timed_once_until_its_last_member_has_it_written() {
    let app = spawn_app().await;
    let mut members = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let mut client = app.client().await;
        client.join("timed", name, None).await;
        members.push(client);
    }
    let count = "wallsocket_post_to_written_seconds_count";
    for n in 1..=3 {
        members[0].post("timed", &format!("post {n}"), &format!("t-{n}")).await;
        for member in &mut members[1..] {
            member.next_post().await;
        }
        // One observation per post (not one per member), made once all three had it written.
        assert_eq!(value_reaching(&app, count, n as f64).await, n as f64, "after post {n}");
    }
    let m = metrics(&app).await;
    assert!(value(&m, "wallsocket_post_to_written_seconds_sum") > 0.0);
}

#[tokio::test]
async fn debug_logs_never_contain_post_text_names_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/logs.db", dir.path().display());
    let Binary { mut child, port, log: collector } = spawn_binary(&["--log", "debug", "--database-url", &db]);

    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.unwrap();
    let mut client = crate::helpers::Client::from_stream(ws);
    client.recv().await;
    client.join("lobby", "secretname", None).await;
    client.post("lobby", "TOP-SECRET-TEXT", "secret-client-id").await;
    client.send_text(r#"{"type":"post","room":"lobby","text":"   ","client_id":"another-secret"}"#).await;
    client.recv().await;
    let session: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{port}/x/poll")).await.unwrap().json().await.unwrap();
    let token = session[0]["session"].as_str().unwrap().to_owned();
    // A long poll in flight (it would wait 25 s): its URL carries the session token.
    tokio::spawn(reqwest::get(format!("http://127.0.0.1:{port}/x/poll?session={token}")));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(client);

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap();
    let logs = collector.join().unwrap();
    assert!(logs.contains("connected"), "debug logs were captured:\n{logs}");
    for secret in ["TOP-SECRET-TEXT", "secretname", "secret-client-id", "another-secret", token.as_str()] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}:\n{logs}");
    }
}
