//! Operational metrics, served at `/metrics` in the Prometheus text format. One registry per
//! running server (no global state), so each test's server counts only its own traffic.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    pub code: u16,
}

/// What happened to messages on the bus between nodes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BusLabels {
    pub event: &'static str,
}

/// Why a gap in a room's seqs was read from the store, or that it was given up.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GapLabels {
    pub outcome: &'static str,
}

/// A cloneable handle on the server's metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    connections: Gauge,
    rooms: Gauge,
    posts: Counter,
    deleted: Counter,
    deliveries: Counter,
    overflows: Counter,
    closes: Family<CloseLabels, Counter>,
    post_to_delivery: Histogram,
    post_to_written: Histogram,
    commits: Counter,
    presence_bytes: Counter,
    page_cache_hits: Counter,
    page_cache_misses: Counter,
    bus: Family<BusLabels, Counter>,
    gaps: Family<GapLabels, Counter>,
    nodes: Gauge,
    bus_lag: Histogram,
}

/// Times a post from its arrival to the moment it is dropped. The post's shared frame owns
/// it, and each WebSocket writer lets go of its copy only after flushing it to the socket,
/// so the last copy dropped is the last member's write. A member that is closing (too slow,
/// silent, shut down) or gone lets go of its copy unwritten, and counts as done then; an SSE
/// or long-poll member counts when its frame is handed to the HTTP response.
#[derive(Debug)]
pub struct WrittenClock {
    received: std::time::Instant,
    histogram: Histogram,
}

impl Drop for WrittenClock {
    fn drop(&mut self) {
        self.histogram.observe(self.received.elapsed().as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wallsocket");
        let connections = Gauge::default();
        let rooms = Gauge::default();
        let posts = Counter::default();
        let deleted = Counter::default();
        let deliveries = Counter::default();
        let overflows = Counter::default();
        let commits = Counter::default();
        let presence_bytes = Counter::default();
        let page_cache_hits = Counter::default();
        let page_cache_misses = Counter::default();
        let closes = Family::<CloseLabels, Counter>::default();
        let bus = Family::<BusLabels, Counter>::default();
        let gaps = Family::<GapLabels, Counter>::default();
        let nodes = Gauge::default();
        // 50 µs … ~1.6 s, doubling.
        let bus_lag = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 16));
        // 50 µs … ~1.6 s, doubling.
        let post_to_delivery =
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 16));
        // 100 µs … ~21 s, a quarter apart: fine enough to read a p99 near 10 ms, and wide
        // enough for a member that takes nothing until it is closed (write deadline, ping).
        let post_to_written =
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_1, 1.25, 56));
        registry.register("connections", "Open WebSockets", connections.clone());
        registry.register("rooms", "Rooms with at least one member", rooms.clone());
        registry.register("posts", "Posts stored", posts.clone());
        registry.register("posts_deleted", "Posts deleted on this node (tombstones made)", deleted.clone());
        registry.register("deliveries", "Posts queued for a member", deliveries.clone());
        registry.register("commits", "Transactions that stored posts (posts / commits = mean batch)", commits.clone());
        registry.register("queue_overflows", "Clients closed because their queue was full", overflows.clone());
        registry.register(
            "presence_encoded_bytes",
            "Bytes of presence announcements encoded (each frame once, however many members get it)",
            presence_bytes.clone(),
        );
        registry.register("page_cache_hits", "Room pages served from the page cache", page_cache_hits.clone());
        registry.register(
            "page_cache_misses",
            "Room pages rendered because the cache had no fresh copy",
            page_cache_misses.clone(),
        );
        registry.register(
            "bus_messages",
            "Messages between nodes: published, publish_failed (found again from the store), heard, reconnects, \
             fallback requests relayed to their session's node or refused as its node was gone",
            bus.clone(),
        );
        registry.register(
            "gaps",
            "Gaps in a room's seqs read from the store (after a bus gap, after the heads check) or given up",
            gaps.clone(),
        );
        registry.register(
            "bus_lag_seconds",
            "From another node publishing a message to this node hearing it (the nodes' clocks must agree)",
            bus_lag.clone(),
        );
        registry.register(
            "cluster_nodes",
            "Other nodes of the cluster heard from (heartbeat within 10 s)",
            nodes.clone(),
        );
        registry.register("closes", "WebSockets closed by the server, by close code", closes.clone());
        registry.register(
            "post_to_delivery_seconds",
            "From receiving a post to queueing it for every member (stored in between)",
            post_to_delivery.clone(),
        );
        registry.register(
            "post_to_written_seconds",
            "From a connection handing a post over to its frame flushed to the last member's socket (stored in \
             between; posts of other nodes are not timed)",
            post_to_written.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                connections,
                rooms,
                posts,
                deleted,
                deliveries,
                overflows,
                closes,
                post_to_delivery,
                post_to_written,
                commits,
                presence_bytes,
                page_cache_hits,
                page_cache_misses,
                bus,
                gaps,
                nodes,
                bus_lag,
            }),
        }
    }
}

