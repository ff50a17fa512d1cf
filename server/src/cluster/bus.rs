//! Redis pub/sub between nodes. Every node publishes each post it stored (after the commit)
//! and each typing notice on one channel, and hears every other node's.
//!
//! Nothing here is the record: a message lost (Redis restarting, a full outbox, a dropped
//! connection) is found again from the store by the hub's gap reads and heads check. So
//! publishing never makes the hub wait, and a listener that loses Redis reconnects by itself
//! and says so ([`BusEvent::Reconnected`]), for the hub to read what it missed.

use super::forward::{FallbackRequest, Forwarder, Relayed};
use super::presence::{RoomPresence, Version};
use super::NodeName;
use crate::metrics::Metrics;
use crate::store::now_ms;
use app::domain::{RoomName, Username};
use app::protocol::Post;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// The one channel every node publishes on and listens to.
pub const CHANNEL: &str = "wallsocket:bus";
/// How long connecting (or subscribing) to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
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
/// Longest wait between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A node's presence snapshot outlives its last heartbeat by this long, then Redis drops it.
const SNAPSHOT_TTL_MS: u64 = 30_000;
/// The snapshot's field holding its version (room names cannot start with `!`).
const VERSION_FIELD: &str = "!version";

/// A node's own channel: fallback requests for its sessions, and answers to its requests.
pub fn node_channel(node: &NodeName) -> String {
    format!("wallsocket:node:{node}")
}

/// Where a node keeps its presence snapshot: each room's people on it, and the version.
fn snapshot_key(node: &NodeName) -> String {
    format!("wallsocket:presence:{node}")
}

/// What travels between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusBody {
    /// A post, stored.
    Post { post: Post },
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
            | BusBody::Typing { .. }
            | BusBody::Goodbye
            | BusBody::Forward { .. }
            | BusBody::Relay { .. } => (None, None),
        };
        let version = version.map(|v| serde_json::to_string(v).unwrap_or_default());
        let forget = matches!(body, BusBody::Goodbye);
        let message = BusMessage { node: self.node.clone(), sent_ms: now_ms(), body };
        let Ok(message) = serde_json::to_string(&message) else { return };
        if self.outbox.try_send(Outgoing { message, room, version, forget, done: None }).is_err() {
            self.metrics.bus_publish_failed(1);
        }
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

/// Reads other nodes' presence snapshots from Redis.
#[derive(Clone)]
pub struct Snapshots {
    client: redis::Client,
}

/// A node's presence snapshot: its version and each room's people on it.
pub type Snapshot = (Version, HashMap<RoomName, RoomPresence>);

impl Snapshots {
    /// `node`'s snapshot; `None` if it has none (gone, or never had anyone).
    pub async fn read(&self, node: &NodeName) -> Result<Option<Snapshot>, BusError> {
        let reading = async {
            let mut redis = self.client.get_multiplexed_async_connection().await?;
            let fields: HashMap<String, String> =
                redis::cmd("HGETALL").arg(snapshot_key(node)).query_async(&mut redis).await?;
            Ok::<_, BusError>(fields)
        };
        let mut fields = timeout(CONNECT_TIMEOUT, reading).await.map_err(|_| BusError::Timeout(CONNECT_TIMEOUT))??;
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
    let pubsub = subscribe(&client, &node).await?;
    let (outbox, queued) = mpsc::channel(OUTBOX);
    let (heard, events) = mpsc::channel(HEARD);
    let (forwarded, forwards) = mpsc::channel(HEARD);
    tokio::spawn(publish(client.clone(), snapshot_key(&node), queued, metrics.clone()));
    let listener = Listener { client: client.clone(), node: node.clone(), heard, forwarded, metrics: metrics.clone() };
    tokio::spawn(listener.listen(pubsub));
    let forwarding = Forwarding { forwarder: Forwarder::new(node.clone(), client.clone()), forwards };
    let bus = Bus { publisher: Publisher { node, outbox, metrics }, events, snapshots: Snapshots { client } };
    Ok((bus, forwarding))
}

async fn subscribe(client: &redis::Client, node: &NodeName) -> Result<redis::aio::PubSub, BusError> {
    let subscribing = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&[CHANNEL.to_owned(), node_channel(node)]).await?;
        Ok::<_, BusError>(pubsub)
    };
    timeout(CONNECT_TIMEOUT, subscribing).await.map_err(|_| BusError::Timeout(CONNECT_TIMEOUT))?
}

