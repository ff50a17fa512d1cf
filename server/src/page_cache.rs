//! A microcache for server-rendered room pages. A room page is the same for everyone (the
//! username lives in the browser) and changes only when posts are stored, so a rendered
//! page is served again while the store's version is unchanged and the page is younger
//! than `--page-cache-ms` (1 s by default: its relative times are rendered on the server).
//! A busy room page costs one render per second, or per new post, instead of one per
//! request. Pages that are not `200 OK` are never kept, nor pages with a
//! Content-Security-Policy: Leptos marks its scripts with a per-response nonce, which a
//! policy relying on it must not see reused.
//!
//! Pages are keyed on the host asked for (the projector page prints it), their path, and
//! only the query parameters that change what is rendered ([`PAGE_QUERY_KEYS`]; room pages
//! read none today), so `?x=1`, `?x=2`… share one page instead of each costing a render.
//! Hits and misses are counted in `/metrics`.

use crate::metrics::Metrics;
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

/// Query parameters that change a room page's HTML, and so belong in its cache key; any
/// other parameter is ignored. Room pages read none (older posts are fetched by a server
/// function, not by `?before=`): add a key here when a page starts reading one.
const PAGE_QUERY_KEYS: &[&str] = &[];

#[derive(Clone)]
pub struct PageCache {
    store: Store,
    /// How long a page is served again at most; zero keeps nothing.
    fresh_for: Duration,
    pages: Arc<Mutex<HashMap<String, Page>>>,
    metrics: Metrics,
}

struct Page {
    version: u64,
    made: Instant,
    headers: HeaderMap,
    body: Bytes,
}

impl PageCache {
    pub fn new(store: Store, fresh_for: Duration, metrics: Metrics) -> Self {
        Self { store, fresh_for, pages: Arc::default(), metrics }
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
    let key = cache_key(request.headers(), request.uri());
    // Read before rendering: a post stored meanwhile makes this page stale, not the next.
    let version = cache.store.version();
    if let Some(response) = cache.get(&key, version) {
        cache.metrics.page_cache_hit();
        return response;
    }
    cache.metrics.page_cache_miss();
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

/// The host asked for (the projector page prints the room's address), the path, and the
/// query parameters among [`PAGE_QUERY_KEYS`] in a fixed order: requests that render the
/// same page share a key.
fn cache_key(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers.get(header::HOST).map_or(&b""[..], |h| h.as_bytes());
    let proto = headers.get("x-forwarded-proto").map_or(&b""[..], |h| h.as_bytes());
    // A header value never holds a line break: the parts cannot run into each other.
    format!("{}\n{}\n{}", String::from_utf8_lossy(proto), String::from_utf8_lossy(host), path_key(uri))
}

fn path_key(uri: &axum::http::Uri) -> String {
    let mut kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| PAGE_QUERY_KEYS.contains(&pair.split('=').next().unwrap_or("")))
        .collect();
    if kept.is_empty() {
        return uri.path().to_owned();
    }
    kept.sort_unstable();
    format!("{}?{}", uri.path(), kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::{cache_key, path_key};
    use axum::http::HeaderMap;

    #[test]
    fn the_key_is_the_path_without_unread_query_parameters() {
        let key = |uri: &str| path_key(&uri.parse().unwrap());
        assert_eq!(key("/r/lobby"), "/r/lobby");
        assert_eq!(key("/r/lobby?x=1"), "/r/lobby");
        assert_eq!(key("/r/lobby?utm_source=a&x=2"), "/r/lobby");
        assert_ne!(key("/r/lobby"), key("/r/other"));
    }

    #[test]
    fn pages_asked_of_different_hosts_are_kept_apart() {
        let key = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("host", host.parse().unwrap());
            cache_key(&headers, &"/r/lobby/wall".parse().unwrap())
        };
        assert_eq!(key("a.example"), key("a.example"));
        assert_ne!(key("a.example"), key("b.example"), "the projector page prints the host");
    }
}
