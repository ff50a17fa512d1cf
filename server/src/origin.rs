//! The Origin allowlist checked before a WebSocket upgrade.
//!
//! Browsers always send `Origin` on a WebSocket handshake, and a page on another site can
//! open a socket to us with the user's cookies: so a browser origin must be our own (same
//! host as the request) or explicitly allowed. Native clients send no `Origin` and pass.

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
        if self.any || self.allowed.iter().any(|o| *o == origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        let origin_authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        matches!((origin_authority, host), (Some(a), Some(h)) if a == h)
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

    #[test]
    fn same_origin_and_native_clients_pass() {
        let policy = OriginPolicy::new(&[]);
        assert!(policy.permits(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000")));
        assert!(policy.permits(&headers(Some("https://wall.example"), "wall.example")));
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
