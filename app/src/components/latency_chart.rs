//! An SVG chart of latency distributions: one line per transport over shared buckets.

use crate::stats::histogram;
use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const PAD: f64 = 32.0;
const BUCKETS: usize = 40;

/// A series to draw: its name, CSS class (for the colour) and samples in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub samples: Vec<f64>,
}

/// The polyline points of a histogram scaled into the plot area.
fn points(counts: &[usize], max_count: usize) -> String {
    let step = (WIDTH - 2.0 * PAD) / counts.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let x = PAD + step * (i as f64 + 0.5);
            let y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * (*c as f64 / max_count.max(1) as f64);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
pub fn LatencyChart(series: Vec<Series>, #[prop(into)] top_ms: f64) -> impl IntoView {
    let hists: Vec<(Series, Vec<usize>)> = series
        .into_iter()
        .map(|s| {
            let h = histogram(&s.samples, top_ms, BUCKETS);
            (s, h)
        })
        .collect();
    let max_count = hists.iter().flat_map(|(_, h)| h.iter().copied()).max().unwrap_or(1);
    let ticks: Vec<f64> = (0..=4).map(|i| top_ms * i as f64 / 4.0).collect();
    view! {
        <figure class="chart" data-testid="latency-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label="Latency distribution per transport">
                <line class="axis" x1=PAD y1=HEIGHT - PAD x2=WIDTH - PAD y2=HEIGHT - PAD/>
                {ticks.into_iter().map(|t| {
                    let x = PAD + (WIDTH - 2.0 * PAD) * t / top_ms.max(f64::EPSILON);
                    view! {
                        <text class="tick" x=x y=HEIGHT - PAD / 3.0 text-anchor="middle">{format!("{t:.1} ms")}</text>
                    }
                }).collect_view()}
                {hists.iter().map(|(s, h)| view! {
                    <polyline class=format!("series {}", s.class) points=points(h, max_count)/>
                }).collect_view()}
            </svg>
            <figcaption>
                {hists.iter().map(|(s, _)| view! {
                    <span class=format!("legend {}", s.class)>{s.name.clone()}</span>
                }).collect_view()}
                " — round trips per latency bucket (last bucket: everything slower)"
            </figcaption>
        </figure>
    }
}
