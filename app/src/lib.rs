//! # wallsocket's shared crate
//!
//! Compiled twice: into the server (feature `ssr`) and into the browser bundle (feature
//! `hydrate`). Whatever both sides must agree on lives here.
//!
//! # Layout
//! - `protocol.rs` — every WebSocket message, error code and close code; `decode_client`.
//! - `domain.rs` — validated types (`Username`, `RoomName`, `PostText`, `ClientId`).
//! - `api.rs` — server functions for the pages, and the `WallData` trait the server implements.
//! - `page_posts.rs` — a page's posts; on the server with each post's JSON, made once.
//! - `address.rs` — a room's public address from the request's `Host` (server only).
//! - `app.rs` — the HTML shell, router and page frame.
//! - `bundle.rs` — the shell's script that loads the JS and WASM after the first paint.
//! - `error.rs` — `AppError` (what can make a page fail, with its HTTP status) and the one
//!   `ErrorPage` every error shows.
//! - `room_client/` — every rule of a client in a room (resume, outbox, retries, presence,
//!   liveness, backoff) as a state machine without I/O; the browser's room socket and the
//!   terminal client drive it.
//! - `pages/` — one file per page; a page's browser half is `browser.rs` (`start(..)` returns
//!   its handle) with an inert twin `inert.rs` for the server's render; `wall_state.rs` holds
//!   a wall's state; `lazy.rs` holds the lessons' routes: lazy, each in a WASM chunk of its
//!   own, in the browser build of `cargo leptos … --split`, eager in a build without it (the
//!   `wasm_split` cfg `build.rs` sets); the server renders both alike.
//! - `components/` — badge, composer, post, presence, latency chart, username field, and
//!   `use_hydrated` (forms stay disabled until the page has hydrated).
//! - `client/` — browser only: the room socket over `room_client`, its transports
//!   (`link.rs`, `transport.rs`), the lessons' sockets, and storage.
//! - `stats.rs` — percentiles and histograms for the speed test and the lab.
//! - `lab.rs` — the wire types of the lessons (speed test, transport lab, inspector).
//! - `time.rs` — relative times.
//! - `../build.rs` — sets `cfg(wasm_split)` in the browser build of `--split`, so `lazy.rs`
//!   can tell the two builds apart.

// With lazy routes the browser build's view types nest past rustc's default depth of 128.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod address;
pub mod api;
pub mod app;
pub mod bundle;
#[cfg(feature = "hydrate")]
pub mod client;
pub mod components;
pub mod domain;
pub mod error;
pub mod lab;
mod page_posts;
pub mod pages;
pub mod protocol;
#[cfg(test)]
mod protocol_props;
pub mod room_client;
pub mod stats;
pub mod time;

pub use app::{shell, App};
