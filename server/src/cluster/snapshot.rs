//! Each node's presence snapshot in Redis: a hash `wallsocket:presence:NODE` with one field
//! per room that has anyone on that node (its people and watchers) and `!version`, renewed by
//! every heartbeat and dropped 30 s after the last. Other nodes read it when they missed one
//! of that node's messages, or met it for the first time.

use super::bus::BusError;
use super::presence::{RoomPresence, Version};
use super::NodeName;
use app::domain::RoomName;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::timeout;

/// A node's snapshot outlives its last heartbeat by this long, then Redis drops it.
pub const TTL_MS: u64 = 30_000;
/// The field holding the snapshot's version (room names cannot start with `!`).
pub const VERSION_FIELD: &str = "!version";
/// How long one read or reset of a snapshot may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where `node` keeps its snapshot.
pub fn key(node: &NodeName) -> String {
    format!("wallsocket:presence:{node}")
}

/// A node's presence snapshot: its version and each room's people on it.
pub type Snapshot = (Version, HashMap<RoomName, RoomPresence>);

/// Reads other nodes' snapshots from Redis.
#[derive(Clone)]
pub struct Snapshots {
    client: redis::Client,
}

impl Snapshots {
    pub fn new(client: redis::Client) -> Self {
        Self { client }
    }

    /// Drops what an earlier run of `node` left (a crashed run's people would otherwise be
    /// read back by the others); done once, before this run writes anything.
    pub async fn reset(&self, node: &NodeName) -> Result<(), BusError> {
        let resetting = async {
            let mut redis = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("DEL").arg(key(node)).query_async::<()>(&mut redis).await?;
            Ok::<_, BusError>(())
        };
        timeout(TIMEOUT, resetting).await.map_err(|_| BusError::Timeout(TIMEOUT))?
    }

    /// `node`'s snapshot; `None` if it has none (gone, or never had anyone).
    pub async fn read(&self, node: &NodeName) -> Result<Option<Snapshot>, BusError> {
        let reading = async {
            let mut redis = self.client.get_multiplexed_async_connection().await?;
            let fields: HashMap<String, String> = redis::cmd("HGETALL").arg(key(node)).query_async(&mut redis).await?;
            Ok::<_, BusError>(fields)
        };
        let mut fields = timeout(TIMEOUT, reading).await.map_err(|_| BusError::Timeout(TIMEOUT))??;
        let Some(version) = fields.remove(VERSION_FIELD).and_then(|v| serde_json::from_str(&v).ok()) else {
            return Ok(None);
        };
        let rooms = fields
            .into_iter()
            .filter_map(|(room, presence)| Some((room.parse().ok()?, serde_json::from_str(&presence).ok()?)))
            .collect();
        Ok(Some((version, rooms)))
    }
}
