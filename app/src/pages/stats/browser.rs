//! The stats page's browser half: reads `/metrics` now and every two seconds.

use super::parse_metrics;
use crate::client::lessons::get_text;
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

const REFRESH: Duration = Duration::from_secs(2);

pub fn start(metrics: RwSignal<Option<BTreeMap<String, f64>>>) {
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Ok(text) = get_text("/metrics").await {
                metrics.set(Some(parse_metrics(&text)));
            }
        })
    };
    load();
    let timer = set_interval_with_handle(load, REFRESH).ok();
    on_cleanup(move || {
        if let Some(timer) = timer {
            timer.clear()
        }
    });
}
