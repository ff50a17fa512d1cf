//! Server-rendered pages: history in the HTML, user text escaped, the directory's counts.

use crate::helpers::{spawn_app, spawn_app_with};
use std::sync::Arc;

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("HTTP request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_room_page_renders_its_latest_posts_escaped() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--rate-per-sec", "1000"]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "<img src=x onerror=alert(1)>", "x-1").await;
    for i in 0..55 {
        alice.send(&crate::helpers::post_msg("lobby", &format!("post number {i}"), &format!("n{i}"))).await;
        alice.next_post().await;
        alice.recv().await;
    }
    let (status, html) = get(&app.http_url("/r/lobby")).await;
    assert_eq!(status, 200);
    assert!(html.contains("post number 54"), "newest post rendered");
    assert!(html.contains("post number 5<"), "50 newest rendered");
    assert!(!html.contains("post number 4<"), "only the newest 50 rendered");
    assert!(!html.contains("<img src=x"), "user text is never HTML");
    assert!(!html.contains("<template"), "posts are in place, not streamed for JavaScript to insert");
    assert!(html.contains("Older posts"));
}

#[tokio::test]
async fn the_directory_lists_rooms_with_post_and_member_counts() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("pycon", "alice", None).await;
    alice.post("pycon", "hello", "d-1").await;
    let (status, html) = get(&app.http_url("/")).await;
    assert_eq!(status, 200);
    assert!(html.contains("/r/pycon"), "room linked");
    assert!(html.contains("1 post"));
    assert!(html.contains("1 here now"));
}

#[tokio::test]
async fn unknown_pages_and_invalid_rooms_say_so() {
    let app = spawn_app().await;
    let (status, html) = get(&app.http_url("/no/such/page")).await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));
    let (_, html) = get(&app.http_url("/r/Not%20A%20Room")).await;
    assert!(html.contains("No such room"));
}
