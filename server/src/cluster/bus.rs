//! Redis pub/sub between nodes. Every node publishes each post it stored (after the commit)
//! and each typing notice on one channel, and hears every other node's.
//!
//! Nothing here is the record: a message lost (Redis restarting, a full outbox, a dropped
//! connection) is found again from the store by the hub's gap reads and heads check. So
//! publishing never makes the hub wait, and a listener that loses Redis reconnects by itself
//! and says so ([`BusEvent::Reconnected`]), for the hub to read what it missed.

use super::forward::{FallbackRequest, Forwarder, Relayed};
use super::listen::{subscribe, Listener};
use super::presence::{RoomPresence, Version};
use super::snapshot::{self, Snapshots};
use super::NodeName;
use crate::metrics::Metrics;
use crate::store::now_ms;
use app::domain::{RoomName, Username};
use app::protocol::Post;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// The one channel every node publishes on and listens to.
pub const CHANNEL: &str = "wallsocket:bus";
/// How long connecting (or subscribing) to Redis may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one round of publishing may take before the connection is dropped.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// Messages waiting to be published; past it they are dropped (and found again by the
/// heads check). A post is at most 8 KB, so this bounds the outbox at about 8 MB.
const OUTBOX: usize = 1024;
/// Messages heard but not yet taken by the hub; past it the listener waits, and Redis, whose
/// buffer for it then fills, drops the connection: the reconnect reads the gap from the store.
const HEARD: usize = 4096;
/// Most messages published in one round trip.
const PUBLISH_BATCH: usize = 256;

/// A node's own channel: fallback requests for its sessions, and answers to its requests.
pub fn node_channel(node: &NodeName) -> String {
    format!("wallsocket:node:{node}")
}

/// What travels between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusBody {
    /// A post, stored.
    Post { post: Post },
    /// A post, deleted (a tombstone now).
    Deleted { room: RoomName, seq: u64 },
    /// Someone on the sending node is typing.
    Typing { room: RoomName, username: Username },
    /// A room's people and watchers on the sending node, now.
    Presence { version: Version, room: RoomName, presence: RoomPresence },
    /// The sending node is alive, at this version of its presence.
    Heartbeat { version: Version },
    /// The sending node is stopping: its people have left every room.
    Goodbye,
    /// To a session's node: handle this fallback request for it (answer with `Relay`).
    Forward { id: u64, session: String, request: FallbackRequest },
    /// To the node that sent `Forward` `id`: the answer for its client.
    Relay { id: u64, reply: Relayed },
}

/// A message on the bus: who sent it, and what it says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct BusMessage {
    pub(super) node: NodeName,
    /// When it was published, in ms since the Unix epoch (for `wallsocket_bus_lag_seconds`).
    #[serde(default)]
    pub(super) sent_ms: i64,
    #[serde(flatten)]
    pub(super) body: BusBody,
}

/// What the listener hands the hub.
#[derive(Debug)]
pub enum BusEvent {
    /// Another node's message.
    Heard(NodeName, BusBody),
    /// The listener had lost Redis and is back: whatever was published meanwhile was missed.
    Reconnected,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach Redis at the --redis-url: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot encode a message for the bus: {0}")]
    Encode(String),
}

/// Publishes on the bus without waiting: a cloneable handle on the publishing task.
#[derive(Clone)]
pub struct Publisher {
    node: NodeName,
    outbox: mpsc::Sender<Outgoing>,
    metrics: Metrics,
    /// Set when presence (or a heartbeat) was dropped or failed to reach Redis: this node's
    /// snapshot may be wrong, so the hub publishes every room again.
    presence_lost: Arc<AtomicBool>,
}

/// A message to publish, and what to write to this node's snapshot first.
struct Outgoing {
    message: String,
    /// A room's presence to write (`None`: the room has nobody here any more).
    room: Option<(RoomName, Option<String>)>,
    /// The version to write, and the snapshot's life renewed.
    version: Option<String>,
    /// The snapshot deleted (the node is stopping).
    forget: bool,
    /// Told once published.
    done: Option<oneshot::Sender<()>>,
}

