//! Integration tests: the real server on port 0, its own temporary database, native clients.

mod cli;
mod crash;
mod errors;
mod fallback;
mod heartbeat;
mod helpers;
mod hostile;
mod hub;
mod pages;
mod lab;
mod observability;
mod persistence;
mod presence;
mod resume;
mod slow;
mod process;
mod wall;
