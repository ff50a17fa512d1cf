//! The Origin allowlist checked before a WebSocket upgrade.
//!
//! Browsers always send `Origin` on a WebSocket handshake, and a page on another site can
//! open a socket to us with the user's cookies: so a browser origin must be our own or
//! explicitly allowed. Native clients send no `Origin` and pass.
//!
//! "Our own" means same scheme *and* same host:port. The server itself speaks plain HTTP, so
//! a request's scheme is `http` unless a TLS-terminating reverse proxy says otherwise with
//! `X-Forwarded-Proto: https` (its first comma-separated value, case-insensitive). Comparing
//! the authority alone would let `https://host` pass on a plain `http://host` request (and
//! `http://host` behind an https proxy): a different origin, e.g. a page served over a
//! downgraded or unrelated listener. Behind a TLS proxy that does not set
//! `X-Forwarded-Proto`, list the public origin in `--allowed-origins` instead.

use axum::http::{header, HeaderMap};

/// Which origins may open a WebSocket, besides the server's own.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
    any: bool,
}

impl OriginPolicy {
    /// `extra` lists full origins such as `https://example.com`; `*` allows every origin.
    pub fn new(extra: &[String]) -> Self {
        let any = extra.iter().any(|o| o.trim() == "*");
        let allowed = extra
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty() && o != "*")
            .collect();
        Self { allowed, any }
    }

    /// True when the request may be upgraded.
    pub fn permits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.any || self.allowed.contains(&origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        let own_prefix = format!("{}://", request_scheme(headers));
        let origin_authority = origin.strip_prefix(&own_prefix);
        matches!((origin_authority, host), (Some(a), Some(h)) if a == h)
    }
}

/// The scheme the browser used to reach us: `https` when a TLS reverse proxy says so in
/// `X-Forwarded-Proto` (first value, case-insensitive), otherwise `http`, the only thing this
/// server speaks itself.
fn request_scheme(headers: &HeaderMap) -> &'static str {
    let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    let first = forwarded.and_then(|v| v.split(',').next()).map(str::trim);
    match first {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    /// As `headers`, behind a reverse proxy that sets `X-Forwarded-Proto`.
    fn proxied(origin: Option<&str>, host: &str, proto: &str) -> HeaderMap {
        let mut h = headers(origin, host);
        h.insert("x-forwarded-proto", proto.parse().unwrap());
        h
    }

    #[test]
    fn scheme_must_match_the_request() {
        let policy = OriginPolicy::new(&[]);
        // Plain HTTP to us: an https page of the same host is not our origin.
        assert!(!policy.permits(&headers(Some("https://wall.example"), "wall.example")));
        assert!(policy.permits(&headers(Some("http://wall.example"), "wall.example")));
        // Behind a TLS proxy: only the https origin is ours.
        assert!(policy.permits(&proxied(Some("https://wall.example"), "wall.example", "https")));
        assert!(policy.permits(&proxied(Some("https://wall.example"), "wall.example", "HTTPS")));
        assert!(policy.permits(&proxied(Some("https://wall.example"), "wall.example", "https, http")));
        assert!(!policy.permits(&proxied(Some("http://wall.example"), "wall.example", "https")));
        assert!(!policy.permits(&proxied(Some("https://wall.example"), "wall.example", "http")));
        assert!(!policy.permits(&proxied(Some("https://wall.example"), "wall.example", "http, https")));
        // Any other value is not https.
        assert!(!policy.permits(&proxied(Some("https://wall.example"), "wall.example", "wss")));
    }

    #[test]
    fn same_origin_and_native_clients_pass() {
        let policy = OriginPolicy::new(&[]);
        assert!(policy.permits(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000")));
        // An https page is our own origin only when a TLS proxy in front of us says the
        // request came over https: the server itself speaks plain HTTP.
        assert!(policy.permits(&proxied(Some("https://wall.example"), "wall.example", "https")));
        assert!(policy.permits(&headers(None, "127.0.0.1:3000")));
    }

    #[test]
    fn foreign_origins_are_refused_unless_listed() {
        let policy = OriginPolicy::new(&[]);
        assert!(!policy.permits(&headers(Some("https://evil.example"), "127.0.0.1:3000")));
        assert!(!policy.permits(&headers(Some("null"), "127.0.0.1:3000")));
        assert!(!policy.permits(&headers(Some("http://127.0.0.1:3001"), "127.0.0.1:3000")));
        let policy = OriginPolicy::new(&["https://Friend.example/".into()]);
        assert!(policy.permits(&headers(Some("https://friend.example"), "127.0.0.1:3000")));
        assert!(!policy.permits(&headers(Some("http://friend.example"), "127.0.0.1:3000")));
        assert!(OriginPolicy::new(&["*".into()]).permits(&headers(Some("https://any.example"), "x")));
    }
}
