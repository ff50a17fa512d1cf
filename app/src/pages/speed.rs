//! `/speed`: N round trips over HTTP, WebSocket and SSE + POST, measured in the browser, with
//! the bytes on the wire counted by the server.

use crate::components::hydrated::use_hydrated;
use crate::components::latency_chart::{LatencyChart, Series};
use crate::lab::SpeedResult;
use leptos::prelude::*;
use leptos_meta::Title;

// The page's browser half (which drives `run.rs`), and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(feature = "hydrate")]
mod run;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

const MAX_N: usize = 100_000;
const MAX_SIZE: usize = 60_000;

fn parse_in(raw: &str, max: usize) -> Option<usize> {
    raw.trim().parse().ok().filter(|v| (1..=max).contains(v))
}

fn label(transport: &str) -> &'static str {
    match transport {
        "http" => "HTTP fetch",
        "ws" => "WebSocket",
        _ => "SSE + POST",
    }
}

/// The page's state, shared with its browser half.
#[derive(Clone, Copy)]
pub struct SpeedView {
    pub running: RwSignal<bool>,
    /// What is being measured, and the fraction done.
    pub progress: RwSignal<Option<(String, f64)>>,
    pub results: RwSignal<Option<Vec<SpeedResult>>>,
    pub error: RwSignal<Option<String>>,
}

#[component]
pub fn SpeedPage() -> impl IntoView {
    let n = RwSignal::new("1000".to_owned());
    let size = RwSignal::new("32".to_owned());
    let pipelined = RwSignal::new(false);
    let view_state = SpeedView {
        running: RwSignal::new(false),
        progress: RwSignal::new(None),
        results: RwSignal::new(None),
        error: RwSignal::new(None),
    };
    let SpeedView { running, progress, results, error } = view_state;
    let speed = browser::start(view_state);
    let valid = move || parse_in(&n.get(), MAX_N).is_some() && parse_in(&size.get(), MAX_SIZE).is_some();
    let start = move |_| {
        let (Some(count), Some(bytes)) =
            (parse_in(&n.get_untracked(), MAX_N), parse_in(&size.get_untracked(), MAX_SIZE))
        else {
            return;
        };
        speed.run(count, bytes, pipelined.get_untracked());
    };
    let hydrated = use_hydrated();
    view! {
        <Title text="Speed test · wallsocket"/>
        <section class="panel lesson">
            <h1>"Speed test: HTTP vs WebSocket"</h1>
            <p class="muted">
                "Send N small messages to the server and wait for each echo. Over HTTP every round trip carries a full "
                "request and response head; over a WebSocket, after one upgrade, each message costs a few bytes of "
                "frame header. SSE + POST sends by HTTP and receives on an event stream."
            </p>
            <form class="speed-form" on:submit=move |ev| { ev.prevent_default(); start(()); }>
                <label>
                    "Round trips (1–100,000)"
                    <input
                        data-testid="speed-n"
                        type="number"
                        min="1"
                        max="100000"
                        prop:value=move || n.get()
                        on:input=move |ev| n.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Payload bytes (1–60,000)"
                    <input
                        data-testid="speed-size"
                        type="number"
                        min="1"
                        max="60000"
                        prop:value=move || size.get()
                        on:input=move |ev| size.set(event_target_value(&ev))
                    />
                </label>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || pipelined.get()
                        on:change=move |ev| pipelined.set(event_target_checked(&ev))
                    />
                    " pipelined (keep many in flight)"
                </label>
                <button
                    type="submit"
                    class="button"
                    data-testid="speed-run"
                    disabled=move || running.get() || !valid() || !hydrated.get()
                >
                    "Run"
                </button>
            </form>
            <Show when=move || !valid()>
                <p class="field-error">"Round trips must be 1–100,000 and the payload 1–60,000 bytes."</p>
            </Show>
            <Show when=move || progress.get().is_some()>
                {move || progress.get().map(|(what, done)| view! {
                    <div class="progress" role="progressbar" aria-valuenow=format!("{:.0}", done * 100.0)>
                        <div class="progress-bar" style=format!("width: {:.1}%", done * 100.0)></div>
                        <span>{what}</span>
                    </div>
                })}
            </Show>
            <Show when=move || error.get().is_some()>
                <p class="notice" role="alert">{move || error.get()}</p>
            </Show>
        </section>
        {move || results.get().map(|list| view! { <SpeedResults results=list/> })}
    }
}

#[component]
fn SpeedResults(results: Vec<SpeedResult>) -> impl IntoView {
    let rate = |t: &str| results.iter().find(|r| r.transport == t).map(SpeedResult::per_second);
    let headline = match (rate("ws"), rate("http")) {
        (Some(ws), Some(http)) if http > 0.0 => {
            format!("WebSocket: {:.1}× the round trips per second of HTTP", ws / http)
        }
        _ => String::new(),
    };
    let top = results.iter().map(|r| r.latency.p99).fold(0.0, f64::max) * 1.2;
    let series: Vec<Series> = results
        .iter()
        .map(|r| Series {
            name: label(&r.transport).into(),
            class: transport_class(&r.transport),
            samples: r.samples.clone(),
        })
        .collect();
    let export = export_href(&results);
    view! {
        <section class="panel lesson" data-testid="speed-results">
            <h2 class="headline" data-testid="speed-headline">{headline}</h2>
            <div class="table-wrap">
            <table class="results">
                <thead><tr>
                    <th>"transport"</th><th>"total"</th><th>"msg/s"</th>
                    <th>"p50"</th><th>"p90"</th><th>"p99"</th><th>"max"</th>
                    <th>"bytes / round trip"</th><th>"of which headers"</th>
                </tr></thead>
                <tbody>
                    {results.iter().map(|r| view! {
                        <tr data-transport=r.transport.clone()>
                            <td>{label(&r.transport)}</td>
                            <td>{format!("{:.0} ms", r.total_ms)}</td>
                            <td class="num">{format!("{:.0}", r.per_second())}</td>
                            <td class="num">{format!("{:.2}", r.latency.p50)}</td>
                            <td class="num">{format!("{:.2}", r.latency.p90)}</td>
                            <td class="num">{format!("{:.2}", r.latency.p99)}</td>
                            <td class="num">{format!("{:.2}", r.latency.max)}</td>
                            <td class="num">
                                {r.bytes_per_round_trip().map(|b| format!("{b:.0}")).unwrap_or_else(|| "—".into())}
                            </td>
                            <td class="num">
                                {r.header_bytes_per_round_trip()
                                    .map(|b| format!("{b:.0}"))
                                    .unwrap_or_else(|| "—".into())}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            <p class="muted">
                "Latencies in ms. Bytes are counted by the server: request and response heads for HTTP, frame headers "
                "for WebSocket, event framing for SSE."
            </p>
            <LatencyChart series top_ms=top/>
            <a class="button secondary" download="wallsocket-speed.json" href=export data-testid="speed-export">
                "Export JSON"
            </a>
        </section>
    }
}

pub fn transport_class(transport: &str) -> &'static str {
    match transport {
        "http" => "t-http",
        "ws" => "t-ws",
        "sse" => "t-sse",
        "poll" => "t-poll",
        _ => "t-longpoll",
    }
}

/// A `data:` URL holding the results as JSON.
fn export_href(results: &[SpeedResult]) -> String {
    let json = serde_json::to_string_pretty(results).unwrap_or_default();
    let encoded: String = json
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("data:application/json;charset=utf-8,{encoded}")
}
