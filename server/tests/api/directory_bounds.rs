//! The directory (`GET /`) stays small whatever clients join: at most 50 live rooms without
//! posts are listed, the busiest first, beside the rooms that have posts; and the query for
//! the rooms with posts reads an index, not the whole table.

use crate::helpers::{spawn_app, Client, TestApp};
use sqlx::Connection;
use std::time::Duration;

/// Live rooms without posts the directory lists at most.
const LIVE_LISTED: usize = 50;

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let response = client.get(app.http_url(path)).send().await.expect("HTTP response within 20 s");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body within 20 s"))
}

/// Each listed room's name, in order (from its row's `data-room` attribute).
fn listed_rooms(html: &str) -> Vec<&str> {
    html.split(r#"<li data-room=""#).skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

#[tokio::test]
async fn a_thousand_junk_rooms_add_at_most_fifty_rows_to_the_directory() {
    const TEST: &str = "a_thousand_junk_rooms_add_at_most_fifty_rows_to_the_directory";
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("pycon", "alice", None).await;
    alice.post("pycon", "hello", "d-1").await;
    // A live room without posts, busier than any junk room.
    let mut crowd = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let mut client = app.client().await;
        client.join("busy-room", name, None).await;
        crowd.push(client);
    }
    // 63 connections × 16 rooms (the per-connection cap) = 1,008 junk rooms, one person each.
    let joiners = (0..63).map(|c| {
        let port = app.port;
        tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.expect("upgrade");
            let mut client = Client::from_stream(ws);
            client.recv().await;
            for r in 0..16 {
                client.join(&format!("junk-{c}-{r}"), &format!("junk{c}"), None).await;
            }
            client
        })
    });
    let mut junk = Vec::new();
    for joiner in joiners.collect::<Vec<_>>() {
        junk.push(joiner.await.expect("every junk join answered"));
    }

    let (status, html) = get(&app, "/").await;
    assert_eq!(status, 200, "{TEST}");
    let rooms = listed_rooms(&html);
    let live = rooms.iter().filter(|r| r.starts_with("junk-") || **r == "busy-room").count();
    assert!(live <= LIVE_LISTED, "{TEST}: {live} live rooms without posts listed (of 1,009), at most {LIVE_LISTED}");
    assert_eq!(live, LIVE_LISTED, "{TEST}: as many as fit are listed");
    assert_eq!(rooms.first(), Some(&"busy-room"), "{TEST}: the busiest live room comes first: {rooms:?}");
    assert!(rooms.contains(&"pycon"), "{TEST}: rooms with posts are still listed: {rooms:?}");
    assert!(html.contains("3 here now"), "{TEST}: the busy room's members counted");
    assert!(html.contains("1 post"), "{TEST}: the stored room's posts counted");

    // Counts are kept as people come and go: /metrics needs no walk over the rooms.
    let metrics = reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("\nwallsocket_rooms 1010\n"), "{TEST}: 1,008 junk rooms + 2:\n{metrics}");
    drop(junk);
    drop(crowd);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap();
        if metrics.contains("\nwallsocket_rooms 1\n") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{TEST}: rooms not emptied after the junk left:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, html) = get(&app, "/").await;
    assert_eq!(listed_rooms(&html), vec!["pycon"], "{TEST}: rooms left empty are no longer listed");
    app.stop().await;
}

#[tokio::test]
async fn the_directory_reads_rooms_by_an_index_on_last_activity() {
    const TEST: &str = "the_directory_reads_rooms_by_an_index_on_last_activity";
    let app = spawn_app().await;
    let db = format!("sqlite://{}/wall.db", app.dir.path().display());
    let mut conn = sqlx::SqliteConnection::connect(&db).await.expect("open the server's database");
    // The store's directory query.
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT room, last_seq, last_ts FROM rooms ORDER BY last_ts DESC LIMIT 100")
            .fetch_all(&mut conn)
            .await
            .expect("a query plan");
    let plan: Vec<String> = plan.into_iter().map(|(_, _, _, detail)| detail).collect();
    assert!(plan.iter().any(|d| d.contains("USING INDEX rooms_by_last_ts")), "{TEST}: {plan:?}");
    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{TEST}: no sort of the whole table: {plan:?}");
    app.stop().await;
}
