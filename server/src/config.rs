//! Command-line and environment configuration (`wallsocket --help`).

use crate::cluster::{ClusterConfig, NodeName};
use crate::proxies::TrustedProxies;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// wallsocket: post to a live wall in rooms, over WebSockets.
///
/// With no command, runs the server. Every server flag can also be set with the
/// environment variable shown beside it.
#[derive(Parser, Debug, Clone)]
#[command(name = "wallsocket", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the server (what `wallsocket` with no command does).
    Serve(Box<Config>),
    /// Manage moderators, on the server host, in the server's database.
    Moderator {
        #[command(subcommand)]
        action: ModeratorAction,
        /// The server's database (as for the server).
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/wallsocket.db", global = true)]
        database_url: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum ModeratorAction {
    /// Adds a moderator and prints their secret, once: they paste it on /moderate (or give
    /// it to a client) to delete any post and block. The database keeps only its hash.
    Add {
        /// The moderator's name, as the audit log shows it (1-32 characters).
        name: app::domain::Username,
    },
    /// Removes a moderator: their secret is worth nothing from now on, also on connections
    /// already signed in with it.
    Remove { name: app::domain::Username },
}

/// The server's settings.
#[derive(Parser, Debug, Clone)]
#[command(name = "wallsocket")]
pub struct Config {
    /// Address and port to listen on. Defaults to LEPTOS_SITE_ADDR (set by cargo-leptos),
    /// else 127.0.0.1:3000. Port 0 picks a free port.
    #[arg(long, env = "WALLSOCKET_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Where posts are stored: `sqlite://PATH` (the file and its directory are created if
    /// missing) or `postgres://USER@HOST:PORT/DB` (PostgreSQL, which several nodes can share:
    /// give each of them the same `--redis-url`).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/wallsocket.db")]
    pub database_url: String,

    /// Redis that the nodes of a cluster share (`redis://HOST:PORT`): every post stored by
    /// one node reaches the members on every node. Needs a PostgreSQL `--database-url`.
    /// Keep Redis private: anything that can publish on it can show posts to every member.
    #[arg(long, env = "WALLSOCKET_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's name in a cluster (letters, digits, `.`, `_`, `-`; unique per node).
    /// Defaults to a random one.
    #[arg(long, env = "WALLSOCKET_NODE_NAME")]
    pub node_name: Option<NodeName>,

    /// In a cluster: milliseconds a post that arrives before an earlier one waits for it
    /// before the missing posts are read from the database.
    #[arg(long, env = "WALLSOCKET_GAP_WAIT_MS", default_value_t = 50)]
    pub gap_wait_ms: u64,

    /// In a cluster: milliseconds between checks of the rooms with members on this node
    /// against the database, so a post whose node died before publishing it still arrives.
    #[arg(long, env = "WALLSOCKET_HEADS_CHECK_MS", default_value_t = 1_000)]
    pub heads_check_ms: u64,

    /// Origins allowed to open a WebSocket besides the server's own, comma-separated
    /// (e.g. https://example.com). `*` allows any origin. Requests without an Origin
    /// header (native clients) are always allowed.
    #[arg(long, env = "WALLSOCKET_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest WebSocket message accepted, in bytes; larger ones close the socket with 1009.
    #[arg(long, env = "WALLSOCKET_MAX_MESSAGE_BYTES", default_value_t = app::protocol::MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Frames queued for one client before it counts as too slow and is closed with 4001.
    #[arg(long, env = "WALLSOCKET_QUEUE_CAPACITY", default_value_t = 256)]
    pub queue_capacity: usize,

    /// Bytes queued for one client (frames waiting to be written) before it counts as too
    /// slow and is closed with 4001, whatever the frame count.
    #[arg(long, env = "WALLSOCKET_QUEUE_BYTES", default_value_t = 1 << 20)]
    pub queue_bytes: usize,

    /// Rooms one connection may be in at once; a join past it is refused with `too_many_rooms`.
    #[arg(long, env = "WALLSOCKET_MAX_ROOMS_PER_CONNECTION", default_value_t = 16)]
    pub max_rooms_per_connection: usize,

    /// Messages per second one connection may send, sustained.
    #[arg(long, env = "WALLSOCKET_RATE_PER_SEC", default_value = "20")]
    pub rate_per_sec: NonZeroU32,

    /// Messages one connection may send in a burst above the sustained rate.
    #[arg(long, env = "WALLSOCKET_RATE_BURST", default_value = "40")]
    pub rate_burst: NonZeroU32,

    /// Milliseconds a client has to send a request's headers before the connection is closed
    /// (protects against slowloris clients).
    #[arg(long, env = "WALLSOCKET_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// Milliseconds a POST request (body and answer) may take before it is answered 408:
    /// a client dribbling its body cannot hold a connection.
    #[arg(long, env = "WALLSOCKET_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,

    /// Milliseconds a connection may take no bytes from the server before it is dropped
    /// without a close frame (a stalled reader). Defaults to the ping timeout.
    #[arg(long, env = "WALLSOCKET_WRITE_TIMEOUT_MS")]
    pub write_timeout_ms: Option<u64>,

    /// Milliseconds a rendered room page is served again while no post was stored since;
    /// 0 renders every request.
    #[arg(long, env = "WALLSOCKET_PAGE_CACHE_MS", default_value_t = 1_000)]
    pub page_cache_ms: u64,

    /// Days a name's claim lasts unused; then anyone may take the name (a join under it
    /// renews the claim).
    #[arg(
        long,
        env = "WALLSOCKET_CLAIM_TTL_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    pub claim_ttl_days: u64,

    /// Posts one person (one claimed name) may store per minute, sustained, across all of
    /// their connections to this node; past it a post is refused `rate_limited`.
    #[arg(long, env = "WALLSOCKET_POSTS_PER_CLAIM_PER_MIN", default_value = "30")]
    pub posts_per_claim_per_min: NonZeroU32,

    /// Posts one person may store at once before `--posts-per-claim-per-min` applies (a
    /// pasted list of lines, say).
    #[arg(long, env = "WALLSOCKET_POSTS_PER_CLAIM_BURST", default_value = "100")]
    pub posts_per_claim_burst: NonZeroU32,

    /// Most long-lived connections open at once, all transports together (WebSockets, SSE
    /// streams, long-poll sessions, lesson sockets); past it they get HTTP 503. TCP
    /// connections are capped 1,024 above it.
    #[arg(long, env = "WALLSOCKET_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// New long-lived connections per second one client IP may open (bursts of twice that);
    /// more get 429.
    /// Behind a reverse proxy, list it in `--trusted-proxies` so each client is counted apart.
    #[arg(long, env = "WALLSOCKET_IP_CONNECT_RATE", default_value = "20")]
    pub ip_connect_rate: NonZeroU32,

    /// Proxies in front of this node whose `X-Forwarded-For` is believed, comma-separated
    /// addresses or networks (e.g. `127.0.0.1,10.0.0.0/8`): a connection from one of them is
    /// counted by `--ip-connect-rate` under the client address it names. None by default.
    #[arg(long, env = "WALLSOCKET_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,

    /// Milliseconds between the server's pings on each WebSocket.
    #[arg(long, env = "WALLSOCKET_PING_INTERVAL_MS", default_value_t = 20_000)]
    pub ping_interval_ms: u64,

    /// Milliseconds a client has to answer a ping before it is closed with 4002.
    #[arg(long, env = "WALLSOCKET_PING_TIMEOUT_MS", default_value_t = 20_000)]
    pub ping_timeout_ms: u64,

    /// Directory with the built site (JS, WASM, CSS, public files), made by cargo-leptos.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Milliseconds to wait on shutdown for sockets to receive their close frame.
    #[arg(long, env = "WALLSOCKET_SHUTDOWN_GRACE_MS", default_value_t = 5_000)]
    pub shutdown_grace_ms: u64,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info,wallsocket=debug`).
    #[arg(long, env = "WALLSOCKET_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The cluster settings, if `--redis-url` is given.
    pub fn cluster(&self) -> Option<ClusterConfig> {
        let redis_url = self.redis_url.clone()?;
        Some(ClusterConfig {
            redis_url,
            node: self.node_name.clone().unwrap_or_else(NodeName::random),
            gap_wait: Duration::from_millis(self.gap_wait_ms),
            heads_check: Duration::from_millis(self.heads_check_ms.max(10)),
        })
    }
}
