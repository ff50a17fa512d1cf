//! The support panel's browser half: feature detection on `window`, the handshake this
//! browser sent (captured by the server), and the wall's remembered transport.

use super::SupportView;
use crate::client::lessons::{get_text, open_socket, ws_url};
use crate::client::storage::load_transport;
use crate::lab::Handshake;
use js_sys::Reflect;
use leptos::prelude::*;
use wasm_bindgen::JsValue;

pub fn start(view: SupportView) {
    // After hydration: the server rendered "checking…", and the first browser render must agree.
    Effect::new(move |_| detect(view));
}

fn detect(view: SupportView) {
    let Some(window) = web_sys::window() else { return };
    let window = JsValue::from(window);
    let has = |target: &JsValue, name: &str| Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false);
    let prototype_has = |class: &str, name: &str| {
        let prototype = Reflect::get(&window, &JsValue::from_str(class))
            .and_then(|ctor| Reflect::get(&ctor, &JsValue::from_str("prototype")));
        prototype.is_ok_and(|p| !p.is_undefined() && has(&p, name))
    };
    let found = [
        ("websocket", has(&window, "WebSocket")),
        ("binary-type", prototype_has("WebSocket", "binaryType")),
        ("eventsource", has(&window, "EventSource")),
        ("fetch-streaming", has(&window, "ReadableStream") && prototype_has("Response", "body")),
        ("webtransport", has(&window, "WebTransport")),
        ("broadcast-channel", has(&window, "BroadcastChannel")),
    ];
    view.found.set(found.into_iter().collect());
    view.wall_transport.set(Some(wall_transport()));
    leptos::task::spawn_local(async move {
        view.deflate_offered.set(deflate_offered().await);
    });
}

/// Opens a WebSocket whose upgrade the server captures, and reads what this browser offered.
async fn deflate_offered() -> Option<bool> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let socket = open_socket(&ws_url(&format!("/ws?capture={token}"))).await.ok()?;
    let captured = get_text(&format!("/lab/handshake/{token}")).await;
    let _ = socket.close(None, None);
    let handshake: Handshake = serde_json::from_str(&captured.ok()?).ok()?;
    let extensions =
        handshake.request_headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"));
    Some(extensions.into_iter().any(|(_, value)| value.contains("permessage-deflate")))
}

/// The transport the wall remembered for this tab session, and why it is that one.
fn wall_transport() -> String {
    match load_transport().as_deref() {
        Some("sse") => "SSE + POST: WebSockets failed to open three times in a row in this tab, so the wall fell \
                        back (it tries WebSocket again every minute)"
            .into(),
        Some("longpoll") => "long polling: neither WebSockets nor SSE got through in this tab (the wall tries \
                             WebSocket again every minute)"
            .into(),
        _ => "WebSocket: the first choice, and nothing has failed in this tab (the wall falls back to SSE, then \
              long polling, only after three failed attempts in a row)"
            .into(),
    }
}
