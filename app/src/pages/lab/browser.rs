//! The lab's browser side: starts a ticker and listens on all four transports at once.

use super::{LabView, Received};
use crate::client::lessons::{event_stream, get_text, open_socket, post_text, text_frames, ws_url};
use crate::lab::Tick;
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;

/// Delays kept per transport.
const DELAYS_KEPT: usize = 5_000;

#[derive(Clone, Copy)]
pub struct LabHandle {
    view: LabView,
    /// Set to stop the current run's tasks.
    stop: StoredValue<Rc<Cell<bool>>, LocalStorage>,
}

/// Starts the lab's browser half; a run starts with [`LabHandle::start`].
pub fn start(view: LabView) -> LabHandle {
    let handle = LabHandle { view, stop: StoredValue::new_local(Rc::new(Cell::new(false))) };
    on_cleanup(move || handle.stop());
    handle
}

fn record(view: LabView, key: &str, ticks: &[Tick], request: bool) {
    let now = js_sys::Date::now();
    view.received.update(|r| {
        let entry: &mut Received = r.entry(key.to_owned()).or_default();
        entry.requests += u64::from(request);
        entry.ticks += ticks.len() as u64;
        for tick in ticks {
            entry.first = Some(entry.first.map_or(tick.n, |first| first.min(tick.n)));
            entry.last = entry.last.max(tick.n);
        }
        entry.delays.extend(ticks.iter().map(|t| (now - t.ts as f64).max(0.0)));
        let excess = entry.delays.len().saturating_sub(DELAYS_KEPT);
        entry.delays.drain(..excess);
    });
}

fn parse_ticks(body: &str) -> Vec<Tick> {
    serde_json::from_str(body).unwrap_or_default()
}

impl LabHandle {
    pub fn stop(&self) {
        let _ = self.stop.try_with_value(|s| s.set(true));
        self.view.running.set(false);
    }

    pub fn start(&self, rate: u32, interval_ms: u32) {
        self.stop();
        let stop = Rc::new(Cell::new(false));
        self.stop.set_value(stop.clone());
        let view = self.view;
        view.running.set(true);
        view.error.set(None);
        view.received.set(Default::default());
        leptos::task::spawn_local(async move {
            let started = match post_text(&format!("/lab/ticker?rate={rate}"), String::new()).await {
                Ok(body) => serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned)),
                Err(e) => {
                    view.error.set(Some(format!("Could not start the ticker: {e}")));
                    None
                }
            };
            let Some(id) = started else {
                view.running.set(false);
                return;
            };
            let base = format!("/lab/ticker/{id}");
            spawn_poll(view, stop.clone(), format!("{base}/poll"), "poll", Some(interval_ms));
            spawn_poll(view, stop.clone(), format!("{base}/longpoll"), "longpoll", None);
            spawn_sse(view, stop.clone(), format!("{base}/sse"));
            spawn_ws(view, stop.clone(), format!("{base}/ws"));
            while !stop.get() {
                if let Ok(report) = get_text(&format!("/lab/wire?run={id}")).await {
                    if let Ok(report) = serde_json::from_str(&report) {
                        view.wire.set(report);
                    }
                }
                TimeoutFuture::new(1_000).await;
            }
        });
    }
}

/// Short polling (`every` set) or long polling (`every` unset).
fn spawn_poll(view: LabView, stop: Rc<Cell<bool>>, url: String, key: &'static str, every: Option<u32>) {
    leptos::task::spawn_local(async move {
        let mut after = 0;
        while !stop.get() {
            let answer = get_text(&format!("{url}?after={after}")).await;
            if stop.get() {
                // A poll of a run that was stopped (or replaced) while it waited.
                break;
            }
            match answer {
                Ok(body) => {
                    let ticks = parse_ticks(&body);
                    after = ticks.iter().map(|t| t.n).max().unwrap_or(after);
                    record(view, key, &ticks, true);
                }
                Err(_) => break, // the ticker ended
            }
            if let Some(ms) = every {
                TimeoutFuture::new(ms).await;
            }
        }
    });
}

fn spawn_sse(view: LabView, stop: Rc<Cell<bool>>, url: String) {
    leptos::task::spawn_local(async move {
        let Ok((mut events, source)) = event_stream(&url, &["message"]) else { return };
        record(view, "sse", &[], true);
        while let Some((_, data)) = events.next().await {
            if stop.get() {
                break;
            }
            if let Ok(tick) = serde_json::from_str::<Tick>(&data) {
                record(view, "sse", &[tick], false);
            }
        }
        source.close();
    });
}

fn spawn_ws(view: LabView, stop: Rc<Cell<bool>>, path: String) {
    leptos::task::spawn_local(async move {
        let Ok(ws) = open_socket(&ws_url(&path)).await else { return };
        record(view, "ws", &[], true);
        let (_sink, stream) = ws.split();
        let mut frames = Box::pin(text_frames(stream));
        while let Some(text) = frames.next().await {
            if stop.get() {
                break;
            }
            if let Ok(tick) = serde_json::from_str::<Tick>(&text) {
                record(view, "ws", &[tick], false);
            }
        }
    });
}
