//! `wallsocket-tools bench idle`: opens C idle WebSockets and reports how much the server's
//! resident memory grew per connection. One process may hold at most 20,000 files here, so
//! the connections come from several worker processes (`bench idle-worker`), each from its
//! own 127.0.0.x source address (which also keeps each address's ephemeral ports plenty).

use super::proc::rss_bytes;
use super::socketio;
use super::wire::Protocol;
use super::Failure;
use clap::ValueEnum;
use futures::SinkExt;
use futures::StreamExt;
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Upgrades in flight at once per worker.
const CONNECT_WINDOW: usize = 64;

#[derive(clap::Args, Debug, Clone)]
pub struct IdleArgs {
    /// The server's base URL. Start it with --max-connections and --ip-connect-rate above C.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The server's process id: its RSS is what is measured (Linux /proc).
    #[arg(long)]
    pub server_pid: u32,
    /// Idle WebSockets to open.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub connections: u32,
    /// Connections per worker process (each worker uses its own source address).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=18_000))]
    pub per_process: u32,
    /// Seconds to let the server settle with every connection open before measuring.
    #[arg(long, default_value_t = 2)]
    pub settle_seconds: u64,
    /// The protocol the server speaks.
    #[arg(long, value_enum, default_value_t = Protocol::Wallsocket)]
    pub protocol: Protocol,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    #[arg(long)]
    pub url: String,
    #[arg(long, value_enum)]
    pub protocol: Protocol,
    #[arg(long)]
    pub connections: u32,
    /// Source address to connect from.
    #[arg(long)]
    pub source: Ipv4Addr,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub protocol: Protocol,
    pub connections: u32,
    pub processes: u32,
    pub rss_before: u64,
    pub rss_after: u64,
    pub bytes_per_connection: f64,
}

pub async fn run(args: &IdleArgs) -> std::process::ExitCode {
    super::finish("idle", args.json, idle(args).await, print)
}

pub async fn idle(args: &IdleArgs) -> Result<IdleReport, Failure> {
    let rss_before = rss_bytes(args.server_pid).ok_or("cannot read the server's RSS from /proc")?;
    let exe = std::env::current_exe()?;
    let processes = args.connections.div_ceil(args.per_process);
    let mut workers = Vec::new();
    for k in 0..processes {
        let n = args.per_process.min(args.connections - k * args.per_process);
        let source = Ipv4Addr::new(127, 0, 0, 2 + k as u8);
        let mut child = tokio::process::Command::new(&exe)
            .args(["bench", "idle-worker", "--url", &args.url, "--connections", &n.to_string()])
            .args(["--source", &source.to_string()])
            .args([
                "--protocol",
                args.protocol.to_possible_value().map_or("wallsocket".into(), |v| v.get_name().to_owned()).as_str(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("worker has no stdout")?;
        workers.push((child, BufReader::new(stdout).lines()));
    }
    for (_, lines) in &mut workers {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await?;
        match line?.as_deref() {
            Some("ready") => {}
            other => return Err(format!("a worker failed to open its connections: {other:?}").into()),
        }
    }
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let rss_after = rss_bytes(args.server_pid).ok_or("cannot read the server's RSS from /proc")?;
    for (mut child, _) in workers {
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }
    Ok(IdleReport {
        protocol: args.protocol,
        connections: args.connections,
        processes,
        rss_before,
        rss_after,
        bytes_per_connection: rss_after.saturating_sub(rss_before) as f64 / f64::from(args.connections),
    })
}

/// Opens the connections, says `ready`, keeps them (answering pings) until stdin closes.
pub async fn worker(args: &WorkerArgs) -> std::process::ExitCode {
    match hold(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            println!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn hold(args: &WorkerArgs) -> Result<(), Failure> {
    let authority = args.url.split("://").nth(1).unwrap_or(&args.url).split('/').next().unwrap_or_default();
    let server: SocketAddr =
        tokio::net::lookup_host(authority).await?.find(SocketAddr::is_ipv4).ok_or("the URL has no IPv4 address")?;
    let ws_url = match args.protocol {
        Protocol::Wallsocket => format!("{}/ws", args.url.trim_end_matches('/').replacen("http", "ws", 1)),
        Protocol::Socketio => socketio::ws_url(&args.url),
    };
    let sockets: Vec<_> = futures::stream::iter(0..args.connections)
        .map(|_| open(args.protocol, &ws_url, server, args.source))
        .buffer_unordered(CONNECT_WINDOW)
        .collect()
        .await;
    let mut readers = Vec::with_capacity(sockets.len());
    for socket in sockets {
        // Reading answers the server's pings (WebSocket pings by itself, Engine.IO's "2" here);
        // nothing else arrives on an idle socket.
        let mut socket = socket?;
        readers.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                if frame.to_text().ok() == Some("2") {
                    let _ = socket.send(Message::text(socketio::PONG)).await;
                }
            }
        }));
    }
    println!("ready");
    let mut rest = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut rest).await;
    for r in readers {
        r.abort();
    }
    Ok(())
}

async fn open(
    protocol: Protocol,
    url: &str,
    server: SocketAddr,
    source: Ipv4Addr,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, Failure> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let stream = socket.connect(server).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    match protocol {
        // The server's hello: the upgrade is complete and the session exists.
        Protocol::Wallsocket => {
            tokio::time::timeout(Duration::from_secs(30), ws.next()).await?.ok_or("closed before hello")??;
        }
        Protocol::Socketio => socketio::handshake(&mut ws).await?,
    }
    Ok(ws)
}

pub fn print(report: &IdleReport) {
    println!(
        "{} idle WebSockets from {} processes: server RSS {:.1} MiB → {:.1} MiB, {:.0} bytes ({:.2} KiB) \
         per connection",
        report.connections,
        report.processes,
        report.rss_before as f64 / 1048576.0,
        report.rss_after as f64 / 1048576.0,
        report.bytes_per_connection,
        report.bytes_per_connection / 1024.0
    );
}
