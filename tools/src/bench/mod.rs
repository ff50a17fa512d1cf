//! `wallsocket-tools bench …`: native load generators for a running server (and, for `compare`,
//! for the socket.io peers in `tools/peers/`). See docs/BENCHMARKS.md.
//!
//! - `speed.rs` — N round trips over HTTP, WebSocket and SSE + POST.
//! - `fanout.rs` — one room, K subscribers, P publishers: deliveries, latency, loss, order.
//! - `ingest.rs` — publishers as fast as acks allow: durable acked posts per second.
//! - `idle.rs` — C idle WebSockets from several processes and source addresses: RSS each.
//! - `wire.rs` — joining, posting and reading frames in either protocol.
//! - `socketio.rs` — the Engine.IO v4 / Socket.IO client used against the peers.
//! - `hostile.rs` — the fan-out quiet and under attack (stalled readers, replays, junk rooms).
//! - `compare.rs` — starts wallsocket and the peers pinned to one core and prints one table.
//! - `floor.rs` — the floor peer: a bare axum broadcast, nothing stored (`bench floor-server`).
//! - `proc.rs` — CPU time and RSS from /proc; the machine and the commit.
//! - `written.rs` — the server's own post → written histogram, read from `/metrics`.

pub mod compare;
pub mod fanout;
pub mod floor;
pub mod hostile;
pub mod idle;
pub mod ingest;
pub mod proc;
pub mod socketio;
pub mod speed;
pub mod wire;
pub mod written;

use std::process::ExitCode;

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// N round trips over HTTP, WebSocket and SSE + POST against a running server.
    Speed(speed::SpeedArgs),
    /// K subscribers, P publishers in one room: deliveries/s, latency, loss and order.
    Fanout(fanout::FanoutArgs),
    /// Publishers posting as fast as acks allow: durable acked posts per second.
    Ingest(ingest::IngestArgs),
    /// C idle WebSockets, spread over processes and source addresses: server RSS each.
    Idle(idle::IdleArgs),
    /// One process's share of `idle` (started by `idle`, not by hand).
    #[command(hide = true)]
    IdleWorker(idle::WorkerArgs),
    /// The floor peer of `compare`: a bare axum broadcast speaking enough of wallsocket's
    /// protocol for the load generators, storing nothing (started by `compare`).
    FloorServer(floor::FloorArgs),
    /// The fan-out run quiet, then under attack from stalled readers, replaying joins and
    /// junk-room joins: legitimate clients' loss and p99, and the server's peak RSS.
    Hostile(hostile::HostileArgs),
    /// Starts wallsocket and the socket.io peers pinned to one core, runs the same fan-out
    /// against each, and prints one table with ratios.
    Compare(compare::CompareArgs),
}

pub async fn run(command: BenchCommand) -> ExitCode {
    match command {
        BenchCommand::Speed(args) => speed::run(&args).await,
        BenchCommand::Fanout(args) => fanout::run(&args).await,
        BenchCommand::Ingest(args) => ingest::run(&args).await,
        BenchCommand::Idle(args) => idle::run(&args).await,
        BenchCommand::IdleWorker(args) => idle::worker(&args).await,
        BenchCommand::FloorServer(args) => floor::run(&args).await,
        BenchCommand::Compare(args) => compare::run(&args).await,
        BenchCommand::Hostile(args) => hostile::run(&args).await,
    }
}

/// Prints the report as JSON or with `table`; exits non-zero on a harness error.
pub fn finish<T: serde::Serialize>(
    name: &str,
    json: bool,
    result: Result<T, Failure>,
    table: impl FnOnce(&T),
) -> ExitCode {
    match result {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                table(&report);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wallsocket-tools bench {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
