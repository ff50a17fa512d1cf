//! Tests that need services: PostgreSQL today (more as the cluster grows). Each test starts
//! what it needs on free 127.0.0.1 ports in temp directories, and stops it. They are
//! `#[ignore]`d so that a plain `cargo test --workspace` needs no service; `scripts/test.sh`
//! runs them with `cargo test -p wallsocket --test cluster -- --ignored --test-threads=1`,
//! after `scripts/install-tools.sh --cluster` (a missing service fails them, never skips).

mod postgres;
mod store;
