//! "Check caniuse", answered by this browser: which real-time features it has, each with what
//! it is for, whether it offered to compress WebSocket frames, and which transport the wall
//! chose here and why. The server renders "checking…"; the browser half fills it in.

use leptos::prelude::*;
use std::collections::BTreeMap;

// The panel's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

/// Each feature: key, name, what it is for.
pub const FEATURES: [(&str, &str, &str); 6] = [
    ("websocket", "WebSocket", "a two-way channel over one upgraded HTTP connection: the wall's first choice"),
    ("binary-type", "WebSocket binaryType", "binary frames as ArrayBuffer or Blob instead of text"),
    ("eventsource", "EventSource", "Server-Sent Events, a one-way stream over HTTP: the wall's first fallback"),
    ("fetch-streaming", "fetch response streaming", "reading a response body as it arrives (a ReadableStream)"),
    ("webtransport", "WebTransport", "streams and datagrams over HTTP/3 (wallsocket speaks HTTP/1.1, so not used)"),
    ("broadcast-channel", "BroadcastChannel", "messages between this site's tabs, e.g. to share one socket among them"),
];

/// What the browser found; empty (or `None`) until it has looked.
#[derive(Clone, Copy)]
pub struct SupportView {
    pub found: RwSignal<BTreeMap<&'static str, bool>>,
    /// Whether this browser's WebSocket upgrade offered `permessage-deflate`.
    pub deflate_offered: RwSignal<Option<bool>>,
    /// The transport the wall uses in this tab session, and why.
    pub wall_transport: RwSignal<Option<String>>,
}

#[component]
// An `AnyView`: the page around it would otherwise nest its view type past the server build's
// recursion limit (release builds do not erase component types).
pub fn SupportPanel() -> AnyView {
    let support = SupportView {
        found: RwSignal::new(BTreeMap::new()),
        deflate_offered: RwSignal::new(None),
        wall_transport: RwSignal::new(None),
    };
    browser::start(support);
    let yes_no = |found: Option<bool>| match found {
        None => "checking…",
        Some(true) => "supported",
        Some(false) => "not supported",
    };
    view! {
        <section class="panel lesson" data-testid="support">
            <h2>"What this browser supports"</h2>
            <p class="muted">"Detected here and now, not looked up in a table."</p>
            <dl class="lab-stats">
                {FEATURES
                    .iter()
                    .map(|(key, name, what_for)| {
                        let key = *key;
                        view! {
                            <dt>{*name} <span class="muted">" — " {*what_for}</span></dt>
                            <dd data-testid=format!("support-{key}")>
                                {move || yes_no(support.found.with(|f| f.get(key).copied()))}
                            </dd>
                        }
                    })
                    .collect_view()}
                <dt>
                    "permessage-deflate offered"
                    <span class="muted">
                        " — whether the browser asked to compress frames (wallsocket declines: see docs/OPERATIONS.md)"
                    </span>
                </dt>
                <dd data-testid="support-deflate">
                    {move || match support.deflate_offered.get() {
                        None => "checking…",
                        Some(true) => "yes",
                        Some(false) => "no",
                    }}
                </dd>
                <dt>"The wall's transport here"</dt>
                <dd data-testid="support-wall-transport">
                    {move || support.wall_transport.get().unwrap_or_else(|| "checking…".into())}
                </dd>
            </dl>
        </section>
    }
    .into_any()
}
