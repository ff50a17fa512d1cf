//! # wallsocket-tools
//!
//! What talks to a wallsocket server from outside, kept out of the server's binary: the
//! terminal client and the load generators. They depend on `app` only, for the protocol and
//! the room client.
//!
//! # Layout
//! - `main.rs` — the command line: `client` and `bench …`.
//! - `client.rs` — `wallsocket-tools client`, the terminal client: a driver over `app::room_client`.
//! - `identity.rs` — `client --identity PATH`: the names it claimed, kept across runs (0600).
//! - `bench/` — `wallsocket-tools bench speed|fanout|ingest|idle|compare|hostile`.
//! - `../peers/` — the benchmarks' socket.io (Node) and python-socketio servers.

mod bench;
mod client;
mod identity;

use clap::{Parser, Subcommand};

/// Tools for a wallsocket server: a terminal client and load generators.
#[derive(Parser, Debug)]
#[command(name = "wallsocket-tools", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Join a room from the terminal: prints posts as they come, posts each line typed.
    Client(client::ClientArgs),
    /// Measure a running server (see docs/BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Client(args) => client::run(args).await,
        Command::Bench(command) => bench::run(command).await,
    }
}
