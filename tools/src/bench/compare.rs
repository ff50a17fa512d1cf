//! `wallsocket-tools bench compare`: starts wallsocket and each peer from `tools/peers/` in turn,
//! pinned to one core with `taskset`, puts the same fan-out and idle load on each, measures
//! wallsocket's durable ingest, and prints one table with ratios. Run the command itself on
//! another core (`taskset -c 1 wallsocket-tools bench compare`, as scripts/bench.sh does) so load
//! and server never share one.

use super::fanout::{FanoutArgs, FanoutReport, Protocol};
use super::idle::{IdleArgs, IdleReport};
use super::ingest::{IngestArgs, IngestReport};
use super::proc::{commit, machine};
use super::Failure;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Subscribers in the fan-out room.
    #[arg(long, default_value_t = 1000)]
    pub clients: u32,
    /// Publishers in the fan-out room.
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Posts per second per publisher.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// Post size in bytes.
    #[arg(long, default_value_t = 100)]
    pub size: u32,
    /// Seconds the publishers post.
    #[arg(long, default_value_t = 5)]
    pub seconds: u32,
    /// Idle connections opened on each server for the memory row (0 skips it).
    #[arg(long, default_value_t = 1000)]
    pub idle: u32,
    /// Seconds of wallsocket's durable-ingest run (0 skips it).
    #[arg(long, default_value_t = 5)]
    pub ingest_seconds: u32,
    /// The core every server is pinned to.
    #[arg(long, default_value_t = 0)]
    pub server_core: u32,
    /// Peers to measure beside wallsocket (comma-separated; empty for none).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "floor,socketio-node,python-socketio")]
    pub peers: Vec<Peer>,
    /// Where the peers live.
    #[arg(long, default_value = "tools/peers")]
    pub peers_dir: PathBuf,
    /// The wallsocket server binary to measure (a release build).
    #[arg(long, default_value = "target/release/wallsocket")]
    pub server_bin: PathBuf,
    /// The Python with python-socketio installed.
    #[arg(long, default_value = ".venv/bin/python")]
    pub python: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// A room-broadcast server to compare with.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// The floor: a bare axum broadcast on the same stack, storing and checking nothing
    /// (`wallsocket-tools bench floor-server`).
    Floor,
    /// Node.js socket.io 4.8 (tools/peers/socketio-node).
    SocketioNode,
    /// python-socketio 5 on aiohttp (tools/peers/python-socketio).
    PythonSocketio,
}

#[derive(Debug, Serialize)]
pub struct ServerResult {
    pub server: String,
    pub fanout: FanoutReport,
    pub idle: Option<IdleReport>,
}

#[derive(Debug, Serialize)]
pub struct CompareReport {
    pub machine: String,
    pub commit: String,
    pub servers: Vec<ServerResult>,
    pub ingest: Option<IngestReport>,
}

pub async fn run(args: &CompareArgs) -> std::process::ExitCode {
    let result = compare(args).await;
    let clean = result.as_ref().is_ok_and(|r| {
        r.servers.first().is_some_and(|w| w.fanout.lost + w.fanout.duplicated + w.fanout.out_of_order == 0)
    });
    let code = super::finish("compare", args.json, result, |r| print(args, r));
    if clean {
        code
    } else {
        std::process::ExitCode::FAILURE
    }
}

async fn compare(args: &CompareArgs) -> Result<CompareReport, Failure> {
    let mut servers = Vec::new();
    let mut ingest = None;
    let mut targets = vec![None];
    targets.extend(args.peers.iter().copied().map(Some));
    for target in targets {
        let server = Server::start(args, target).await?;
        let protocol = match target {
            None | Some(Peer::Floor) => Protocol::Wallsocket,
            Some(Peer::SocketioNode | Peer::PythonSocketio) => Protocol::Socketio,
        };
        // Idle first, on a fresh process: after the fan-out its heap is already grown.
        let idle = if args.idle > 0 {
            Some(
                super::idle::idle(&IdleArgs {
                    url: server.url.clone(),
                    server_pid: server.pid,
                    connections: args.idle,
                    per_process: 5000,
                    settle_seconds: 2,
                    protocol,
                    json: false,
                })
                .await?,
            )
        } else {
            None
        };
        let fanout = super::fanout::fanout(&FanoutArgs {
            url: server.url.clone(),
            protocol,
            clients: args.clients,
            rooms: 1,
            publishers: args.publishers,
            rate: args.rate,
            size: args.size,
            seconds: args.seconds,
            publish_url: None,
            also_url: Vec::new(),
            server_pid: vec![server.pid],
            room: None,
            json: false,
        })
        .await?;
        if target.is_none() && args.ingest_seconds > 0 {
            ingest = Some(
                super::ingest::ingest(&IngestArgs {
                    url: server.url.clone(),
                    publishers: 64,
                    window: 32,
                    size: args.size,
                    seconds: args.ingest_seconds,
                    server_pid: Some(server.pid),
                    json: false,
                })
                .await?,
            );
        }
        servers.push(ServerResult { server: server.name.clone(), fanout, idle });
        server.stop().await;
    }
    Ok(CompareReport { machine: machine(), commit: commit(), servers, ingest })
}

/// A server under test, pinned to `--server-core`, killed when dropped.
struct Server {
    name: String,
    url: String,
    pid: u32,
    child: tokio::process::Child,
    /// Its database and log; removed when it stops.
    dir: PathBuf,
}