impl Metrics {
    pub fn post_stored(&self) {
        self.inner.posts.inc();
    }

    pub fn post_deleted(&self) {
        self.inner.deleted.inc();
    }

    pub fn delivered(&self, members: u64, seconds: f64) {
        self.inner.deliveries.inc_by(members);
        self.inner.post_to_delivery.observe(seconds);
    }

    /// A clock for a post received at `received`, observed when dropped (see [`WrittenClock`]).
    pub fn written_clock(&self, received: std::time::Instant) -> WrittenClock {
        WrittenClock { received, histogram: self.inner.post_to_written.clone() }
    }

    /// Another node's post queued for this node's members.
    pub fn relayed(&self, members: u64) {
        self.inner.deliveries.inc_by(members);
    }

    /// A group commit of posts finished.
    pub fn committed(&self) {
        self.inner.commits.inc();
    }

    pub fn presence_encoded(&self, bytes: u64) {
        self.inner.presence_bytes.inc_by(bytes);
    }

    pub fn page_cache_hit(&self) {
        self.inner.page_cache_hits.inc();
    }

    pub fn page_cache_miss(&self) {
        self.inner.page_cache_misses.inc();
    }

    pub fn overflowed(&self) {
        self.inner.overflows.inc();
    }

    pub fn bus_published(&self, messages: u64) {
        self.bus_event("published", messages);
    }

    pub fn bus_publish_failed(&self, messages: u64) {
        self.bus_event("publish_failed", messages);
    }

    pub fn bus_heard(&self) {
        self.bus_event("heard", 1);
    }

    pub fn bus_reconnected(&self) {
        self.bus_event("reconnects", 1);
    }

    /// A fallback request for another node's session: relayed, or refused as its node was gone.
    pub fn forwarded(&self, relayed: bool) {
        self.bus_event(if relayed { "forward_relayed" } else { "forward_owner_gone" }, 1);
    }

    /// Other nodes this node hears from now.
    pub fn nodes_seen(&self, nodes: usize) {
        self.inner.nodes.set(nodes as i64);
    }

    fn bus_event(&self, event: &'static str, count: u64) {
        self.inner.bus.get_or_create(&BusLabels { event }).inc_by(count);
    }

    /// Gaps in a room's seqs: read from the store after a bus gap or the heads check, or
    /// given up (deltas of the orderer's totals).
    pub fn gaps(&self, outcome: &'static str, count: u64) {
        if count > 0 {
            self.inner.gaps.get_or_create(&GapLabels { outcome }).inc_by(count);
        }
    }

    /// How long a message took from its node's publisher to this node's listener.
    pub fn bus_lag(&self, seconds: f64) {
        self.inner.bus_lag.observe(seconds);
    }

    pub fn closed(&self, code: u16) {
        self.inner.closes.get_or_create(&CloseLabels { code }).inc();
    }

    /// The text exposition, with the gauges set to the given current values.
    pub fn render(&self, connections: usize, rooms: usize) -> String {
        self.inner.connections.set(connections as i64);
        self.inner.rooms.set(rooms as i64);
        let mut out = String::new();
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}
