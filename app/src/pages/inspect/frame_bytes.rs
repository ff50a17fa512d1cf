//! "A frame, byte by byte": type a message, and see the frame this browser sent as the server
//! read it off the wire (`/lab/frames` reads raw bytes), and the server's echo as it wrote it.

use crate::components::hydrated::use_hydrated;
use crate::lab::{FrameBytes, FrameReport};
use leptos::prelude::*;

// The lesson's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

/// The longest message the lesson sends (the server reads up to 1 KiB).
const MAX_CHARS: usize = 200;

#[derive(Clone, Copy)]
pub struct FrameView {
    pub report: RwSignal<Option<FrameReport>>,
    /// The lesson socket's state, when it is not simply open.
    pub status: RwSignal<Option<String>>,
}

#[component]
// An `AnyView`: the page around it would otherwise nest its view type past the server build's
// recursion limit (release builds do not erase component types).
pub fn FrameLesson() -> AnyView {
    let draft = RwSignal::new("hello".to_owned());
    let view_state = FrameView { report: RwSignal::new(None), status: RwSignal::new(None) };
    let lesson = browser::start(view_state);
    let send = move || {
        let text = draft.get_untracked();
        if !text.is_empty() && text.chars().count() <= MAX_CHARS {
            lesson.send(text);
        }
    };
    let hydrated = use_hydrated();
    view! {
        <section class="panel lesson" data-testid="frame-lesson">
            <h2>"A frame, byte by byte"</h2>
            <p class="muted">
                "This page opens a second WebSocket, to a server that reads each frame by hand and says what it "
                "read. The browser masks every frame it sends with a fresh random key (so that no proxy on the "
                "way can mistake the bytes for HTTP); the server never masks."
            </p>
            <form class="frame-form" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <input
                    data-testid="frame-input"
                    maxlength=MAX_CHARS.to_string()
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                />
                <button type="submit" class="button" data-testid="frame-send" disabled=move || !hydrated.get()>
                    "Send one frame"
                </button>
            </form>
            <Show when=move || view_state.status.get().is_some()>
                <p class="notice">{move || view_state.status.get()}</p>
            </Show>
            {move || {
                view_state.report.get().map(|r| {
                    view! {
                        <div class="frame-pair">
                            <FrameTable
                                title="The browser's frame, as the server read it"
                                frame=r.sent
                                id="frame-sent"
                            />
                            <FrameTable title="The server's echo, as it wrote it" frame=r.echoed id="frame-echo"/>
                        </div>
                    }
                })
            }}
        </section>
    }
    .into_any()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn bit(set: bool) -> &'static str {
    if set {
        "1"
    } else {
        "0"
    }
}

/// One frame's fields, each read from the header bytes shown on the first row.
#[component]
fn FrameTable(title: &'static str, frame: FrameBytes, id: &'static str) -> impl IntoView {
    let first_two: String = frame.header.iter().take(2).map(|b| format!("{b:08b}")).collect::<Vec<_>>().join(" ");
    let opcode = match frame.opcode {
        1 => "1 (text)".to_owned(),
        2 => "2 (binary)".to_owned(),
        n => n.to_string(),
    };
    let length = match frame.length_bits {
        7 => format!("{} (in the 7 bits of byte 2)", frame.payload_len),
        16 => format!("{} (126 in byte 2, then 16 bits)", frame.payload_len),
        _ => format!("{} (127 in byte 2, then 64 bits)", frame.payload_len),
    };
    let [rsv1, rsv2, rsv3] = frame.rsv;
    let rsv = format!("{} {} {}", bit(rsv1), bit(rsv2), bit(rsv3));
    let key = frame.mask_key.map_or_else(|| "none".to_owned(), |k| hex(&k));
    view! {
        <table class="frame-table" data-testid=id>
            <caption>{title}</caption>
            <tbody>
                <tr><th>"header bytes"</th><td><code>{hex(&frame.header)}</code></td></tr>
                <tr><th>"first two, in bits"</th><td><code>{first_two}</code></td></tr>
                <tr><th>"FIN"</th><td data-testid=format!("{id}-fin")>{bit(frame.fin)}</td></tr>
                <tr><th>"RSV1 RSV2 RSV3"</th><td>{rsv}</td></tr>
                <tr><th>"opcode"</th><td data-testid=format!("{id}-opcode")>{opcode}</td></tr>
                <tr><th>"MASK"</th><td data-testid=format!("{id}-mask")>{bit(frame.masked)}</td></tr>
                <tr><th>"payload length"</th><td>{length}</td></tr>
                <tr><th>"masking key"</th><td><code>{key}</code></td></tr>
                <tr><th>"payload on the wire"</th><td><code>{hex(&frame.payload)}</code></td></tr>
                <tr><th>"unmasked text"</th><td data-testid=format!("{id}-text")>{frame.text}</td></tr>
            </tbody>
        </table>
    }
}
