//! `/stats`: the server's `/metrics`, drawn live for people.

use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::BTreeMap;

// The page's browser half, and its inert twin for the server's render.
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(not(feature = "hydrate"))]
mod inert;
#[cfg(not(feature = "hydrate"))]
use inert as browser;

/// Samples of a Prometheus text exposition, by series (name with labels).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The latency histogram's buckets as (upper bound in ms, count in that bucket alone).
fn latency_buckets(m: &BTreeMap<String, f64>) -> Vec<(f64, f64)> {
    let mut cumulative: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("wallsocket_post_to_delivery_seconds_bucket{le=\"")?.strip_suffix("\"}")?;
            Some((le.parse::<f64>().ok()? * 1000.0, *v))
        })
        .collect();
    cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut previous = 0.0;
    cumulative
        .into_iter()
        .filter(|(le, _)| le.is_finite())
        .map(|(le, c)| {
            let n = c - previous;
            previous = c;
            (le, n)
        })
        .collect()
}

#[component]
pub fn StatsPage() -> impl IntoView {
    let metrics = RwSignal::new(None::<BTreeMap<String, f64>>);
    browser::start(metrics);
    let get = move |name: &str| metrics.with(|m| m.as_ref().and_then(|m| m.get(name).copied()));
    let card = move |label: &'static str, name: &'static str| {
        view! {
            <div class="stat-card">
                <span class="muted">{label}</span>
                <strong data-testid=name>
                    {move || get(name).map(|v| format!("{v:.0}")).unwrap_or_else(|| "…".into())}
                </strong>
            </div>
        }
    };
    view! {
        <Title text="Server stats · wallsocket"/>
        <section class="panel lesson">
            <h1>"Server stats"</h1>
            <p class="muted">"Live from " <code>"/metrics"</code> " (Prometheus format), every two seconds."</p>
            <div class="stat-grid">
                {card("open WebSockets", "wallsocket_connections")}
                {card("rooms in use", "wallsocket_rooms")}
                {card("posts stored", "wallsocket_posts_total")}
                {card("deliveries", "wallsocket_deliveries_total")}
                {card("queue overflows", "wallsocket_queue_overflows_total")}
            </div>
            <h2>"Closes by code"</h2>
            <ul class="closes">
                {move || metrics.get().map(|m| m.iter().filter_map(|(k, v)| {
                    let code = k.strip_prefix("wallsocket_closes_total{code=\"")?.strip_suffix("\"}")?.to_owned();
                    Some(view! { <li><code>{code}</code> " × " {format!("{v:.0}")}</li> })
                }).collect_view())}
            </ul>
            <h2>"Post → delivery latency"</h2>
            <div class="bars">
                {move || {
                    let buckets = metrics.with(|m| m.as_ref().map(latency_buckets).unwrap_or_default());
                    let top = buckets.iter().map(|b| b.1).fold(1.0, f64::max);
                    buckets.into_iter().map(|(le, n)| view! {
                        <div class="bar-row t-ws">
                            <span class="bar-label">{format!("≤ {le:.2} ms")}</span>
                            <div class="bar-track">
                                <div class="bar mean" style=format!("width: {:.1}%", 100.0 * n / top)></div>
                            </div>
                            <span class="bar-value">{format!("{n:.0}")}</span>
                        </div>
                    }).collect_view()
                }}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_text() {
        let text = "# HELP x y\nwallsocket_posts_total 3\nwallsocket_closes_total{code=\"1009\"} 1\n\
                    wallsocket_post_to_delivery_seconds_bucket{le=\"0.001\"} 2\n\
                    wallsocket_post_to_delivery_seconds_bucket{le=\"0.002\"} 5\n\
                    wallsocket_post_to_delivery_seconds_bucket{le=\"+Inf\"} 5\n";
        let m = parse_metrics(text);
        assert_eq!(m["wallsocket_posts_total"], 3.0);
        assert_eq!(m["wallsocket_closes_total{code=\"1009\"}"], 1.0);
        assert_eq!(latency_buckets(&m), vec![(1.0, 2.0), (2.0, 3.0)]);
    }
}
