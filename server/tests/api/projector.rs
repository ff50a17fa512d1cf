//! The projector page (`/r/{room}/wall`) as the server renders it, and its QR code.

use crate::helpers::spawn_app_with;
use std::sync::Arc;
use std::time::Duration;

async fn get(url: &str, host: Option<&str>) -> (u16, Option<String>, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let mut request = client.get(url);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = request.send().await.expect("HTTP response within 20 s");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, kind, response.text().await.expect("body within 20 s"))
}

#[tokio::test]
async fn the_projector_page_renders_the_newest_posts_the_address_and_no_composer_or_navigation() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--rate-per-sec", "1000"]).await;
    let mut alice = app.client().await;
    alice.join("pycon", "alice", None).await;
    alice.post("pycon", "<b>not bold</b>", "x-0").await;
    for i in 1..=14 {
        alice.post("pycon", &format!("post number {i}"), &format!("n{i}")).await;
    }
    let (status, _, html) = get(&app.http_url("/r/pycon/wall"), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("post number 14<") && html.contains("post number 3<"), "the newest 12 rendered");
    assert!(!html.contains("post number 2<"), "older posts leave the page");
    assert_eq!(html.matches("class=\"projector-post\"").count(), 12);
    let address = html.split("class=\"projector-url\">").nth(1).and_then(|rest| rest.split("</p>").next());
    let address = address.unwrap_or_else(|| panic!("no address in {html}")).replace("<wbr>", "").replace("<!>", "");
    assert_eq!(address, format!("127.0.0.1:{}/r/pycon", app.port), "the room's short address");
    assert!(html.contains("src=\"/r/pycon/qr.svg\""), "the QR code");
    assert!(!html.contains("composer"), "no composer");
    assert!(!html.contains("class=\"topnav\""), "no navigation");
    assert!(!html.contains("<b>not bold"), "user text is never HTML");
}

#[tokio::test]
async fn the_qr_code_is_an_svg_of_the_address_asked_for_and_a_bad_room_is_404() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // The page cache on (its default): two hosts must not share one cached image.
    let app = spawn_app_with(dir, &[]).await;
    let (status, kind, a) = get(&app.http_url("/r/pycon/qr.svg"), Some("a.example")).await;
    assert_eq!((status, kind.as_deref()), (200, Some("image/svg+xml")));
    assert!(a.contains("<svg") && a.contains("<path"), "{a}");
    let (_, _, b) = get(&app.http_url("/r/pycon/qr.svg"), Some("b.example")).await;
    assert_ne!(a, b, "another host, another address, another code");
    let (status, _, _) = get(&app.http_url("/r/Not%20a%20room/qr.svg"), None).await;
    assert_eq!(status, 404);
}
