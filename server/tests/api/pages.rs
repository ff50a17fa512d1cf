//! Server-rendered pages: history in the HTML, user text escaped, the directory's counts.

use crate::helpers::{spawn_app, spawn_app_with};
use std::sync::Arc;
use std::time::Duration;

/// A page and its status; fails the test if the page takes longer than 20 s.
async fn get(url: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let response = client.get(url).send().await.expect("HTTP response within 20 s");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body within 20 s"))
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
    let (status, html) = get(&app.http_url("/r/Not%20A%20Room")).await;
    assert_eq!(status, 404, "an invalid room name is no page");
    assert!(html.contains("No such room"));
}

/// Building a server generates the app's route list, which runs the app with resource loading
/// switched off by a process-wide flag (leptos_server). A page rendered by another server of
/// the same process at that moment used to wait forever (leptos issue #4773).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_servers_start_in_the_same_process() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "still here", "s-1").await;
    let starting = tokio::spawn(async {
        for _ in 0..40 {
            let other = spawn_app().await;
            other.stop().await;
        }
    });
    while !starting.is_finished() {
        let (status, html) = get(&app.http_url("/r/lobby")).await;
        assert_eq!(status, 200);
        assert!(html.contains("still here"));
    }
    starting.await.expect("servers start and stop");
}

/// Room pages are kept for up to a second: the same page twice is the same render, byte for
/// byte (its hydration data carries the server's clock), yet a post stored in between shows
/// at once, and a page a second old is rendered again.
#[tokio::test]
async fn a_room_page_is_rendered_again_only_for_new_posts_or_after_a_second() {
    let app = spawn_app().await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "first post", "p-1").await;
    let (_, one) = get(&app.http_url("/r/lobby")).await;
    let (_, two) = get(&app.http_url("/r/lobby")).await;
    assert!(one.contains("first post"));
    assert_eq!(one, two, "served again");
    alice.post("lobby", "second post", "p-2").await;
    let (_, three) = get(&app.http_url("/r/lobby")).await;
    assert!(three.contains("second post"), "a new post shows at once");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, four) = get(&app.http_url("/r/lobby")).await;
    assert_eq!(status, 200);
    assert_ne!(three, four, "rendered again after a second");
}

#[tokio::test]
async fn with_the_page_cache_off_every_request_is_rendered() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--page-cache-ms", "0"]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    alice.post("lobby", "a post", "p-1").await;
    let (_, one) = get(&app.http_url("/r/lobby")).await;
    tokio::time::sleep(Duration::from_millis(5)).await; // another millisecond on the page's clock
    let (_, two) = get(&app.http_url("/r/lobby")).await;
    assert!(one.contains("a post") && two.contains("a post"));
    assert_ne!(one, two);
}

/// The posts in a room page's hydration data (what the browser hydrates the wall from).
fn hydration_posts(html: &str) -> Vec<app::protocol::Post> {
    let (_, data) = html.split_once("__RESOLVED_RESOURCES[0] = ").expect("the room's page data");
    let (quoted, _) = data.split_once(";</script>").expect("the end of the page data");
    let json: String = serde_json::from_str(quoted).expect("a quoted string");
    let page: serde_json::Value = serde_json::from_str(&json).expect("the page as JSON");
    serde_json::from_value(page["Ok"]["posts"].clone()).expect("posts")
}

#[tokio::test]
async fn a_room_pages_hydration_data_holds_its_posts_as_stored() {
    // Every request rendered. Alice's join kept the room's tail before she posted, so the
    // first page (unless a second has passed already) carries the JSON made as each post
    // joined it; a tail is trusted for a second, so after that the room is read again and
    // the JSON is made on that read.
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--page-cache-ms", "0"]).await;
    let mut alice = app.client().await;
    alice.join("lobby", "alice", None).await;
    let texts = ["say \"hi\" \\ </script> 🦀", "two\nlines"];
    for (n, text) in texts.iter().enumerate() {
        alice.post("lobby", text, &format!("p-{n}")).await;
    }
    let check = |html: &str, request: &str| {
        let posts = hydration_posts(html);
        let seen: Vec<(u64, &str)> = posts.iter().map(|p| (p.seq, p.text.as_str())).collect();
        assert_eq!(seen, [(1, texts[0]), (2, texts[1])], "{request}");
    };
    check(&get(&app.http_url("/r/lobby")).await.1, "posts appended to the tail");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the tail's trusted second
    check(&get(&app.http_url("/r/lobby")).await.1, "the room read again");
}
