//! # wallsocket's server
//!
//! # Layout
//! - `config.rs` — command-line flags and their environment variables; subcommands.
//! - `startup.rs` — `Application`: binds, opens the store, builds the routes' state (starting
//!   the hub) and the router, runs until the shutdown token is cancelled, then lets sockets
//!   close. `router_state` alone serves tests that call the router without a port.
//! - `serve.rs` — the accept loop: HTTP/1.1, a cap on TCP connections, header-read, write and
//!   POST deadlines, and a drain that answers 503 on stop.
//! - `linger.rs` — lingering close: drain what a peer still sends before closing, so it
//!   reads our last frame instead of a reset.
//! - `gateway.rs` — the one admission point for every long-lived transport: Origin,
//!   per-address connect rate, the global connection cap; an RAII permit per connection.
//! - `routes.rs` — every HTTP route in one place, and the layers every request passes:
//!   `router(RouterState) -> Router`.
//! - `ws.rs` — `GET /ws`: admission and upgrade; `/health`, `/metrics`.
//! - `upgrade.rs` — the WebSocket handshake by hand, so a connection owns tungstenite's stream.
//! - `fallback/` — SSE, long polling and `POST /x/send`, for when WebSockets are blocked.
//! - `relay.rs` — in a cluster, fallback requests for another node's session: asked of that
//!   node over Redis, its answer relayed; and this node answering the others' requests.
//! - `lab/` — the lessons' endpoints: echo, ticker, handshake capture, byte counts.
//! - `metrics.rs` — counters and histograms served at `/metrics`.
//! - `origin.rs` — the Origin allowlist.
//! - `proxies.rs` — `--trusted-proxies`: whose `X-Forwarded-For` names the client's address.
//! - `claims.rs` — name claims: a secret issued at a name's first use, checked on every
//!   later join under it; names compared after NFKC and lowercasing.
//! - `post_rate.rs` — each claim's post allowance, shared by all its connections.
//! - `moderation.rs` — moderators (added on the host, signed in with their secret), blocks
//!   of a post's author or of an address (kept in memory, reloaded), the audit log.
//! - `session.rs` — one client's protocol state, whatever the transport: decode, rate limit,
//!   answer through its hub `Member`; the per-connection `Limits`.
//! - `connection/` — one WebSocket, one task: frames in to its `Session`, its queue out to the
//!   socket (`write.rs`: bursts, pings, every close code; `pending.rs`: answers in order).
//! - `heartbeat.rs` — pings from one shared clock; `Pulse`, a connection's ping state machine.
//! - `queue.rs` — a connection's bounded outgoing queue; a full queue closes that client.
//! - `frame.rs` — a frame for clients, encoded and framed once however many it goes to.
//! - `hub/` — the actor that owns rooms and who is in them, stores posts in batches (group
//!   commit), in order, and broadcasts them; `Hub::connect` gives a connection its `Member`.
//! - `cluster/` — several nodes on one database: the Redis bus between them, the order each
//!   room's posts go out in, the node's name.
//! - `store/` — durable storage behind one handle: SQLite (the default) or PostgreSQL (shared
//!   by several nodes), each with its migrations (`migrations/sqlite/`, `migrations/postgres/`).
//! - `wall_data.rs` — what the pages' server functions read.
//! - `page_cache.rs` — room pages rendered once per second or per new post, not per request.
//! - `assets/` — the app's JS, WASM and CSS, compressed once (brotli or gzip) and kept
//!   (`kept.rs`); pages name them under the build's stamp (`stamp.rs`), cached for good.
//! - `qr.rs` — `GET /r/{room}/qr.svg`: the room's address as a QR code, for the projector.
//! - `telemetry.rs` — logging.

pub mod assets;
pub mod claims;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod fallback;
pub mod frame;
pub mod gateway;
pub mod heartbeat;
pub mod hub;
pub mod lab;
pub mod linger;
pub mod metrics;
pub mod moderation;
pub mod origin;
pub mod page_cache;
pub mod post_rate;
pub mod proxies;
pub mod qr;
pub mod queue;
pub mod relay;
pub mod routes;
pub mod serve;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod upgrade;
pub mod wall_data;
pub mod ws;
