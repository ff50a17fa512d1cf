//! Every HTTP route the server answers, in one place, top to bottom: the wall's realtime
//! endpoints, the pages (Leptos), the lessons, then the layers every request passes.
//!
//! [`router`] needs only its [`RouterState`]: a test can build one (see
//! `crate::startup::router_state`) and call the router with `tower::ServiceExt::oneshot`,
//! without binding a port.

use crate::assets::{self, Assets, Stamp};
use crate::fallback;
use crate::gateway::Gateway;
use crate::lab::{echo, frames, handshake, ticker, LabState};
use crate::page_cache::{self, PageCache};
use crate::ws::{self, WsState};
use app::api::WallData;
use app::{shell, App};
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{header, Extensions, HeaderMap, StatusCode, Version};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::trace::TraceLayer;

/// The pages' routes, generated once per process. Generating them runs the app with resource
/// loading switched off by a process-wide flag (leptos_server), so a page that another server
/// of the same process rendered at that moment would wait forever (leptos issue #4773): the
/// integration tests start many servers in one process.
static PAGES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));

/// What the wall's routes and the pages share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ws: WsState,
}

/// What the [`crate::gateway::Permit`] extractor admits with.
impl FromRef<AppState> for Gateway {
    fn from_ref(state: &AppState) -> Self {
        state.ws.gateway.clone()
    }
}

/// Limits that apply per request.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    /// Largest request body (`--max-message-bytes`); larger ones get 413.
    pub max_body: usize,
    /// Time for a POST's body and answer (`--request-timeout-ms`); then 408.
    pub request_timeout: Duration,
}

/// Everything the routes need.
#[derive(Clone)]
pub struct RouterState {
    pub app: AppState,
    /// The lessons' own state, apart from the wall's.
    pub lab: LabState,
    pub page_cache: PageCache,
    /// What the pages' server functions read.
    pub data: Arc<dyn WallData>,
    pub limits: RouteLimits,
}

pub fn router(state: RouterState) -> Router {
    let RouterState { app: state, lab, page_cache, data, limits } = state;
    let options = state.leptos_options.clone();
    let bundle = Assets::new(&options.site_root);
    let stamp = Stamp::new(bundle.clone());
    let (page_stamp, error_stamp) = (stamp.clone(), stamp.clone());
    Router::new()
        // The wall's realtime endpoints. The inspector lesson records upgrades asked for with
        // `?capture=`: its layer, not the wall's handler, knows about it.
        .route("/ws", get(ws::upgrade).layer(from_fn_with_state(lab.captures.clone(), handshake::capture)))
        .route("/x/sse", get(fallback::sse))
        .route("/x/poll", get(fallback::poll))
        .route("/x/send", post(fallback::send).layer(DefaultBodyLimit::max(limits.max_body)))
        .route("/health", get(ws::health))
        .route("/metrics", get(ws::metrics))
        // The app's JS, WASM and CSS, compressed once: under the build's stamp (what pages
        // name) kept for good, else revalidated by ETag.
        .route_service("/v/{stamp}/pkg/{file}", get(assets::serve_stamped).with_state(stamp))
        .route_service("/pkg/{file}", get(assets::serve).with_state(bundle))
        // The projector page's QR code of the room's address.
        .route("/r/{room}/qr.svg", get(crate::qr::room_qr))
        // The pages and their server functions; anything else is a file or the 404 page.
        .leptos_routes_with_context(&state, PAGES.clone(), move || provide_context(data.clone()), move || {
            shell(options.clone(), page_stamp.root())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(move |options| {
            shell(options, error_stamp.root())
        }))
        .with_state(state)
        .merge(lessons(lab, limits.max_body))
        // Every request: POST deadline, the room-page cache, HTML compressed on the way out, a
        // span (method and path only: query strings can carry session tokens).
        .layer(from_fn_with_state(limits.request_timeout, crate::serve::post_deadline))
        .layer(from_fn_with_state(page_cache, page_cache::serve))
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(5)).compress_when(is_html))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
}

/// Pages are compressed as they go out (a room page of 50 posts shrinks several times, for
/// well under a millisecond of a core). Nothing else is: the bundle is compressed once by
/// `assets/`, streams (SSE) must not wait for a compressor's buffer, and the lessons
/// measure the bytes of uncompressed exchanges.
fn is_html(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    kind.starts_with("text/html") && !headers.contains_key(header::CONTENT_ENCODING)
}

/// The lessons' endpoints, with their own state (`server/src/lab/`).
fn lessons(lab: LabState, max_body: usize) -> Router {
    Router::new()
        .route("/lab/echo/http", post(echo::http))
        .route("/lab/echo/ws", get(echo::ws))
        .route("/lab/echo/sse", get(echo::sse_stream).post(echo::sse_post))
        .route("/lab/wire", get(crate::lab::report))
        .route("/lab/handshake/{token}", get(handshake::show))
        .route("/lab/frames", get(frames::upgrade))
        .route("/lab/ticker", post(ticker::start))
        .route("/lab/ticker/{id}/poll", get(ticker::poll))
        .route("/lab/ticker/{id}/longpoll", get(ticker::long_poll))
        .route("/lab/ticker/{id}/sse", get(ticker::sse))
        .route("/lab/ticker/{id}/ws", get(ticker::ws))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(lab)
}
