//! Runs the speed test in the browser: N round trips over HTTP, WebSocket and SSE + POST.

use crate::client::lessons::{event_stream, get_text, now, open_socket, post_text, text_frames, ws_url};
use crate::lab::{speed_index, speed_payload, SpeedResult, WireReport};
use crate::stats::summarize;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use std::cell::RefCell;
use std::rc::Rc;

/// Requests in flight at once when pipelining over HTTP.
const HTTP_WINDOW: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct SpeedConfig {
    pub n: usize,
    pub size: usize,
    pub pipelined: bool,
}

/// Runs every transport in turn; `progress(transport, done)` reports as it goes.
pub async fn run_all(
    config: SpeedConfig,
    run: String,
    progress: impl Fn(&'static str, usize),
) -> Result<Vec<SpeedResult>, String> {
    let mut results = Vec::new();
    for transport in ["http", "ws", "sse"] {
        let started = now();
        let samples = match transport {
            "http" => http(config, &run, &|d| progress("http", d)).await?,
            "ws" => websocket(config, &run, &|d| progress("ws", d)).await?,
            _ => sse(config, &run, &|d| progress("sse", d)).await?,
        };
        let total_ms = now() - started;
        let latency = summarize(&samples).ok_or("no round trips")?;
        results.push(SpeedResult {
            transport: transport.into(),
            round_trips: samples.len(),
            total_ms,
            latency,
            wire: None,
            samples,
        });
    }
    let report: WireReport =
        serde_json::from_str(&get_text(&format!("/lab/wire?run={run}")).await?).map_err(|e| e.to_string())?;
    for result in &mut results {
        result.wire = report.get(&result.transport).cloned();
    }
    Ok(results)
}

fn every_percent(n: usize, done: usize) -> bool {
    done == n || done.is_multiple_of((n / 100).max(1))
}

async fn http(config: SpeedConfig, run: &str, progress: &dyn Fn(usize)) -> Result<Vec<f64>, String> {
    let url = format!("/lab/echo/http?run={run}");
    let window = if config.pipelined { HTTP_WINDOW } else { 1 };
    let mut trips = futures::stream::iter(0..config.n)
        .map(|i| {
            let url = url.clone();
            async move {
                let started = now();
                post_text(&url, speed_payload(i, config.size)).await.map(|_| now() - started)
            }
        })
        .buffer_unordered(window);
    let mut samples = Vec::with_capacity(config.n);
    while let Some(sample) = trips.next().await {
        samples.push(sample?);
        if every_percent(config.n, samples.len()) {
            progress(samples.len());
        }
    }
    Ok(samples)
}

async fn websocket(config: SpeedConfig, run: &str, progress: &dyn Fn(usize)) -> Result<Vec<f64>, String> {
    let ws = open_socket(&ws_url(&format!("/lab/echo/ws?run={run}"))).await?;
    let (mut sink, stream) = ws.split();
    let mut echoes = Box::pin(text_frames(stream));
    let sent_at = Rc::new(RefCell::new(vec![0.0; config.n]));
    let mut samples = Vec::with_capacity(config.n);
    if config.pipelined {
        let sending = {
            let sent_at = sent_at.clone();
            async move {
                for i in 0..config.n {
                    sent_at.borrow_mut()[i] = now();
                    sink.send(Message::Text(speed_payload(i, config.size))).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(sink)
            }
        };
        let receiving = async {
            while samples.len() < config.n {
                let echo = echoes.next().await.ok_or("the socket closed")?;
                let i = speed_index(&echo).ok_or("an echo lost its index")?;
                samples.push(now() - sent_at.borrow()[i]);
                if every_percent(config.n, samples.len()) {
                    progress(samples.len());
                }
            }
            Ok::<_, String>(())
        };
        let (sent, received) = futures::join!(sending, receiving);
        let _ = sent?.close().await;
        received?;
    } else {
        for i in 0..config.n {
            let started = now();
            sink.send(Message::Text(speed_payload(i, config.size))).await.map_err(|e| e.to_string())?;
            echoes.next().await.ok_or("the socket closed")?;
            samples.push(now() - started);
            if every_percent(config.n, samples.len()) {
                progress(samples.len());
            }
        }
        let _ = sink.close().await;
    }
    Ok(samples)
}

async fn sse(config: SpeedConfig, run: &str, progress: &dyn Fn(usize)) -> Result<Vec<f64>, String> {
    let (mut events, source) = event_stream(&format!("/lab/echo/sse?run={run}"), &["session", "message"])?;
    let session = loop {
        match events.next().await {
            Some((kind, data)) if kind == "session" => break data,
            Some(_) => continue,
            None => return Err("the event stream closed".into()),
        }
    };
    let url = format!("/lab/echo/sse?run={run}&session={session}");
    let sent_at = Rc::new(RefCell::new(vec![0.0; config.n]));
    let window = if config.pipelined { HTTP_WINDOW } else { 1 };
    let sending = {
        let sent_at = sent_at.clone();
        let url = url.clone();
        async move {
            let mut posts = futures::stream::iter(0..config.n)
                .map(|i| {
                    let (url, sent_at) = (url.clone(), sent_at.clone());
                    async move {
                        sent_at.borrow_mut()[i] = now();
                        post_text(&url, speed_payload(i, config.size)).await
                    }
                })
                .buffer_unordered(window);
            while let Some(posted) = posts.next().await {
                posted?;
            }
            Ok::<_, String>(())
        }
    };
    let mut samples = Vec::with_capacity(config.n);
    let receiving = async {
        while samples.len() < config.n {
            let (_, data) = events.next().await.ok_or("the event stream closed")?;
            let i = speed_index(&data).ok_or("an echo lost its index")?;
            samples.push(now() - sent_at.borrow()[i]);
            if every_percent(config.n, samples.len()) {
                progress(samples.len());
            }
        }
        Ok::<_, String>(())
    };
    let (sent, received) = futures::join!(sending, receiving);
    source.close();
    sent?;
    received?;
    Ok(samples)
}
