//! `wallsocket-tools bench ingest`: P publishers, each in its own room, keep W posts in flight and
//! send the next as soon as one is acked. An ack means the post is committed (SQLite,
//! synchronous=FULL), so acked posts per second is the durable ingest rate; group commit in
//! the hub is what lets it exceed one fsync per post.

use super::proc::cpu_seconds;
use super::Failure;
use app::protocol::{ClientMsg, ServerMsg};
use app::stats::{summarize, Summary};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// The server's base URL. Start it with a high --rate-per-sec, --rate-burst and
    /// --posts-per-claim-per-min/--posts-per-claim-burst.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Publishers, each on its own connection and in its own room.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=2_000))]
    pub publishers: u32,
    /// Posts each publisher keeps in flight (sent, not yet acked).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub window: u32,
    /// Post size in bytes.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=2_000))]
    pub size: u32,
    /// How long to post, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub seconds: u32,
    /// The server's process id, to report its CPU time (Linux /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub publishers: u32,
    pub acked: u64,
    pub seconds: f64,
    pub acked_per_second: f64,
    /// Post sent → ack received, in ms.
    pub latency: Option<Summary>,
    pub server_cpu_seconds: Option<f64>,
    pub acked_per_server_cpu_second: Option<f64>,
    /// CPU time the load generator itself used meanwhile.
    pub load_cpu_seconds: Option<f64>,
}

pub async fn run(args: &IngestArgs) -> std::process::ExitCode {
    super::finish("ingest", args.json, ingest(args).await, print)
}

pub async fn ingest(args: &IngestArgs) -> Result<IngestReport, Failure> {
    let ws_url = format!("{}/ws", args.url.trim_end_matches('/').replacen("http", "ws", 1));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut sockets = Vec::new();
    for i in 0..args.publishers {
        let room = format!("ingest-{}-{i}", &run[..8]);
        sockets.push((room.clone(), super::wire::joined(&ws_url, &room, format!("pub{i}")).await?));
    }
    let cpu_before = args.server_pid.and_then(cpu_seconds);
    let load_before = cpu_seconds(std::process::id());
    let started = Instant::now();
    let until = tokio::time::Instant::now() + Duration::from_secs(args.seconds.into());
    let text: String = "x".repeat(args.size as usize);
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|(room, ws)| tokio::spawn(publish(ws, room, text.clone(), args.window as usize, until)))
        .collect();
    let mut acked = 0;
    let mut latencies = Vec::new();
    for t in tasks {
        let (n, mut l) = t.await??;
        acked += n;
        latencies.append(&mut l);
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu_seconds = cpu_before.zip(args.server_pid.and_then(cpu_seconds)).map(|(b, a)| a - b);
    let load_cpu_seconds = load_before.zip(cpu_seconds(std::process::id())).map(|(b, a)| a - b);
    Ok(IngestReport {
        publishers: args.publishers,
        acked,
        seconds,
        acked_per_second: acked as f64 / seconds,
        latency: summarize(&latencies),
        server_cpu_seconds,
        acked_per_server_cpu_second: server_cpu_seconds.filter(|s| *s > 0.0).map(|s| acked as f64 / s),
        load_cpu_seconds,
    })
}

/// Posts until `until`, keeping `window` in flight; then waits for the outstanding acks.
/// Returns the acks and each post's ack latency in ms.
async fn publish(
    mut ws: super::wire::Socket,
    room: String,
    text: String,
    window: usize,
    until: tokio::time::Instant,
) -> Result<(u64, Vec<f64>), Failure> {
    let room: app::domain::RoomName = room.parse()?;
    let text: app::domain::PostText = text.parse()?;
    let mut in_flight: HashMap<String, Instant> = HashMap::new();
    let (mut next, mut acked, mut latencies) = (0u64, 0u64, Vec::new());
    loop {
        let posting = tokio::time::Instant::now() < until;
        while posting && in_flight.len() < window {
            let client_id = format!("i{next}");
            next += 1;
            let post = ClientMsg::Post { room: room.clone(), text: text.clone(), client_id: client_id.parse()? };
            ws.feed(Message::text(serde_json::to_string(&post)?)).await?;
            in_flight.insert(client_id, Instant::now());
        }
        ws.flush().await?;
        if !posting && in_flight.is_empty() {
            return Ok((acked, latencies));
        }
        let frame =
            tokio::time::timeout(Duration::from_secs(30), ws.next()).await?.ok_or("publisher socket closed")??;
        match serde_json::from_str::<ServerMsg>(frame.to_text().unwrap_or_default()) {
            Ok(ServerMsg::Ack { client_id, .. }) => {
                if let Some(sent) = in_flight.remove(client_id.as_str()) {
                    acked += 1;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Ok(ServerMsg::Error { message, .. }) => return Err(format!("the server refused a post: {message}").into()),
            _ => {}
        }
    }
}

pub fn print(report: &IngestReport) {
    println!(
        "{} publishers: {} durable acked posts in {:.1} s = {:.0} posts/s",
        report.publishers, report.acked, report.seconds, report.acked_per_second
    );
    if let Some(l) = &report.latency {
        println!("post → ack ms: p50 {:.2}, p99 {:.2}, max {:.2}", l.p50, l.p99, l.max);
    }
    if let (Some(cpu), Some(per)) = (report.server_cpu_seconds, report.acked_per_server_cpu_second) {
        println!("server CPU {cpu:.2} s: {per:.0} acked posts per server CPU-second");
    }
    if let Some(load) = report.load_cpu_seconds {
        println!("load generator CPU {load:.2} s over {:.1} s (its own share of the latencies)", report.seconds);
    }
}
