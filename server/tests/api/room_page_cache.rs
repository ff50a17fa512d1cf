//! The room-page microcache is keyed on what changes the page: a query string the page does
//! not read (`?x=1`, `?utm_source=…`) is served the same cached page, not a new render.

use crate::helpers::{spawn_app_with, TestApp};
use std::sync::Arc;
use std::time::Duration;

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let response = client.get(app.http_url(path)).send().await.expect("HTTP response within 20 s");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body within 20 s"))
}

async fn counter(app: &TestApp, name: &str) -> f64 {
    let metrics = reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
}

#[tokio::test]
async fn room_pages_with_unread_query_strings_are_served_from_the_cache() {
    const TEST: &str = "room_pages_with_unread_query_strings_are_served_from_the_cache";
    // Kept a minute, so a slow first render cannot expire the page mid-test.
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--page-cache-ms", "60000"]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "cached words", "c-1").await;

    for n in 0..50 {
        let (status, html) = get(&app, &format!("/r/lobby?x={n}")).await;
        assert_eq!(status, 200, "{TEST}: ?x={n}");
        assert!(html.contains("cached words"), "{TEST}: ?x={n} shows the room's posts");
        // Sharing one page between queries is sound only if the page does not echo its URL.
        assert!(!html.contains("x=0"), "{TEST}: the page does not carry its query string");
    }
    assert_eq!(counter(&app, "wallsocket_page_cache_misses_total").await, 1.0, "{TEST}: one render for 50 queries");
    assert_eq!(counter(&app, "wallsocket_page_cache_hits_total").await, 49.0, "{TEST}: the rest from the cache");

    // Another room is another page; a new post makes the cached page stale.
    let (status, _) = get(&app, "/r/other?x=1").await;
    assert_eq!(status, 200);
    assert_eq!(counter(&app, "wallsocket_page_cache_misses_total").await, 2.0, "{TEST}: another path renders");
    alice.post("lobby", "newer words", "c-2").await;
    let (_, html) = get(&app, "/r/lobby?x=7").await;
    assert!(html.contains("newer words"), "{TEST}: a post makes the cached page stale");
    assert_eq!(counter(&app, "wallsocket_page_cache_misses_total").await, 3.0, "{TEST}: rendered again after a post");
    app.stop().await;
}
