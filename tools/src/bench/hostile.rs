//! `wallsocket-tools bench hostile`: the fan-out run twice against one running server, once quiet
//! and once while hostile clients work at their limits from the same load generator:
//! stalled readers in the fan-out room (a tiny receive window, never read), replayers
//! (join a room of large posts with `since=0`, leave, again) and junk-room joiners (16 rooms
//! at a time, then 16 others). Reports the legitimate clients' deliveries, loss and p99 in
//! both runs and the server's peak RSS. Every attacker stops when the second run ends.

use super::fanout::{fanout, FanoutArgs, FanoutReport};
use super::proc::peak_rss_bytes;
use super::wire::{joined, Socket};
use super::Failure;
use app::protocol::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Messages per second each attacker sends: the default per-connection rate limit.
const ATTACK_RATE: u32 = 20;

#[derive(clap::Args, Debug, Clone)]
pub struct HostileArgs {
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// Stalled readers in the fan-out room.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub stalled: u32,
    /// Clients replaying the large room.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub replayers: u32,
    /// Clients joining junk rooms.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub junk: u32,
    /// Posts of 8 KB in the room the replayers replay.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub replay_posts: u32,
}

#[derive(Debug, Serialize)]
pub struct HostileReport {
    pub quiet: FanoutReport,
    pub attacked: FanoutReport,
    pub stalled: u32,
    pub replayers: u32,
    pub junk: u32,
    /// Joins the attackers sent that the server answered (`joined` or a typed refusal).
    pub attack_joins_answered: u64,
    pub server_peak_rss_bytes: Option<u64>,
}

