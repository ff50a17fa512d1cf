//! Several nodes on one database: what a node needs to hear every other node's posts and
//! deliver each room in order.
//!
//! # Layout
//! - `mod.rs` — [`ClusterConfig`] (from `--redis-url` and friends) and [`NodeName`].
//! - `bus.rs` — Redis pub/sub between nodes: what travels, and a [`bus::Publisher`] that
//!   never makes its caller wait.
//! - `listen.rs` — the listening half: reconnects by itself (also when the connection hangs)
//!   and says when it did.
//! - `snapshot.rs` — each node's presence snapshot in Redis, read by the others.
//! - `forward.rs` — fallback sessions without sticky sessions: a request for another node's
//!   session is handled by that node, over Redis, and its answer relayed.
//! - `presence.rs` — who is in each room on the other nodes: a replica of each node's own
//!   entries, versioned, dropped when a node goes silent: a plain state machine.
//! - `order.rs` — each room's posts in seq order and once, whatever order the bus brings them
//!   in: a plain state machine the hub drives (gap waits, gap reads, the heads check).

pub mod bus;
pub mod forward;
mod listen;
pub mod order;
pub mod presence;
pub mod snapshot;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a clustered node is told on its command line.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis_url: String,
    pub node: NodeName,
    /// How long a post beyond a missing seq waits for it before the gap is read.
    pub gap_wait: Duration,
    /// How often the rooms with members here are compared with the store.
    pub heads_check: Duration,
}

/// A node's name on the bus and in logs: 1 to 64 letters, digits, `.`, `_` or `-`. Each
/// node of a cluster needs its own; the default is random.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeName(String);

impl NodeName {
    /// A fresh random name, `node-` and 8 hex digits.
    pub fn random() -> Self {
        Self(format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
    }
}

impl FromStr for NodeName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.is_empty() || s.len() > 64 || !s.chars().all(allowed) {
            return Err(format!("{s:?} is not a node name: use 1 to 64 letters, digits, '.', '_' or '-'"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for NodeName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<NodeName> for String {
    fn from(name: NodeName) -> Self {
        name.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
