//! A microcache for server-rendered room pages. A room page is the same for everyone (the
//! username lives in the browser) and changes only when posts are stored, so a rendered
//! page is served again while the store's version is unchanged and the page is younger
//! than `--page-cache-ms` (1 s by default: its relative times are rendered on the server).
//! A busy room page costs one render per second, or per new post, instead of one per
//! request. Pages that are not `200 OK` are never kept, nor pages with a
//! Content-Security-Policy: Leptos marks its scripts with a per-response nonce, which a
//! policy relying on it must not see reused.

use crate::store::Store;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pages kept at most; when full, stale ones go, then everything.
const MAX_PAGES: usize = 512;
/// Largest page kept (50 posts of 2,000 characters fit easily).
const MAX_PAGE_BYTES: usize = 4 << 20;

#[derive(Clone)]
pub struct PageCache {
    store: Store,
    /// How long a page is served again at most; zero keeps nothing.
    fresh_for: Duration,
    pages: Arc<Mutex<HashMap<String, Page>>>,
}

struct Page {
    version: u64,
    made: Instant,
    headers: HeaderMap,
    body: Bytes,
}

impl PageCache {
    pub fn new(store: Store, fresh_for: Duration) -> Self {
        Self { store, fresh_for, pages: Arc::default() }
    }

    fn fresh(&self, page: &Page, version: u64) -> bool {
        page.version == version && page.made.elapsed() < self.fresh_for
    }

    fn get(&self, key: &str, version: u64) -> Option<Response> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let page = pages.get(key).filter(|p| self.fresh(p, version))?;
        Some((page.headers.clone(), page.body.clone()).into_response())
    }

    fn put(&self, key: String, page: Page) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= MAX_PAGES {
            pages.retain(|_, p| self.fresh(p, page.version));
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
        }
        pages.insert(key, page);
    }
}

/// Middleware: answers `GET /r/…` from the cache when it can, and keeps what it renders.
pub async fn serve(State(cache): State<PageCache>, request: Request, next: Next) -> Response {
    if cache.fresh_for.is_zero() || request.method() != Method::GET || !request.uri().path().starts_with("/r/") {
        return next.run(request).await;
    }
    let key = request.uri().to_string();
    // Read before rendering: a post stored meanwhile makes this page stale, not the next.
    let version = cache.store.version();
    if let Some(response) = cache.get(&key, version) {
        return response;
    }
    let made = Instant::now();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut headers = parts.headers.clone();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    cache.put(key, Page { version, made, headers, body: body.clone() });
    Response::from_parts(parts, Body::from(body))
}
