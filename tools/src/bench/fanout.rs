//! `wallsocket-tools bench fanout`: K subscribers spread over N rooms (one by default), P
//! publishers in each room posting at rate R with payload S. Reports deliveries per second,
//! post → delivery latency, and every lost, duplicated or out-of-order delivery (all must be
//! zero). With `--server-pid` it also reads
//! the server's CPU time from /proc and reports deliveries per server CPU-second, which is
//! stable on a noisy machine. `--protocol socketio` runs the same load against a Socket.IO
//! peer from `tools/peers/` (same semantics: join a room, each post numbered and broadcast).

use super::proc::{cpu_seconds, now_micros};
use super::socketio;
pub use super::wire::Protocol;
use super::wire::{hear, join, post_frame, Heard, Socket};
use super::written::{self, Written};
use super::Failure;
use app::stats::{summarize, Summary};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Joins in flight at once while the room fills.
const JOIN_WINDOW: usize = 32;

/// A subscriber that hears nothing for this long stops listening.
const IDLE_LIMIT: Duration = Duration::from_secs(15);

#[derive(clap::Args, Debug, Clone)]
pub struct FanoutArgs {
    /// The server's base URL. Start it with a high --rate-per-sec, --ip-connect-rate and
    /// --posts-per-claim-per-min/--posts-per-claim-burst.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The protocol the server speaks.
    #[arg(long, value_enum, default_value_t = Protocol::Wallsocket)]
    pub protocol: Protocol,
    /// Subscribers, spread evenly over the rooms.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=19_000))]
    pub clients: u32,
    /// Rooms, each with its share of the subscribers and its own publishers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2_000))]
    pub rooms: u32,
    /// Publishers posting to each room.
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
    /// Where the publishers connect, if not to `--url`: another node of a cluster, so every
    /// post crosses from one node to the other.
    #[arg(long)]
    pub publish_url: Option<String>,
    /// More nodes of a cluster for the subscribers: they are spread over `--url` and these
    /// (comma-separated), in turn.
    #[arg(long, value_delimiter = ',')]
    pub also_url: Vec<String>,
    /// The server's process id, to report its CPU time (Linux /proc); several, comma-separated,
    /// for the nodes of a cluster (their CPU time is summed).
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// The room (with several, the rooms' prefix), which must be new (its seqs are counted
    /// from 1); a fresh name by default.
    #[arg(long)]
    pub room: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FanoutReport {
    pub protocol: Protocol,
    pub clients: u32,
    pub rooms: u32,
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
    /// The server's own post → written to the last member, from its histogram (wallsocket only).
    pub written: Option<Written>,
    pub server_cpu_seconds: Option<f64>,
    pub deliveries_per_server_cpu_second: Option<f64>,
    /// CPU time the load generator itself used meanwhile: near one core per second, its own
    /// queueing is part of the latencies.
    pub load_cpu_seconds: Option<f64>,
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
async fn subscribe(
    protocol: Protocol,
    mut ws: Socket,
    mut final_seq: tokio::sync::watch::Receiver<Option<u64>>,
) -> Seen {
    let mut seen = Seen::default();
    let mut last: Option<u64> = None;
    loop {
        if let (Some(done), Some(l)) = (*final_seq.borrow(), last) {
            if l >= done {
                break;
            }
        }
        let next = tokio::select! {
            next = tokio::time::timeout(IDLE_LIMIT, ws.next()) => next,
            // The final seq became known: check again whether it was already seen.
            Ok(()) = final_seq.changed() => continue,
        };
        let Ok(Some(Ok(frame))) = next else { break };
        if let Message::Close(frame) = &frame {
            seen.closed_with = frame.as_ref().map(|f| u16::from(f.code));
            break;
        }
        let (seq, sent) = match hear(protocol, frame.to_text().unwrap_or_default()) {
            Heard::Post { seq, sent_micros } => (seq, sent_micros),
            Heard::Ping => {
                let _ = ws.send(Message::text(socketio::PONG)).await;
                continue;
            }
            _ => continue,
        };
        let now = now_micros();
        match last {
            Some(l) if seq == l => seen.duplicated += 1,
            Some(l) if seq < l => seen.out_of_order += 1,
            _ => {
                seen.seqs += 1;
                last = Some(seq);
            }
        }
        if let Some(sent) = sent {
            seen.latencies.push(now.saturating_sub(sent) as f64 / 1000.0);
        }
    }
    seen
}

async fn publish(protocol: Protocol, mut ws: Socket, room: String, id: u32, args: FanoutArgs) -> Result<u64, Failure> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / args.rate);
    let total = u64::from(args.rate) * u64::from(args.seconds);
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < total {
        tokio::select! {
            _ = tick.tick(), if sent < total => {
                let mut text = format!("{} ", now_micros());
                while text.len() < args.size as usize {
                    text.push('x');
                }
                ws.send(Message::text(post_frame(protocol, &room, text, id, sent)?)).await?;
                sent += 1;
            }
            frame = ws.next() => {
                let frame = frame.ok_or("publisher socket closed")??;
                match hear(protocol, frame.to_text().unwrap_or_default()) {
                    Heard::Ack => acked += 1,
                    Heard::Refused(message) => return Err(format!("the server refused a post: {message}").into()),
                    Heard::Ping => ws.send(Message::text(socketio::PONG)).await?,
                    _ => {}
                }
            }
        }
    }
    Ok(acked)
}