impl Publisher {
    /// Queues a message for the other nodes; if the outbox is full it is dropped (counted).
    pub fn publish(&self, body: BusBody) {
        let (room, version) = match &body {
            BusBody::Presence { version, room, presence } => {
                let here = (!presence.people.is_empty() || presence.watching > 0)
                    .then(|| serde_json::to_string(presence).unwrap_or_default());
                (Some((room.clone(), here)), Some(version))
            }
            BusBody::Heartbeat { version } => (None, Some(version)),
            BusBody::Post { .. }
            | BusBody::Deleted { .. }
            | BusBody::Typing { .. }
            | BusBody::Goodbye
            | BusBody::Forward { .. }
            | BusBody::Relay { .. } => (None, None),
        };
        let version = version.map(|v| serde_json::to_string(v).unwrap_or_default());
        let forget = matches!(body, BusBody::Goodbye);
        let presence = version.is_some();
        let message = BusMessage { node: self.node.clone(), sent_ms: now_ms(), body };
        let Ok(message) = serde_json::to_string(&message) else { return };
        if self.outbox.try_send(Outgoing { message, room, version, forget, done: None }).is_err() {
            self.metrics.bus_publish_failed(1);
            if presence {
                self.presence_lost.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether presence was lost since the last call: then every room is to be published
    /// again.
    pub fn take_presence_lost(&self) -> bool {
        self.presence_lost.swap(false, Ordering::Relaxed)
    }

    /// Tells the others this node is stopping, and drops its snapshot; the answer comes
    /// once Redis has it (or publishing failed).
    pub fn goodbye(&self) -> oneshot::Receiver<()> {
        let (done, sent) = oneshot::channel();
        let message = BusMessage { node: self.node.clone(), sent_ms: now_ms(), body: BusBody::Goodbye };
        let message = serde_json::to_string(&message).unwrap_or_default();
        let outgoing = Outgoing { message, room: None, version: None, forget: true, done: Some(done) };
        if self.outbox.try_send(outgoing).is_err() {
            self.metrics.bus_publish_failed(1);
        }
        sent
    }
}

/// The hub's link to the other nodes: publish through `publisher`, hear through `events`,
/// read their presence through `snapshots`.
pub struct Bus {
    pub publisher: Publisher,
    pub events: mpsc::Receiver<BusEvent>,
    pub snapshots: Snapshots,
}

/// The fallback transports' link to the other nodes: ask through `forwarder`; their requests
/// and answers come on `forwards`.
pub struct Forwarding {
    pub forwarder: Forwarder,
    pub forwards: mpsc::Receiver<(NodeName, BusBody)>,
}

/// Connects to Redis and subscribes (so nothing published from now on is missed), then
/// starts the publishing and listening tasks. Fails if Redis cannot be reached now.
pub async fn connect(url: &str, node: NodeName, metrics: Metrics) -> Result<(Bus, Forwarding), BusError> {
    let client = redis::Client::open(url)?;
    let snapshots = Snapshots::new(client.clone());
    snapshots.reset(&node).await?;
    let pubsub = subscribe(&client, &node).await?;
    let (outbox, queued) = mpsc::channel(OUTBOX);
    let (heard, events) = mpsc::channel(HEARD);
    let (forwarded, forwards) = mpsc::channel(HEARD);
    let presence_lost = Arc::new(AtomicBool::new(false));
    let publishing =
        Publishing { key: snapshot::key(&node), metrics: metrics.clone(), presence_lost: presence_lost.clone() };
    tokio::spawn(publishing.run(client.clone(), queued));
    let listener = Listener { client: client.clone(), node: node.clone(), heard, forwarded, metrics: metrics.clone() };
    tokio::spawn(listener.listen(pubsub));
    let forwarding = Forwarding { forwarder: Forwarder::new(node.clone(), client.clone()), forwards };
    let bus = Bus { publisher: Publisher { node, outbox, metrics, presence_lost }, events, snapshots };
    Ok((bus, forwarding))
}

/// The publishing task's state.
struct Publishing {
    /// This node's snapshot.
    key: String,
    metrics: Metrics,
    presence_lost: Arc<AtomicBool>,
}

impl Publishing {
    /// Publishes what is queued, several messages per round trip, each after what it writes
    /// to this node's snapshot; reconnects when a round fails.
    async fn run(self, client: redis::Client, mut queued: mpsc::Receiver<Outgoing>) {
        let mut connection = None;
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
            if connection.is_none() {
                let connecting = timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection()).await;
                connection = connecting.ok().and_then(Result::ok);
            }
            let sent = match connection.as_mut() {
                Some(redis) => self.round(redis, &mut batch).await,
                None => {
                    self.metrics.bus_publish_failed(batch.len() as u64);
                    if batch.iter().any(|o| o.version.is_some()) {
                        self.presence_lost.store(true, Ordering::Relaxed);
                    }
                    false
                }
            };
            if !sent {
                connection = None;
            }
            // Whatever happened, no one waits for these any more.
            batch.clear();
        }
    }

    /// One round trip for the batch (drained); false if it failed.
    async fn round(&self, redis: &mut redis::aio::MultiplexedConnection, batch: &mut Vec<Outgoing>) -> bool {
        let (count, key) = (batch.len() as u64, &self.key);
        let mut pipe = redis::pipe();
        let mut told = Vec::new();
        let mut presence = false;
        for Outgoing { message, room, version, forget, done } in batch.drain(..) {
            told.extend(done);
            if forget {
                pipe.cmd("DEL").arg(key).ignore();
            }
            match room {
                Some((room, Some(here))) => pipe.cmd("HSET").arg(key).arg(room.as_str()).arg(here).ignore(),
                Some((room, None)) => pipe.cmd("HDEL").arg(key).arg(room.as_str()).ignore(),
                None => &mut pipe,
            };
            if let Some(version) = version {
                presence = true;
                pipe.cmd("HSET").arg(key).arg(snapshot::VERSION_FIELD).arg(version).ignore();
                pipe.cmd("PEXPIRE").arg(key).arg(snapshot::TTL_MS).ignore();
            }
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(message).ignore();
        }
        let sent = matches!(timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(redis)).await, Ok(Ok(())));
        if sent {
            self.metrics.bus_published(count);
        } else {
            tracing::warn!("publishing on Redis failed; the other nodes read these posts from the store");
            self.metrics.bus_publish_failed(count);
            if presence {
                self.presence_lost.store(true, Ordering::Relaxed);
            }
        }
        for done in told {
            let _ = done.send(());
        }
        sent
    }
}
