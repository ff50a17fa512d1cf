//! `wallsocket-tools bench speed`: the speed test's comparison run natively against a server —
//! N round trips over HTTP, WebSocket and SSE + POST — printed as the same table the
//! `/speed` page shows (or as JSON).

use super::Failure;
use app::lab::{speed_index, speed_payload, SpeedResult, WireReport};
use app::stats::summarize;
use futures::{SinkExt, StreamExt};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Requests in flight at once when pipelining over HTTP.
const HTTP_WINDOW: usize = 32;

#[derive(clap::Args, Debug, Clone)]
pub struct SpeedArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Round trips per transport (1–100,000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub n: u32,
    /// Payload bytes per message (1–60,000).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub size: u32,
    /// Keep many round trips in flight instead of one at a time.
    #[arg(long)]
    pub pipelined: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &SpeedArgs) -> ExitCode {
    super::finish("speed", args.json, speed(args).await, |results| print_table(args, results))
}

async fn speed(args: &SpeedArgs) -> Result<Vec<SpeedResult>, Failure> {
    let base = args.url.trim_end_matches('/').to_owned();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (n, size) = (args.n as usize, args.size as usize);
    let http_client = reqwest::Client::new();
    let mut results = Vec::new();
    for transport in ["http", "ws", "sse"] {
        let started = Instant::now();
        let samples = match transport {
            "http" => http(&http_client, &base, &run, n, size, args.pipelined).await?,
            "ws" => websocket(&base, &run, n, size, args.pipelined).await?,
            _ => sse(&http_client, &base, &run, n, size, args.pipelined).await?,
        };
        let total_ms = started.elapsed().as_secs_f64() * 1000.0;
        let latency = summarize(&samples).ok_or("no round trips")?;
        results.push(SpeedResult {
            transport: transport.into(),
            round_trips: n,
            total_ms,
            latency,
            wire: None,
            samples: Vec::new(),
        });
    }
    let report: WireReport =
        http_client.get(format!("{base}/lab/wire?run={run}")).send().await?.error_for_status()?.json().await?;
    for r in &mut results {
        r.wire = report.get(&r.transport).cloned();
    }
    Ok(results)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

async fn http(
    client: &reqwest::Client,
    base: &str,
    run: &str,
    n: usize,
    size: usize,
    pipelined: bool,
) -> Result<Vec<f64>, Failure> {
    let url = format!("{base}/lab/echo/http?run={run}");
    let trips = futures::stream::iter(0..n).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let started = Instant::now();
            client.post(&url).body(speed_payload(i, size)).send().await?.error_for_status()?.bytes().await?;
            Ok::<_, Failure>(ms(started))
        }
    });
    trips.buffer_unordered(if pipelined { HTTP_WINDOW } else { 1 }).collect::<Vec<_>>().await.into_iter().collect()
}

async fn websocket(base: &str, run: &str, n: usize, size: usize, pipelined: bool) -> Result<Vec<f64>, Failure> {
    let url = format!("{}/lab/echo/ws?run={run}", base.replacen("http", "ws", 1));
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    let (mut sink, mut stream) = ws.split();
    let sent_at = Arc::new(Mutex::new(vec![Instant::now(); n]));
    let window = if pipelined { n } else { 1 };
    let mut samples = Vec::with_capacity(n);
    let mut next = 0;
    while samples.len() < n {
        // Keep up to `window` round trips in flight.
        while next < n && next - samples.len() < window {
            sent_at.lock().map_err(|_| "clock poisoned")?[next] = Instant::now();
            sink.send(Message::text(speed_payload(next, size))).await?;
            next += 1;
        }
        let echo = tokio::time::timeout(Duration::from_secs(30), stream.next()).await?.ok_or("socket closed")??;
        let i = speed_index(echo.to_text()?).ok_or("an echo lost its index")?;
        samples.push(ms(sent_at.lock().map_err(|_| "clock poisoned")?[i]));
    }
    let _ = sink.close().await;
    Ok(samples)
}

async fn sse(
    client: &reqwest::Client,
    base: &str,
    run: &str,
    n: usize,
    size: usize,
    pipelined: bool,
) -> Result<Vec<f64>, Failure> {
    let mut events = client.get(format!("{base}/lab/echo/sse?run={run}")).send().await?.error_for_status()?;
    let mut buffer = String::new();
    let mut next_event = async || -> Result<(String, String), Failure> {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let kind = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("message").to_owned();
                let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                if !data.is_empty() {
                    return Ok((kind, data));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), events.chunk())
                .await?
                .map_err(Box::new)?
                .ok_or("stream closed")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let (_, session) = next_event().await?;
    let url = format!("{base}/lab/echo/sse?run={run}&session={session}");
    let sent_at = Arc::new(Mutex::new(vec![Instant::now(); n]));
    let window = if pipelined { HTTP_WINDOW } else { 1 };
    let mut samples = Vec::with_capacity(n);
    let mut next = 0;
    while samples.len() < n {
        let mut posts = Vec::new();
        while next < n && next - samples.len() < window {
            sent_at.lock().map_err(|_| "clock poisoned")?[next] = Instant::now();
            posts.push(client.post(&url).body(speed_payload(next, size)).send());
            next += 1;
        }
        for posted in futures::future::join_all(posts).await {
            posted?.error_for_status()?;
        }
        let (_, data) = next_event().await?;
        let i = speed_index(&data).ok_or("an echo lost its index")?;
        samples.push(ms(sent_at.lock().map_err(|_| "clock poisoned")?[i]));
    }
    Ok(samples)
}

fn print_table(args: &SpeedArgs, results: &[SpeedResult]) {
    println!(
        "{} round trips of {} bytes, {}",
        args.n,
        args.size,
        if args.pipelined { "pipelined" } else { "sequential" }
    );
    println!(
        "{:<11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10}",
        "transport", "total ms", "msg/s", "p50", "p90", "p99", "max", "bytes/trip", "headers"
    );
    for r in results {
        let bytes = r.bytes_per_round_trip().map_or("—".into(), |b| format!("{b:.0}"));
        let headers = r.header_bytes_per_round_trip().map_or("—".into(), |b| format!("{b:.0}"));
        let l = &r.latency;
        println!(
            "{:<11} {:>9.0} {:>9.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>12} {:>10}",
            r.transport,
            r.total_ms,
            r.per_second(),
            l.p50,
            l.p90,
            l.p99,
            l.max,
            bytes,
            headers
        );
    }
    let rate = |t: &str| results.iter().find(|r| r.transport == t).map(SpeedResult::per_second);
    if let (Some(ws), Some(http)) = (rate("ws"), rate("http")) {
        if http > 0.0 {
            println!("WebSocket: {:.1}x the round trips per second of HTTP", ws / http);
        }
    }
}
