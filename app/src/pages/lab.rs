//! `/lab`: one server ticker delivered at once by short polling, long polling, Server-Sent
//! Events and a WebSocket, with each technique's requests, bytes and delays side by side.

use crate::components::hydrated::use_hydrated;
use crate::lab::WireReport;
use crate::pages::speed::transport_class;
use crate::stats::summarize;
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::BTreeMap;
use support::SupportPanel;

mod support;

// The page's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

/// The four techniques, in the order they are shown.
pub const TRANSPORTS: [(&str, &str, &str); 4] = [
    (
        "poll",
        "Short polling",
        "The browser asks “anything new?” every interval. Simple, but most answers are empty, each costs a full \
         HTTP exchange, and news waits for the next ask: half the interval on average.",
    ),
    (
        "longpoll",
        "Long polling",
        "The browser asks, and the server holds the request open until there is news, then answers; the browser \
         asks again at once. Delays drop to a round trip, but every event still pays for a request and a response.",
    ),
    (
        "sse",
        "Server-Sent Events",
        "One long HTTP response that never ends: the server writes each event as a few lines of text. Cheap and \
         one-way; sending back needs separate requests.",
    ),
    (
        "ws",
        "WebSocket",
        "One HTTP request upgraded into a two-way channel. Each event is a frame with a 2-byte header; either side \
         can send at any time.",
    ),
];

/// What one transport has received so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    pub requests: u64,
    pub ticks: u64,
    /// The lowest and highest tick numbers received: every tick between them was due.
    pub first: Option<u64>,
    pub last: u64,
    /// Delivery delays, server timestamp → receipt, in ms (the latest few thousand).
    pub delays: Vec<f64>,
}

impl Received {
    /// Ticks this transport never delivered between the first and the last it did.
    pub fn missed(&self) -> u64 {
        self.first.map_or(0, |first| (self.last + 1 - first).saturating_sub(self.ticks))
    }
}

#[derive(Clone, Copy)]
pub struct LabView {
    pub running: RwSignal<bool>,
    pub received: RwSignal<BTreeMap<String, Received>>,
    pub wire: RwSignal<WireReport>,
    pub error: RwSignal<Option<String>>,
}

