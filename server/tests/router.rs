//! The router driven without a port: built from its state on a temporary database and called
//! with `oneshot`. Its own test binary, because it renders pages: Leptos generates its route
//! list once per process (see `routes.rs`).

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use clap::Parser as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;
use wallsocket::config::Config;
use wallsocket::store::Store;
use wallsocket::{routes, startup};

async fn router(dir: &tempfile::TempDir) -> Router {
    let db = format!("sqlite://{}/wall.db", dir.path().display());
    let config = Config::try_parse_from(["wallsocket", "--database-url", &db]).expect("valid flags");
    let store = Store::connect(&config.database_url).await.expect("store opens");
    let options = startup::leptos_options(&config).expect("Leptos options");
    let node = startup::Node::alone(store);
    routes::router(startup::router_state(&config, node, options, CancellationToken::new(), TaskTracker::new()))
}

async fn get(router: &Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_pages_and_errors_answer_without_a_listening_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let router = router(&dir).await;

    let (status, body) = get(&router, "/health").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"status":"ok"}"#));

    let (status, html) = get(&router, "/r/NOT_A_ROOM!").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an invalid room name is no page");
    assert!(html.contains("No such room"), "{html}");

    let (status, html) = get(&router, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");

    let (status, html) = get(&router, "/r/lobby").await;
    assert_eq!(status, StatusCode::OK, "{html}");
}