/// Publishes what is queued, several messages per round trip, each after what it writes to
/// this node's snapshot (`key`); reconnects when a round fails.
async fn publish(client: redis::Client, key: String, mut queued: mpsc::Receiver<Outgoing>, metrics: Metrics) {
    let mut connection = None;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while queued.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let count = batch.len() as u64;
        if connection.is_none() {
            let connecting = timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection()).await;
            connection = connecting.ok().and_then(Result::ok);
        }
        let Some(redis) = connection.as_mut() else {
            metrics.bus_publish_failed(count);
            batch.clear();
            continue;
        };
        let mut pipe = redis::pipe();
        let mut told = Vec::new();
        for Outgoing { message, room, version, forget, done } in batch.drain(..) {
            told.extend(done);
            if forget {
                pipe.cmd("DEL").arg(&key).ignore();
            }
            match room {
                Some((room, Some(presence))) => pipe.cmd("HSET").arg(&key).arg(room.as_str()).arg(presence).ignore(),
                Some((room, None)) => pipe.cmd("HDEL").arg(&key).arg(room.as_str()).ignore(),
                None => &mut pipe,
            };
            if let Some(version) = version {
                pipe.cmd("HSET").arg(&key).arg(VERSION_FIELD).arg(version).ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(SNAPSHOT_TTL_MS).ignore();
            }
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(message).ignore();
        }
        match timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(redis)).await {
            Ok(Ok(())) => metrics.bus_published(count),
            failed => {
                tracing::warn!(?failed, "publishing on Redis failed; the other nodes read these posts from the store");
                metrics.bus_publish_failed(count);
                connection = None;
            }
        }
        for done in told {
            let _ = done.send(());
        }
    }
}

/// What the listening task needs.
struct Listener {
    client: redis::Client,
    node: NodeName,
    heard: mpsc::Sender<BusEvent>,
    /// Fallback requests and answers, for the fallback module rather than the hub.
    forwarded: mpsc::Sender<(NodeName, BusBody)>,
    metrics: Metrics,
}

impl Listener {
    /// Hands the hub every other node's messages; when Redis goes away, reconnects (backing
    /// off) and says so. Ends when the hub is gone.
    async fn listen(self, mut pubsub: redis::aio::PubSub) {
        loop {
            let mut messages = pubsub.into_on_message();
            loop {
                let message = tokio::select! {
                    message = messages.next() => message,
                    () = self.heard.closed() => return,
                };
                let Some(message) = message else { break };
                match serde_json::from_slice::<BusMessage>(message.get_payload_bytes()) {
                    Ok(message) if message.node == self.node => {}
                    Ok(BusMessage { node, body: body @ (BusBody::Forward { .. } | BusBody::Relay { .. }), .. }) => {
                        if self.forwarded.try_send((node, body)).is_err() {
                            tracing::warn!("fallback requests pile up; one was dropped (its client retries)");
                        }
                    }
                    Ok(message) => {
                        self.metrics.bus_heard();
                        self.metrics.bus_lag((now_ms() - message.sent_ms).max(0) as f64 / 1000.0);
                        if self.heard.send(BusEvent::Heard(message.node, message.body)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignored a message on the bus that is not wallsocket's"),
                }
            }
            tracing::warn!("lost Redis; reconnecting");
            pubsub = match self.reconnect().await {
                Some(pubsub) => pubsub,
                None => return,
            };
            self.metrics.bus_reconnected();
            tracing::info!("back on Redis");
            if self.heard.send(BusEvent::Reconnected).await.is_err() {
                return;
            }
        }
    }

    /// Subscribes again, waiting longer after each failure; `None` if the hub is gone
    /// meanwhile.
    async fn reconnect(&self) -> Option<redis::aio::PubSub> {
        let mut backoff = Duration::from_millis(50);
        loop {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.heard.closed() => return None,
            }
            match subscribe(&self.client, &self.node).await {
                Ok(pubsub) => return Some(pubsub),
                Err(e) => tracing::debug!(error = %e, "Redis still unreachable"),
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
