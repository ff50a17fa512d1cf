//! `wallsocket bench fanout`: K subscribers in one room, P publishers posting at rate R with
//! payload S. Reports deliveries per second, post → delivery latency, and every lost,
//! duplicated or out-of-order delivery (all must be zero). With `--server-pid` it also reads
//! the server's CPU time from /proc and reports deliveries per server CPU-second, which is
//! stable on a noisy machine.

use app::protocol::{ClientMsg, ServerMsg};
use app::stats::{summarize, Summary};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A subscriber that hears nothing for this long stops listening.
const IDLE_LIMIT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug, Clone)]
pub struct FanoutArgs {
    /// The server's base URL. Start it with a high --rate-per-sec and --ip-connect-rate.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Subscribers in the room.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=19_000))]
    pub clients: u32,
    /// Publishers posting to it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub publishers: u32,
    /// Posts per second per publisher.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rate: u32,
    /// Post size in bytes (at least 32: the send time travels in the text).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(32..=2_000))]
    pub size: u32,
    /// How long the publishers post, in seconds.
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
pub struct FanoutReport {
    pub clients: u32,
    pub publishers: u32,
    pub posts: u64,
    pub deliveries: u64,
    pub expected_deliveries: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Subscribers the server closed during the run (4001: they read too slowly).
    pub closed_subscribers: u64,
    pub seconds: f64,
    pub deliveries_per_second: f64,
    /// Post sent → delivered, in ms.
    pub latency: Option<Summary>,
    pub server_cpu_seconds: Option<f64>,
    pub deliveries_per_server_cpu_second: Option<f64>,
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// User + system CPU seconds of a process (fields 14 and 15 of /proc/PID/stat, in ticks).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn joined(url: &str, room: &str, name: String) -> Result<Socket, Failure> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let join = ClientMsg::Join { room: room.parse()?, username: name.parse()?, since: None };
    ws.send(Message::text(serde_json::to_string(&join)?)).await?;
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.ok_or("closed before joining")??;
        if let Ok(ServerMsg::Joined { .. }) = serde_json::from_str(frame.to_text().unwrap_or_default()) {
            return Ok(ws);
        }
    }
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    closed_with: Option<u16>,
    seqs: u64,
    duplicated: u64,
    out_of_order: u64,
    latencies: Vec<f64>,
}

/// Reads until it has seen the final seq (known once the publishers are done), or until
/// nothing arrives for [`IDLE_LIMIT`]; a close frame (say, 4001 for a slow reader) ends it.
async fn subscribe(mut ws: Socket, final_seq: tokio::sync::watch::Receiver<Option<u64>>) -> Seen {
    let mut seen = Seen::default();
    let mut last: Option<u64> = None;
    loop {
        if let (Some(done), Some(l)) = (*final_seq.borrow(), last) {
            if l >= done {
                break;
            }
        }
        let Ok(Some(Ok(frame))) = tokio::time::timeout(IDLE_LIMIT, ws.next()).await else { break };
        if let Message::Close(frame) = &frame {
            seen.closed_with = frame.as_ref().map(|f| u16::from(f.code));
            break;
        }
        let Ok(ServerMsg::Post(post)) = serde_json::from_str::<ServerMsg>(frame.to_text().unwrap_or_default()) else {
            continue;
        };
        let now = now_micros();
        match last {
            Some(l) if post.seq == l => seen.duplicated += 1,
            Some(l) if post.seq < l => seen.out_of_order += 1,
            _ => {
                seen.seqs += 1;
                last = Some(post.seq);
            }
        }
        if let Some(sent) = post.text.as_str().split_whitespace().next().and_then(|t| t.parse::<u64>().ok()) {
            seen.latencies.push(now.saturating_sub(sent) as f64 / 1000.0);
        }
    }
    seen
}

