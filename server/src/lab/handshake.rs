//! The inspector's view of a WebSocket upgrade: the request and the 101 response as the
//! server handled them, and `Sec-WebSocket-Accept` worked out step by step.
//!
//! A page opens `/ws?capture=TOKEN`; the [`capture`] layer on that route records the
//! handshake under that token, and `GET /lab/handshake/TOKEN` returns it. Headers are recorded verbatim except
//! credentials: the values of `Cookie`, `Authorization`, `Proxy-Authorization` and
//! `Set-Cookie` are replaced by `[redacted]` (the header names stay, so the page still shows
//! that the browser sent its cookies).

use super::LabState;
use app::lab::{AcceptSteps, Handshake, WEBSOCKET_GUID};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Handshakes remembered at once; the oldest is forgotten first.
const CAPTURES_KEPT: usize = 256;

/// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), with every intermediate value.
pub fn accept_steps(key: &str) -> AcceptSteps {
    let concatenated = format!("{key}{WEBSOCKET_GUID}");
    let digest = Sha1::digest(concatenated.as_bytes());
    AcceptSteps {
        key: key.to_owned(),
        guid: WEBSOCKET_GUID.to_owned(),
        sha1_hex: digest.iter().map(|b| format!("{b:02x}")).collect(),
        accept: base64::engine::general_purpose::STANDARD.encode(digest),
        concatenated,
    }
}

#[derive(Clone, Default)]
pub struct Captures {
    inner: Arc<Mutex<Kept>>,
}

/// The handshakes by token, and the tokens oldest first (the next to forget).
type Kept = (HashMap<String, Handshake>, VecDeque<String>);

/// What a credential header's value is replaced with in a capture.
pub const REDACTED: &str = "[redacted]";

/// Headers that carry credentials: a capture keeps their name but never their value, since
/// anyone holding the token can read it back.
const CREDENTIAL_HEADERS: [HeaderName; 4] =
    [header::COOKIE, header::AUTHORIZATION, header::PROXY_AUTHORIZATION, header::SET_COOKIE];

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if CREDENTIAL_HEADERS.contains(name) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct CaptureQuery {
    capture: Option<String>,
}

/// Middleware for the wall's `/ws`: an upgrade asked for with `?capture=TOKEN` is recorded,
/// the request as it came and the response as it left, for the inspector. Installed on the
/// route from outside (`startup.rs`), so the wall's socket knows nothing of the lessons.
pub async fn capture(State(captures): State<Captures>, request: Request, next: Next) -> Response {
    let token = Query::<CaptureQuery>::try_from_uri(request.uri()).ok().and_then(|q| q.0.capture);
    let Some(token) = token.filter(|t| super::run_id(t).is_some()) else { return next.run(request).await };
    let (method, uri, headers) = (request.method().clone(), request.uri().clone(), request.headers().clone());
    let response = next.run(request).await;
    captures.record(&token, &method, &uri, &headers, &response);
    response
}

impl Captures {
    /// Records the upgrade of `request` into `response` under `token`.
    pub fn record(&self, token: &str, method: &Method, uri: &Uri, request: &HeaderMap, response: &Response) {
        let key = request.get("sec-websocket-key").and_then(|k| k.to_str().ok()).unwrap_or_default();
        let status = response.status();
        let handshake = Handshake {
            request_line: format!("{method} {} HTTP/1.1", uri.path_and_query().map_or("/", |p| p.as_str())),
            request_headers: header_pairs(request),
            status_line: format!("HTTP/1.1 {} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
            response_headers: header_pairs(response.headers()),
            accept: accept_steps(key),
        };
        let Ok(mut inner) = self.inner.lock() else { return };
        let (map, order) = &mut *inner;
        if map.insert(token.to_owned(), handshake).is_none() {
            order.push_back(token.to_owned());
            if order.len() > CAPTURES_KEPT {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    fn get(&self, token: &str) -> Option<Handshake> {
        self.inner.lock().ok()?.0.get(token).cloned()
    }
}

pub async fn show(State(lab): State<LabState>, Path(token): Path<String>) -> Response {
    match lab.captures.get(&token) {
        Some(handshake) => Json(handshake).into_response(),
        None => (StatusCode::NOT_FOUND, "no handshake captured under that token").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{accept_steps, Captures, REDACTED};
    use axum::body::Body;
    use axum::http::{HeaderMap, Method, Response, Uri};

    #[test]
    fn credentials_are_redacted_but_named() {
        let mut request = HeaderMap::new();
        request.insert("host", "wall.example".parse().unwrap());
        request.insert("cookie", "session=s3cr3t".parse().unwrap());
        request.insert("authorization", "Bearer t0k3n".parse().unwrap());
        request.insert("proxy-authorization", "Basic dXNlcjpwdw==".parse().unwrap());
        request.insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
        let response = Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("set-cookie", "session=n3w; HttpOnly")
            .body(Body::empty())
            .unwrap();
        let captures = Captures::default();
        captures.record("t", &Method::GET, &Uri::from_static("/ws?capture=t"), &request, &response);
        let handshake = captures.get("t").unwrap();
        let value = |headers: &[(String, String)], name: &str| {
            headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap()
        };
        for name in ["cookie", "authorization", "proxy-authorization"] {
            assert_eq!(value(&handshake.request_headers, name), REDACTED, "{name}");
        }
        assert_eq!(value(&handshake.response_headers, "set-cookie"), REDACTED);
        assert_eq!(value(&handshake.request_headers, "host"), "wall.example");
        assert_eq!(value(&handshake.request_headers, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(value(&handshake.response_headers, "upgrade"), "websocket");
        let all = format!("{:?}{:?}", handshake.request_headers, handshake.response_headers);
        for secret in ["s3cr3t", "t0k3n", "dXNlcjpwdw==", "n3w"] {
            assert!(!all.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    // RFC 6455 §1.3 gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" (the issue text has X for Y).
    fn rfc_6455_sample_key() {
        let steps = accept_steps("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(steps.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(steps.concatenated, "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
    }
}
