//! `/inspect`: this page's own WebSocket, opened in front of you: the upgrade request and
//! the `101 Switching Protocols` answer as the server saw them, how `Sec-WebSocket-Accept`
//! is computed, and a live log of every frame, with filter and pause.

use crate::components::hydrated::use_hydrated;
use crate::lab::Handshake;
use frame_bytes::FrameLesson;
use leptos::prelude::*;
use leptos_meta::Title;

mod frame_bytes;

// The page's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

/// One frame in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub n: usize,
    pub outgoing: bool,
    /// Milliseconds since the socket opened.
    pub at_ms: f64,
    pub payload_len: usize,
    pub header_len: usize,
    pub payload: String,
}

/// Frames kept in the log; older ones scroll away.
const FRAMES_KEPT: usize = 500;

/// The page's state, shared with the browser-only part.
#[derive(Clone, Copy)]
pub struct Inspector {
    pub handshake: RwSignal<Option<Handshake>>,
    pub frames: RwSignal<Vec<Frame>>,
    pub paused: RwSignal<bool>,
    pub filter: RwSignal<String>,
    pub status: RwSignal<String>,
    pub room: RwSignal<String>,
    pub draft: RwSignal<String>,
}

impl Inspector {
    pub fn log(&self, frame: Frame) {
        if self.paused.get_untracked() {
            return;
        }
        self.frames.update(|f| {
            f.push(frame);
            let excess = f.len().saturating_sub(FRAMES_KEPT);
            f.drain(..excess);
        });
    }
}

/// Pretty-prints JSON payloads; anything else is shown as it came.
fn pretty(payload: &str) -> String {
    serde_json::from_str::<serde_json::Value>(payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| payload.to_owned())
}

#[component]
pub fn InspectPage() -> impl IntoView {
    let ins = Inspector {
        handshake: RwSignal::new(None),
        frames: RwSignal::new(Vec::new()),
        paused: RwSignal::new(false),
        filter: RwSignal::new(String::new()),
        status: RwSignal::new("connecting…".into()),
        room: RwSignal::new("lobby".into()),
        draft: RwSignal::new(String::new()),
    };
    let actions = browser::start(ins);
    let (join, send) = (move || actions.join(), move || actions.post());
    let shown = move || {
        let needle = ins.filter.get().to_lowercase();
        ins.frames
            .get()
            .into_iter()
            .rev()
            .filter(|f| needle.is_empty() || f.payload.to_lowercase().contains(&needle))
            .collect::<Vec<_>>()
    };
    let hydrated = use_hydrated();
    view! {
        <Title text="Inspector · wallsocket"/>
        <section class="panel lesson">
            <h1>"Protocol inspector"</h1>
            <p class="muted">
                "This page opens its own WebSocket to the wall. A WebSocket starts life as an HTTP request asking to "
                <em>"upgrade"</em>" the connection; the server answers "<code>"101 Switching Protocols"</code>
                " and from then on both sides exchange frames. Below: the real handshake, captured by the server, "
                "and every frame this page sends and receives."
            </p>
            <p>"Socket: " <strong data-testid="inspect-status">{move || ins.status.get()}</strong></p>
        </section>
        <section class="panel lesson" data-testid="handshake">
            <h2>"The upgrade"</h2>
            {move || match ins.handshake.get() {
                None => view! { <p class="muted">"Waiting for the handshake…"</p> }.into_any(),
                Some(h) => view! { <HandshakeView h/> }.into_any(),
            }}
        </section>
        <section class="panel lesson">
            <h2>"Frames"</h2>
            <form class="inspect-post" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <label>
                    "Room "
                    <input
                        data-testid="inspect-room"
                        prop:value=move || ins.room.get()
                        on:input=move |ev| ins.room.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="button"
                    class="button secondary"
                    data-testid="inspect-join"
                    disabled=move || !hydrated.get()
                    on:click=move |_| join()
                >
                    "Join"
                </button>
                <input
                    data-testid="inspect-text"
                    placeholder="a post to send"
                    prop:value=move || ins.draft.get()
                    on:input=move |ev| ins.draft.set(event_target_value(&ev))
                />
                <button type="submit" class="button" data-testid="inspect-send" disabled=move || !hydrated.get()>
                    "Post"
                </button>
            </form>
            <div class="frame-tools">
                <input
                    placeholder="filter payloads"
                    data-testid="inspect-filter"
                    prop:value=move || ins.filter.get()
                    on:input=move |ev| ins.filter.set(event_target_value(&ev))
                />
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || ins.paused.get()
                        on:change=move |ev| ins.paused.set(event_target_checked(&ev))
                    />
                    " pause"
                </label>
                <button class="link-button" on:click=move |_| ins.frames.set(Vec::new())>"clear"</button>
            </div>
            <div class="table-wrap">
            <table class="frames" data-testid="frames">
                <thead><tr>
                    <th>"#"</th><th>""</th><th>"time"</th><th>"opcode"</th>
                    <th>"payload"</th><th>"header"</th><th>"data"</th>
                </tr></thead>
                <tbody>
                    <For each=shown key=|f| f.n let:f>
                        <tr class=if f.outgoing { "out" } else { "in" }>
                            <td class="num">{f.n}</td>
                            <td>{if f.outgoing { "↑ sent" } else { "↓ received" }}</td>
                            <td class="num">{format!("{:.1} ms", f.at_ms)}</td>
                            <td>"1 (text)"</td>
                            <td class="num">{format!("{} B", f.payload_len)}</td>
                            <td class="num">{format!("{} B", f.header_len)}</td>
                            <td><pre class="payload">{pretty(&f.payload)}</pre></td>
                        </tr>
                    </For>
                </tbody>
            </table>
            </div>
            <p class="muted">
                "Header sizes follow RFC 6455: 2 bytes, plus 2 or 8 for longer payloads, plus a 4-byte mask on every "
                "frame a client sends."
            </p>
        </section>
        <FrameLesson/>
    }
}

#[component]
fn HandshakeView(h: Handshake) -> impl IntoView {
    let lines = |pairs: Vec<(String, String)>| {
        pairs.into_iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("\n")
    };
    let request = format!("{}\n{}", h.request_line, lines(h.request_headers));
    let response = format!("{}\n{}", h.status_line, lines(h.response_headers));
    let a = h.accept;
    view! {
        <div class="handshake">
            <div><h3>"Request (browser → server)"</h3><pre data-testid="handshake-request">{request}</pre></div>
            <div><h3>"Response (server → browser)"</h3><pre data-testid="handshake-response">{response}</pre></div>
        </div>
        <h3>"Sec-WebSocket-Accept, step by step"</h3>
        <ol class="steps" data-testid="accept-steps">
            <li>"The browser sends a random key: " <code>{a.key.clone()}</code></li>
            <li>
                "The server appends the fixed GUID " <code>{a.guid}</code> ": "
                <code class="wrap">{a.concatenated}</code>
            </li>
            <li>"SHA-1 of that string: " <code class="wrap">{a.sha1_hex}</code></li>
            <li>"Base64 of those 20 bytes is the answer: " <code data-testid="accept-value">{a.accept}</code></li>
            <li>"The browser does the same sum; a match proves the server understood the WebSocket request."</li>
        </ol>
    }
}
