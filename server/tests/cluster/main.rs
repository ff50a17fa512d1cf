//! Tests that need services: PostgreSQL, Redis, several nodes. Each test starts what it needs
//! on free 127.0.0.1 ports in temp directories, and stops it. They are `#[ignore]`d so that a
//! plain `cargo test --workspace` needs no service; `scripts/test.sh` runs them with
//! `cargo test -p wallsocket --test cluster -- --ignored --test-threads=1`, after
//! `scripts/install-tools.sh --cluster` (a missing service fails them, never skips).
//!
//! - `postgres.rs`, `redis.rs`, `nginx.rs` — throwaway servers.
//! - `nodes.rs` — real `wallsocket` processes on them, and their clients.
//! - `store.rs` — the store's contract on PostgreSQL, two pools racing on one room.
//! - `fanout.rs` — posts, typing and joins across nodes; Redis going away.
//! - `presence.rs` — who is in a room, counted across nodes; a dead node leaves no ghosts.
//! - `fallbacks.rs` — SSE and long polling with requests landing on any node.
//! - `proxy.rs` — through nginx: the Origin check, a node killed mid-stream.
//! - `claims.rs` — a name claimed on one node is claimed on all; a race has one winner.

#[path = "../api/helpers.rs"]
#[allow(dead_code)] // The API tests use the rest.
mod helpers;

mod claims;
mod deleting;
mod fallbacks;
mod fanout;
mod nginx;
mod nodes;
mod postgres;
mod presence;
mod proxy;
mod redis;
mod store;
