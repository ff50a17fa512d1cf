//! # wallsocket's server
//!
//! # Layout
//! - `config.rs` — command-line flags and their environment variables; subcommands.
//! - `client.rs` — `wallsocket client`, the terminal client.
//! - `startup.rs` — `Application`: binds, opens the store, starts the hub, builds the router,
//!   runs until the shutdown token is cancelled, then lets sockets close.
//! - `ws.rs` — `GET /ws`: Origin check and upgrade.
//! - `origin.rs` — the Origin allowlist.
//! - `connection.rs` — one socket's reader: decode, rate limit, answer.
//! - `writer.rs` — one socket's writer: queue → socket, pings, every close code.
//! - `queue.rs` — a connection's bounded outgoing queue; a full queue closes that client.
//! - `hub.rs` — the actor that owns rooms, stores posts in order and broadcasts them.
//! - `store.rs` — SQLite storage with embedded migrations (`migrations/`).
//! - `wall_data.rs` — what the pages' server functions read.
//! - `telemetry.rs` — logging.

pub mod client;
pub mod config;
pub mod connection;
pub mod hub;
pub mod origin;
pub mod queue;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod wall_data;
pub mod writer;
pub mod ws;