impl Server {
    async fn start(args: &CompareArgs, peer: Option<Peer>) -> Result<Self, Failure> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = tokio::process::Command::new("taskset");
        command.args(["-c", &args.server_core.to_string()]).kill_on_drop(true);
        // Each server's output goes to a log file in its own temp dir, named if it fails.
        let dir = std::env::temp_dir().join(format!("wallsocket-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("server.log");
        let log = std::fs::File::create(log)?;
        command.stdout(log.try_clone()?).stderr(log);
        let name = match peer {
            None => {
                let db = format!("sqlite://{}/bench.db", dir.display());
                command.arg(&args.server_bin).args(["serve", "--listen", &listen, "--database-url", &db]);
                command.args(["--rate-per-sec", "1000000", "--rate-burst", "1000000", "--ip-connect-rate", "1000000"]);
                command.args(["--posts-per-claim-per-min", "1000000", "--posts-per-claim-burst", "1000000"]);
                command.args(["--max-connections", "19500", "--log", "warn"]);
                // No site: these runs load no pages, and the bundle's compression (on its first
                // request) must never count as fan-out CPU.
                command.arg("--site-root").arg(&dir);
                "wallsocket"
            }
            Some(Peer::Floor) => {
                command.arg(std::env::current_exe()?).args(["bench", "floor-server", "--listen", &listen]);
                "floor (bare axum)"
            }
            Some(Peer::SocketioNode) => {
                let dir = args.peers_dir.join("socketio-node");
                if !dir.join("node_modules").is_dir() {
                    return Err(format!("{} has no node_modules: run scripts/install-tools.sh", dir.display()).into());
                }
                command.arg("node").arg(dir.join("server.js")).arg(port.to_string());
                "socket.io (Node)"
            }
            Some(Peer::PythonSocketio) => {
                let script = args.peers_dir.join("python-socketio").join("server.py");
                command.arg(&args.python).arg(script).arg(port.to_string());
                "python-socketio"
            }
        };
        let child = command.spawn().map_err(|e| format!("cannot start {name} with taskset: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let server = Self { name: name.into(), url: format!("http://{listen}"), pid, child, dir };
        server.wait_until_listening(&listen).await?;
        Ok(server)
    }

    async fn wait_until_listening(&self, listen: &str) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(listen).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                let log = self.dir.join("server.log");
                return Err(
                    format!("{} did not listen on {listen} within 30 s; see {}", self.name, log.display()).into()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn print(args: &CompareArgs, report: &CompareReport) {
    println!("machine: {}; commit: {}; servers pinned to core {}", report.machine, report.commit, args.server_core);
    println!(
        "\nfan-out: {} subscribers in one room, {} publisher(s) × {} posts/s × {} s, {}-byte posts",
        args.clients, args.publishers, args.rate, args.seconds, args.size
    );
    println!(
        "{:<18} {:>11} {:>5} {:>5} {:>5} {:>10} {:>8} {:>8} {:>8} {:>7} {:>12} {:>13} {:>9}",
        "server",
        "deliveries",
        "lost",
        "dup",
        "order",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU s",
        "deliv/CPU-s",
        "wallsocket is",
        "gen CPU s"
    );
    let ours = report.servers.first().and_then(|s| s.fanout.deliveries_per_server_cpu_second);
    for s in &report.servers {
        let f = &s.fanout;
        let (p50, p99, max) = f.latency.as_ref().map_or((f64::NAN, f64::NAN, f64::NAN), |l| (l.p50, l.p99, l.max));
        let per_cpu = f.deliveries_per_server_cpu_second;
        let ratio = match (ours, per_cpu) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
            _ => "—".into(),
        };
        println!(
            "{:<18} {:>11} {:>5} {:>5} {:>5} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>7.2} {:>12.0} {:>13} {:>9.2}",
            s.server,
            f.deliveries,
            f.lost,
            f.duplicated,
            f.out_of_order,
            f.deliveries_per_second,
            p50,
            p99,
            max,
            f.server_cpu_seconds.unwrap_or(f64::NAN),
            per_cpu.unwrap_or(f64::NAN),
            ratio,
            f.load_cpu_seconds.unwrap_or(f64::NAN)
        );
    }
    if let Some(w) = report.servers.first().and_then(|s| s.fanout.written.as_ref()) {
        println!(
            "wallsocket's own post → written to the last member (server histogram, {} posts): \
             p50 {:.2} ms, p99 {:.2} ms",
            w.posts, w.p50, w.p99
        );
    }
    if args.idle > 0 {
        println!("\nidle: {} open connections per server", args.idle);
        println!("{:<18} {:>12} {:>12} {:>14}", "server", "RSS before", "RSS after", "bytes/conn");
        for s in &report.servers {
            if let Some(i) = &s.idle {
                println!(
                    "{:<18} {:>10.1} MiB {:>9.1} MiB {:>14.0}",
                    s.server,
                    i.rss_before as f64 / 1048576.0,
                    i.rss_after as f64 / 1048576.0,
                    i.bytes_per_connection
                );
            }
        }
    }
    if let Some(i) = &report.ingest {
        println!("\ningest (wallsocket only: the peers store nothing)");
        super::ingest::print(i);
    }
}
