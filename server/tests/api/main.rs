//! Integration tests: the real server on port 0, its own temporary database, native clients.

mod admission;
mod crash;
mod directory_bounds;
mod errors;
mod example;
mod fallback;
mod group_commit;
mod heartbeat;
mod helpers;
mod hostile;
mod hub;
mod joins;
mod lab;
mod observability;
mod pages;
mod persistence;
mod presence;
mod process;
mod replay;
mod resume;
mod room_page_cache;
mod slow;
mod stall;
mod store_health;
mod store_pools;
mod wall;