pub async fn fanout(args: &FanoutArgs) -> Result<FanoutReport, Failure> {
    let protocol = args.protocol;
    let base = match &args.room {
        Some(room) => room.clone(),
        None => format!("fanout-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
    };
    let rooms: Vec<String> =
        if args.rooms == 1 { vec![base] } else { (0..args.rooms).map(|k| format!("{base}-{k}")).collect() };
    // Each room's last seq, known once its publishers are done.
    let (final_tx, final_rx): (Vec<_>, Vec<_>) = rooms.iter().map(|_| tokio::sync::watch::channel(None)).unzip();
    // Each subscriber reads from the moment it joins: the presence notices of later joins
    // must not pile up unread in its queue.
    let readers: Vec<_> = futures::stream::iter(0..args.clients)
        .map(|i| {
            let k = (i % args.rooms) as usize;
            let (room, final_rx) = (rooms[k].clone(), final_rx[k].clone());
            let node = i as usize % (1 + args.also_url.len());
            let url = if node == 0 { &args.url } else { &args.also_url[node - 1] };
            async move {
                let ws = join(protocol, url, &room, format!("sub{i}")).await?;
                Ok::<_, Failure>((k, tokio::spawn(subscribe(protocol, ws, final_rx))))
            }
        })
        .buffered(JOIN_WINDOW)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let url = args.publish_url.as_deref().unwrap_or(&args.url);
    let publishers: Vec<_> = futures::stream::iter(0..args.rooms * args.publishers)
        .map(|i| {
            let room = rooms[(i / args.publishers) as usize].clone();
            async move { Ok::<_, Failure>((i, room.clone(), join(protocol, url, &room, format!("pub{i}")).await?)) }
        })
        .buffered(JOIN_WINDOW)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let histogram_before = match protocol {
        Protocol::Wallsocket => written::scrape(url).await,
        Protocol::Socketio => None,
    };
    let cpu_before = servers_cpu_seconds(&args.server_pid);
    let load_before = cpu_seconds(std::process::id());
    let started = std::time::Instant::now();
    let writers: Vec<_> = publishers
        .into_iter()
        .map(|(i, room, ws)| tokio::spawn(publish(protocol, ws, room, i, args.clone())))
        .collect();
    let mut in_room = vec![0u64; rooms.len()];
    for (i, w) in writers.into_iter().enumerate() {
        in_room[i / args.publishers as usize] += w.await??;
    }
    // The rooms are fresh: each one's seqs are 1..=its posts.
    for (tx, posts) in final_tx.iter().zip(&in_room) {
        tx.send_replace(Some(*posts));
    }
    let posts: u64 = in_room.iter().sum();
    let mut totals = Seen::default();
    let mut closed = 0;
    let mut expected = 0;
    for (k, r) in readers {
        expected += in_room[k];
        let seen = r.await?;
        closed += u64::from(seen.closed_with.is_some());
        totals.seqs += seen.seqs;
        totals.duplicated += seen.duplicated;
        totals.out_of_order += seen.out_of_order;
        totals.latencies.extend(seen.latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    let written = match histogram_before {
        Some(before) => written::scrape(url).await.and_then(|after| written::between(&before, &after)),
        None => None,
    };
    let server_cpu_seconds = cpu_before.zip(servers_cpu_seconds(&args.server_pid)).map(|(b, a)| a - b);
    let load_cpu_seconds = load_before.zip(cpu_seconds(std::process::id())).map(|(b, a)| a - b);
    let deliveries = totals.seqs + totals.duplicated + totals.out_of_order;
    Ok(FanoutReport {
        protocol,
        clients: args.clients,
        rooms: args.rooms,
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
        written,
        server_cpu_seconds,
        deliveries_per_server_cpu_second: server_cpu_seconds.filter(|s| *s > 0.0).map(|s| deliveries as f64 / s),
        load_cpu_seconds,
    })
}

/// The CPU time of every server process together; `None` without any (or if one is gone).
fn servers_cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|pid| cpu_seconds(*pid)).sum()
}

pub fn print(report: &FanoutReport) {
    println!(
        "{} subscribers in {} room(s), {} publisher(s) each: {} posts, {} deliveries of {} expected",
        report.clients, report.rooms, report.publishers, report.posts, report.deliveries, report.expected_deliveries
    );
    println!(
        "lost {}, duplicated {}, out of order {}, subscribers closed by the server {}",
        report.lost, report.duplicated, report.out_of_order, report.closed_subscribers
    );
    println!("{:.0} deliveries/s over {:.1} s", report.deliveries_per_second, report.seconds);
    if let Some(l) = &report.latency {
        println!("post → delivery ms: p50 {:.2}, p99 {:.2}, max {:.2}", l.p50, l.p99, l.max);
    }
    if let Some(w) = &report.written {
        println!("server post → written ms (its histogram, {} posts): p50 {:.2}, p99 {:.2}", w.posts, w.p50, w.p99);
    }
    if let Some(load) = report.load_cpu_seconds {
        println!("load generator CPU {load:.2} s over {:.1} s (its own share of the latencies)", report.seconds);
    }
    if let (Some(cpu), Some(per)) = (report.server_cpu_seconds, report.deliveries_per_server_cpu_second) {
        println!("server CPU {cpu:.2} s: {per:.0} deliveries per server CPU-second");
    }
}

pub async fn run(args: &FanoutArgs) -> std::process::ExitCode {
    match fanout(args).await {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print(&report);
            }
            if report.lost + report.duplicated + report.out_of_order == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("wallsocket-tools bench fanout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
