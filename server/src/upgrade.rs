//! The WebSocket opening handshake for `/ws` (RFC 6455 §4.2), answered here rather than by
//! axum's `WebSocketUpgrade`: axum's `WebSocket` hides tungstenite's stream, and a connection
//! needs it to write each broadcast frame as the bytes it was framed into once, for every
//! member alike (`connection/write.rs`).

use crate::lab::handshake::accept_steps;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::future::Future;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

/// An upgraded connection, spoken by tungstenite.
pub type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Why a request to `/ws` is not a WebSocket handshake the server can take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("a WebSocket handshake is a GET")]
    NotGet,
    #[error("a WebSocket handshake needs `Connection: upgrade`")]
    NoConnectionUpgrade,
    #[error("a WebSocket handshake needs `Upgrade: websocket`")]
    NoUpgradeWebsocket,
    #[error("only WebSocket version 13 is spoken here (`Sec-WebSocket-Version: 13`)")]
    NotVersion13,
    #[error("a WebSocket handshake needs a `Sec-WebSocket-Key`")]
    NoKey,
    #[error("this connection cannot be upgraded (HTTP/1.1 is needed)")]
    NotUpgradable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Refused::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            Refused::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// A handshake checked and answered.
pub struct Accepted {
    response: Response,
    upgrade: OnUpgrade,
}

impl Accepted {
    /// The 101 to send, and the WebSocket that follows once the client has it (`None` if
    /// the client left before).
    pub fn into_parts(self, config: WebSocketConfig) -> (Response, impl Future<Output = Option<Socket>> + Send) {
        let Self { response, upgrade } = self;
        let socket = async move {
            let upgraded = upgrade.await.ok()?;
            Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await)
        };
        (response, socket)
    }
}

/// Checks `request` as a WebSocket handshake and makes its 101 answer.
/// No `Sec-WebSocket-Extensions` is ever answered, so no extension (permessage-deflate) is
/// agreed and every frame goes out as [`crate::frame::Frame`] framed it: uncompressed.
pub fn accept(request: &mut Request) -> Result<Accepted, Refused> {
    // The route is a GET route, which also takes HEAD.
    if request.method() != Method::GET {
        return Err(Refused::NotGet);
    }
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(Refused::NoConnectionUpgrade);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(Refused::NoUpgradeWebsocket);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
        return Err(Refused::NotVersion13);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|k| k.to_str().ok()).ok_or(Refused::NoKey)?;
    let accept = accept_steps(key).accept;
    let upgrade = request.extensions_mut().remove::<OnUpgrade>().ok_or(Refused::NotUpgradable)?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let answer = response.headers_mut();
    answer.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    answer.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    // A base64 digest: always a valid header value.
    if let Ok(accept) = accept.parse() {
        answer.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok(Accepted { response, upgrade })
}

/// Whether a comma-separated header lists `token` (compared without case).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::{accept, Refused};
    use axum::extract::Request;

    fn handshake(edit: impl FnOnce(&mut axum::http::HeaderMap)) -> Request {
        let mut request = Request::builder()
            .uri("/ws")
            .header("connection", "keep-alive, Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(axum::body::Body::empty())
            .unwrap();
        edit(request.headers_mut());
        request
    }

    #[test]
    fn each_missing_part_of_a_handshake_has_its_own_refusal() {
        let refused = |edit: fn(&mut axum::http::HeaderMap)| accept(&mut handshake(edit)).err();
        let mut head = handshake(|_| {});
        *head.method_mut() = axum::http::Method::HEAD;
        assert_eq!(accept(&mut head).err(), Some(Refused::NotGet));
        assert_eq!(refused(|h| drop(h.remove("connection"))), Some(Refused::NoConnectionUpgrade));
        assert_eq!(
            refused(|h| drop(h.insert("connection", "upgraded".parse().unwrap()))),
            Some(Refused::NoConnectionUpgrade)
        );
        assert_eq!(refused(|h| drop(h.insert("upgrade", "h2c".parse().unwrap()))), Some(Refused::NoUpgradeWebsocket));
        assert_eq!(
            refused(|h| drop(h.insert("sec-websocket-version", "8".parse().unwrap()))),
            Some(Refused::NotVersion13)
        );
        assert_eq!(refused(|h| drop(h.remove("sec-websocket-key"))), Some(Refused::NoKey));
        // Built by hand, not by hyper: nothing to upgrade.
        assert_eq!(refused(|_| {}), Some(Refused::NotUpgradable));
    }

    #[test]
    fn each_refusal_has_its_status_and_says_what_is_missing() {
        use axum::response::IntoResponse;
        let status = |refused: Refused| refused.into_response().status().as_u16();
        assert_eq!(status(Refused::NotGet), 405);
        assert_eq!(status(Refused::NotUpgradable), 426);
        for refused in
            [Refused::NoConnectionUpgrade, Refused::NoUpgradeWebsocket, Refused::NotVersion13, Refused::NoKey]
        {
            assert_eq!(status(refused), 400);
        }
        assert!(Refused::NotVersion13.to_string().contains("Sec-WebSocket-Version: 13"));
        assert!(Refused::NoKey.to_string().contains("Sec-WebSocket-Key"));
    }

    #[test]
    fn a_handshake_is_answered_with_101_and_the_rfcs_accept() {
        let mut request = handshake(|_| {});
        let upgrade = hyper::upgrade::on(Request::new(axum::body::Body::empty()));
        request.extensions_mut().insert(upgrade);
        let Ok(accepted) = accept(&mut request) else { panic!("a good handshake refused") };
        let (answer, _socket) = accepted.into_parts(Default::default());
        assert_eq!(answer.status(), 101);
        let header = |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // RFC 6455 §1.3's worked example.
        assert_eq!(header("sec-websocket-accept").as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert_eq!(header("upgrade").as_deref(), Some("websocket"));
        assert_eq!(header("connection").as_deref(), Some("upgrade"));
    }
}