async fn publish(mut ws: Socket, room: String, id: u32, rate: u32, size: usize, seconds: u32) -> Result<u64, Failure> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let total = u64::from(rate) * u64::from(seconds);
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < total {
        tokio::select! {
            _ = tick.tick(), if sent < total => {
                let mut text = format!("{} ", now_micros());
                while text.len() < size {
                    text.push('x');
                }
                let post = ClientMsg::Post { room: room.parse()?, text: text.parse()?, client_id: format!("f{id}-{sent}").parse()? };
                ws.send(Message::text(serde_json::to_string(&post)?)).await?;
                sent += 1;
            }
            frame = ws.next() => {
                let frame = frame.ok_or("publisher socket closed")??;
                match serde_json::from_str::<ServerMsg>(frame.to_text().unwrap_or_default()) {
                    Ok(ServerMsg::Ack { .. }) => acked += 1,
                    Ok(ServerMsg::Error { message, .. }) => return Err(format!("the server refused a post: {message}").into()),
                    _ => {}
                }
            }
        }
    }
    Ok(acked)
}

pub async fn fanout(args: &FanoutArgs) -> Result<FanoutReport, Failure> {
    let ws_url = format!("{}/ws", args.url.trim_end_matches('/').replacen("http", "ws", 1));
    let room = format!("fanout-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut subscribers = Vec::new();
    for i in 0..args.clients {
        subscribers.push(joined(&ws_url, &room, format!("sub{i}")).await?);
    }
    let mut publishers = Vec::new();
    for i in 0..args.publishers {
        publishers.push(joined(&ws_url, &room, format!("pub{i}")).await?);
    }
    let cpu_before = args.server_pid.and_then(cpu_seconds);
    let started = std::time::Instant::now();
    let (final_tx, final_rx) = tokio::sync::watch::channel(None);
    let readers: Vec<_> = subscribers.into_iter().map(|ws| tokio::spawn(subscribe(ws, final_rx.clone()))).collect();
    let writers: Vec<_> = publishers
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(publish(ws, room.clone(), i as u32, args.rate, args.size as usize, args.seconds)))
        .collect();
    let mut posts = 0;
    for w in writers {
        posts += w.await??;
    }
    // The room is fresh: its seqs are 1..=posts.
    final_tx.send_replace(Some(posts));
    let mut totals = Seen::default();
    let mut closed = 0;
    for r in readers {
        let seen = r.await?;
        closed += u64::from(seen.closed_with.is_some());
        totals.seqs += seen.seqs;
        totals.duplicated += seen.duplicated;
        totals.out_of_order += seen.out_of_order;
        totals.latencies.extend(seen.latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu_seconds = cpu_before.zip(args.server_pid.and_then(cpu_seconds)).map(|(b, a)| a - b);
    let expected = posts * u64::from(args.clients);
    let deliveries = totals.seqs + totals.duplicated + totals.out_of_order;
    Ok(FanoutReport {
        clients: args.clients,
        publishers: args.publishers,
        posts,
        deliveries,
        expected_deliveries: expected,
        lost: expected.saturating_sub(totals.seqs),
        duplicated: totals.duplicated,
        out_of_order: totals.out_of_order,
        closed_subscribers: closed,
        seconds,
        deliveries_per_second: deliveries as f64 / seconds,
        latency: summarize(&totals.latencies),
        server_cpu_seconds,
        deliveries_per_server_cpu_second: server_cpu_seconds.filter(|s| *s > 0.0).map(|s| deliveries as f64 / s),
    })
}

pub fn print(report: &FanoutReport) {
    println!(
        "{} subscribers, {} publishers: {} posts, {} deliveries of {} expected",
        report.clients, report.publishers, report.posts, report.deliveries, report.expected_deliveries
    );
    println!(
        "lost {}, duplicated {}, out of order {}, subscribers closed by the server {}",
        report.lost, report.duplicated, report.out_of_order, report.closed_subscribers
    );
    println!("{:.0} deliveries/s over {:.1} s", report.deliveries_per_second, report.seconds);
    if let Some(l) = &report.latency {
        println!("post → delivery ms: p50 {:.2}, p99 {:.2}, max {:.2}", l.p50, l.p99, l.max);
    }
    if let (Some(cpu), Some(per)) = (report.server_cpu_seconds, report.deliveries_per_server_cpu_second) {
        println!("server CPU {cpu:.2} s: {per:.0} deliveries per server CPU-second");
    }
}