#[component]
pub fn LabPage() -> impl IntoView {
    let rate = RwSignal::new("5".to_owned());
    let interval = RwSignal::new("1000".to_owned());
    let view_state = LabView {
        running: RwSignal::new(false),
        received: RwSignal::new(BTreeMap::new()),
        wire: RwSignal::new(WireReport::new()),
        error: RwSignal::new(None),
    };
    let lab = browser::start(view_state);
    let start = move || {
        let rate: u32 = rate.get_untracked().parse().unwrap_or(5);
        let interval: u32 = interval.get_untracked().parse().unwrap_or(1000);
        lab.start(rate, interval);
    };
    let stop = move || lab.stop();
    let hydrated = use_hydrated();
    view! {
        <Title text="Transport lab · wallsocket"/>
        <section class="panel lesson">
            <h1>"Transport lab"</h1>
            <p class="muted">
                "The server ticks at the rate you choose. The same ticks travel four ways at once; watch what each "
                "costs and how late it arrives. A run lasts up to two minutes."
            </p>
            <form class="lab-form" on:submit=move |ev| { ev.prevent_default(); start(); }>
                <label>"Ticks per second "
                    <select
                        data-testid="lab-rate"
                        prop:value=move || rate.get()
                        on:change=move |ev| rate.set(event_target_value(&ev))
                    >
                        <option value="1">"1"</option>
                        <option value="5">"5"</option>
                        <option value="10">"10"</option>
                        <option value="20">"20"</option>
                    </select>
                </label>
                <label>"Short-poll interval "
                    <select
                        data-testid="lab-interval"
                        prop:value=move || interval.get()
                        on:change=move |ev| interval.set(event_target_value(&ev))
                    >
                        <option value="250">"250 ms"</option>
                        <option value="500">"500 ms"</option>
                        <option value="1000">"1 s"</option>
                        <option value="2000">"2 s"</option>
                    </select>
                </label>
                <button
                    type="submit"
                    class="button"
                    data-testid="lab-start"
                    disabled=move || view_state.running.get() || !hydrated.get()
                >
                    "Start"
                </button>
                <button
                    type="button"
                    class="button secondary"
                    on:click=move |_| stop()
                    disabled=move || !view_state.running.get()
                >
                    "Stop"
                </button>
            </form>
            <Show when=move || view_state.error.get().is_some()>
                <p class="notice" role="alert">{move || view_state.error.get()}</p>
            </Show>
        </section>
        <section class="lab-grid" data-testid="lab-grid">
            {TRANSPORTS.iter().map(|(key, name, about)| {
                let key = *key;
                let received = move || view_state.received.with(|r| r.get(key).cloned().unwrap_or_default());
                let wire = move || view_state.wire.with(|w| w.get(key).map(|c| c.total()).unwrap_or(0));
                let summary = move || summarize(&received().delays);
                let missed = move || received().missed();
                view! {
                    <article class=format!("panel lab-card {}", transport_class(key)) data-transport=key>
                        <h2>{*name}</h2>
                        <p class="muted about">{*about}</p>
                        <dl class="lab-stats">
                            <dt>"ticks received"</dt>
                            <dd data-testid=format!("ticks-{key}")>{move || received().ticks}</dd>
                            <Show when=move || missed() != 0>
                                <dt>"ticks missed"</dt>
                                <dd class="field-error" data-testid=format!("missed-{key}")>
                                    {missed}
                                </dd>
                            </Show>
                            <dt>"requests made"</dt><dd>{move || received().requests}</dd>
                            <dt>"bytes transferred"</dt><dd>{move || format!("{} B", wire())}</dd>
                            <dt>"mean delay"</dt>
                            <dd data-testid=format!("mean-{key}")>
                                {move || {
                                    summary().map(|s| format!("{:.1} ms", s.mean)).unwrap_or_else(|| "—".into())
                                }}
                            </dd>
                            <dt>"p99 delay"</dt>
                            <dd>
                                {move || {
                                    summary().map(|s| format!("{:.1} ms", s.p99)).unwrap_or_else(|| "—".into())
                                }}
                            </dd>
                        </dl>
                    </article>
                }
            }).collect_view()}
        </section>
        <section class="panel lesson">
            <h2>"Delay, side by side"</h2>
            <div class="bars" data-testid="lab-chart">
                {move || {
                    let rows: Vec<(String, f64, f64)> = TRANSPORTS.iter().map(|(key, name, _)| {
                        let s = view_state.received.with(|r| r.get(*key).and_then(|x| summarize(&x.delays)));
                        (name.to_string(), s.as_ref().map_or(0.0, |s| s.mean), s.as_ref().map_or(0.0, |s| s.p99))
                    }).collect();
                    let top = rows.iter().map(|r| r.2).fold(1.0, f64::max);
                    rows.into_iter().zip(TRANSPORTS).map(|((name, mean, p99), (key, _, _))| view! {
                        <div class=format!("bar-row {}", transport_class(key))>
                            <span class="bar-label">{name}</span>
                            <div class="bar-track">
                                <div class="bar p99" style=format!("width: {:.1}%", 100.0 * p99 / top)></div>
                                <div class="bar mean" style=format!("width: {:.1}%", 100.0 * mean / top)></div>
                            </div>
                            <span class="bar-value">{format!("mean {mean:.0} ms · p99 {p99:.0} ms")}</span>
                        </div>
                    }).collect_view()
                }}
            </div>
            <p class="muted">
                "Delay is the browser's clock at receipt minus the server's clock when it ticked; the two clocks "
                "may differ a little."
            </p>
        </section>
        <SupportPanel/>
    }
}
