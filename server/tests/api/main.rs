//! Integration tests: the real server on port 0, its own temporary database, native clients.

mod errors;
mod helpers;
mod hub;
mod pages;
mod persistence;
mod process;
mod wall;