pub async fn run(args: &HostileArgs) -> std::process::ExitCode {
    let result = hostile(args).await;
    let clean = result.as_ref().is_ok_and(|r| [&r.quiet, &r.attacked].iter().all(|f| clean(f)));
    let code = super::finish("hostile", args.fanout.json, result, print);
    if clean {
        code
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn clean(report: &FanoutReport) -> bool {
    report.lost + report.duplicated + report.out_of_order == 0
}

async fn hostile(args: &HostileArgs) -> Result<HostileReport, Failure> {
    let ws_url = format!("{}/ws", args.fanout.url.trim_end_matches('/').replacen("http", "ws", 1));
    let replay_room = fresh("replay");
    seed(&ws_url, &replay_room, args.replay_posts).await?;
    let quiet = fanout(&FanoutArgs { room: Some(fresh("quiet")), ..args.fanout.clone() }).await?;

    let room = fresh("attacked");
    let stop = CancellationToken::new();
    let mut stalled = Vec::new();
    for i in 0..args.stalled {
        stalled.push(stalled_reader(&args.fanout.url, &room, i).await?);
    }
    let mut attackers = Vec::new();
    for i in 0..args.replayers {
        attackers.push(tokio::spawn(replayer(ws_url.clone(), replay_room.clone(), i, stop.clone())));
    }
    for i in 0..args.junk {
        attackers.push(tokio::spawn(junk_joiner(ws_url.clone(), i, stop.clone())));
    }
    let attacked = fanout(&FanoutArgs { room: Some(room), ..args.fanout.clone() }).await;
    stop.cancel();
    drop(stalled);
    let mut answered = 0;
    for attacker in attackers {
        answered += attacker.await??;
    }
    Ok(HostileReport {
        quiet,
        attacked: attacked?,
        stalled: args.stalled,
        replayers: args.replayers,
        junk: args.junk,
        attack_joins_answered: answered,
        server_peak_rss_bytes: args.fanout.server_pid.first().copied().and_then(peak_rss_bytes),
    })
}

fn fresh(what: &str) -> String {
    format!("hostile-{what}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Fills `room` with `posts` posts of 8 KB (2,000 four-byte characters), 50 in flight.
async fn seed(ws_url: &str, room: &str, posts: u32) -> Result<(), Failure> {
    let mut ws = joined(ws_url, room, "seeder".into()).await?;
    let text = "😀".repeat(2_000);
    for start in (0..posts).step_by(50) {
        let batch = 50.min(posts - start);
        for i in start..start + batch {
            let post = serde_json::json!({ "type": "post", "room": room, "text": text, "client_id": format!("s{i}") });
            ws.send(Message::text(post.to_string())).await?;
        }
        let mut acked = 0;
        while acked < batch {
            if let ServerMsg::Ack { .. } = next_msg(&mut ws).await? {
                acked += 1;
            }
        }
    }
    Ok(())
}

/// A WebSocket with a 4 KiB receive buffer that joins `room` and then reads nothing.
async fn stalled_reader(base: &str, room: &str, i: u32) -> Result<Socket, Failure> {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let stream = socket.connect(addr.parse()?).await?;
    let url = format!("ws://{addr}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await?;
    let join = ClientMsg::Join {
        room: room.parse()?,
        username: Some(super::wire::run_name(&format!("stalled{i}")).parse()?),
        since: None,
        claim: None,
        from: None,
    };
    ws.send(Message::text(serde_json::to_string(&join)?)).await?;
    while !matches!(next_msg(&mut ws).await?, ServerMsg::Joined { .. }) {}
    Ok(ws)
}

/// Joins `room` with `since=0`, leaves, and again, at [`ATTACK_RATE`]; returns the joins
/// answered.
async fn replayer(ws_url: String, room: String, i: u32, stop: CancellationToken) -> Result<u64, Failure> {
    let mut ws = tokio_tungstenite::connect_async(&ws_url).await?.0;
    let join = serde_json::json!({ "type": "join", "room": room, "username": format!("replayer{i}"), "since": 0 });
    let leave = serde_json::json!({ "type": "leave", "room": room });
    let mut answered = 0;
    while !stop.is_cancelled() {
        if exchange(&mut ws, &join, |m| matches!(m, ServerMsg::Joined { .. } | ServerMsg::Error { .. })).await? {
            answered += 1;
        }
        exchange(&mut ws, &leave, |m| matches!(m, ServerMsg::Left { .. } | ServerMsg::Error { .. })).await?;
    }
    Ok(answered)
}

/// Joins 16 junk rooms, leaves them, joins 16 others, at [`ATTACK_RATE`]; returns the joins
/// answered.
async fn junk_joiner(ws_url: String, i: u32, stop: CancellationToken) -> Result<u64, Failure> {
    let mut ws = tokio_tungstenite::connect_async(&ws_url).await?.0;
    let mut answered = 0;
    for round in 0u64.. {
        let rooms: Vec<String> = (0..16).map(|r| format!("junk-{i}-{round}-{r}")).collect();
        for room in &rooms {
            if stop.is_cancelled() {
                return Ok(answered);
            }
            let join = serde_json::json!({ "type": "join", "room": room, "username": format!("junk{i}") });
            if exchange(&mut ws, &join, |m| matches!(m, ServerMsg::Joined { .. } | ServerMsg::Error { .. })).await? {
                answered += 1;
            }
        }
        for room in &rooms {
            let leave = serde_json::json!({ "type": "leave", "room": room });
            exchange(&mut ws, &leave, |m| matches!(m, ServerMsg::Left { .. } | ServerMsg::Error { .. })).await?;
        }
    }
    Ok(answered)
}

/// Sends `msg`, waits one attack tick, and reads until an answer `is_answer` accepts (true)
/// or 10 s pass (false).
async fn exchange(
    ws: &mut Socket,
    msg: &serde_json::Value,
    is_answer: fn(&ServerMsg) -> bool,
) -> Result<bool, Failure> {
    ws.send(Message::text(msg.to_string())).await?;
    tokio::time::sleep(Duration::from_secs(1) / ATTACK_RATE).await;
    let answer = async {
        loop {
            if is_answer(&next_msg(ws).await?) {
                return Ok::<_, Failure>(());
            }
        }
    };
    Ok(tokio::time::timeout(Duration::from_secs(10), answer).await.is_ok())
}

/// The next server message, skipping pings; an error when the socket closes or is silent.
async fn next_msg(ws: &mut Socket) -> Result<ServerMsg, Failure> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws.next()).await?.ok_or("closed")??;
        if let Message::Text(text) = frame {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}

fn print(report: &HostileReport) {
    let (q, a) = (&report.quiet, &report.attacked);
    let p99 = |f: &FanoutReport| f.latency.as_ref().map_or(f64::NAN, |l| l.p99);
    println!(
        "attackers: {} stalled readers, {} replayers, {} junk-room joiners ({} of their joins answered)",
        report.stalled, report.replayers, report.junk, report.attack_joins_answered
    );
    println!("| | quiet | under attack |");
    println!("| --- | ---: | ---: |");
    println!("| deliveries/s | {:.0} | {:.0} |", q.deliveries_per_second, a.deliveries_per_second);
    println!(
        "| lost / duplicated / out of order | {} / {} / {} | {} / {} / {} |",
        q.lost, q.duplicated, q.out_of_order, a.lost, a.duplicated, a.out_of_order
    );
    println!("| post → delivery p99 ms | {:.2} | {:.2} |", p99(q), p99(a));
    println!("p99 under attack / quiet: {:.2}× (goal ≤ 2×)", p99(a) / p99(q));
    if let Some(peak) = report.server_peak_rss_bytes {
        println!("server peak RSS: {:.1} MiB (goal < 512 MiB)", peak as f64 / (1024.0 * 1024.0));
    }
}
