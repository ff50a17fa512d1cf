//! The hub on a node of a cluster (`--redis-url`): posts stored here are published and go out
//! here once the orderer releases them; the other nodes' posts and typing come from the bus;
//! gaps and the heads check are read from the store in tasks of their own, so the hub never
//! waits on I/O. A post's `ack` waits until the post itself has gone out on this node, so a
//! client always sees its post before its ack, as on one node.

use super::delivery::Kind;
use super::elsewhere::Presence;
use super::task::HubTask;
use super::HubError;
use crate::cluster::bus::{Bus, BusBody, BusEvent, Publisher};
use crate::cluster::order::{Gap, Order, OrderStats, Released};
use crate::cluster::snapshot::Snapshot;
use crate::cluster::NodeName;
use crate::store::{Entries, Store, StoreError};
use app::domain::RoomName;
use app::protocol::{Post, ServerMsg};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Gap reads under way at once (PostgreSQL's pool has 8 connections, shared with commits).
const GAP_READS: usize = 2;

/// Most rooms whose heads are read when a node starts or comes back to Redis: the rooms
/// beyond it (the least recently active) start from the first post they are heard with.
pub const ALL_ROOMS_MAX: u32 = 100_000;

/// What a clustered hub is started with.
pub struct ClusterLink {
    pub bus: Bus,
    /// Every room's newest stored seq, read after subscribing to the bus.
    pub heads: Vec<(RoomName, u64)>,
    pub gap_wait: Duration,
    pub heads_check: Duration,
}

type Reply = oneshot::Sender<Result<Post, HubError>>;

/// A sender waiting for its post to go out here before its ack.
struct AckAfter {
    reply: Reply,
    post: Post,
    /// When this node received it, for the delivery latency; `None` for a retry.
    received: Option<Instant>,
}

/// A store read done outside the hub.
pub(super) enum Read {
    Gap(Gap, Result<Entries, StoreError>),
    Heads(Result<Vec<(RoomName, u64)>, StoreError>),
    Snapshot(NodeName, Result<Option<Snapshot>, String>),
}

/// Why a clustered hub woke up, besides a command.
pub(super) enum Wake {
    Bus(BusEvent),
    BusClosed,
    GapsDue,
    HeadsDue,
    FlushPresence,
    Heartbeat,
    Read(Read),
}

pub(super) struct Clustered {
    publisher: Publisher,
    events: mpsc::Receiver<BusEvent>,
    listening: bool,
    pub(super) order: Order,
    acks: HashMap<(RoomName, u64), Vec<AckAfter>>,
    pub(super) presence: Presence,
    pub(super) reads: mpsc::Sender<Read>,
    /// Gap reads under way at once, at most [`GAP_READS`].
    gap_reads: Arc<Semaphore>,
    read_results: mpsc::Receiver<Read>,
    heads_every: Interval,
    heads_reading: bool,
    /// The orderer's totals last counted in the metrics.
    counted: OrderStats,
}

impl Clustered {
    pub(super) fn new(link: ClusterLink) -> Self {
        let ClusterLink { bus, heads, gap_wait, heads_check } = link;
        let (reads, read_results) = mpsc::channel(64);
        let mut heads_every = tokio::time::interval(heads_check.max(Duration::from_millis(10)));
        heads_every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            publisher: bus.publisher,
            events: bus.events,
            presence: Presence::new(bus.snapshots),
            gap_reads: Arc::new(Semaphore::new(GAP_READS)),
            listening: true,
            order: Order::new(gap_wait, heads),
            acks: HashMap::new(),
            reads,
            read_results,
            heads_every,
            heads_reading: false,
            counted: OrderStats::default(),
        }
    }

    pub(super) fn publish(&self, body: BusBody) {
        self.publisher.publish(body);
    }

    /// Whether presence this node published was lost since the last call.
    pub(super) fn presence_lost(&self) -> bool {
        self.publisher.take_presence_lost()
    }

    pub(super) fn goodbye(&self) -> oneshot::Receiver<()> {
        self.publisher.goodbye()
    }
}

/// Waits for whatever a clustered hub has to do next; never returns on one node.
pub(super) async fn wake(cluster: &mut Option<Clustered>) -> Wake {
    let Some(c) = cluster else { return std::future::pending().await };
    let due = c.order.due();
    tokio::select! {
        event = c.events.recv(), if c.listening => event.map_or(Wake::BusClosed, Wake::Bus),
        () = sleep_until(due) => Wake::GapsDue,
        _ = c.heads_every.tick() => Wake::HeadsDue,
        _ = c.presence.flush_every.tick() => Wake::FlushPresence,
        _ = c.presence.heartbeat_every.tick() => Wake::Heartbeat,
        Some(read) = c.read_results.recv() => Wake::Read(read),
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

impl HubTask {
    pub(super) fn on_wake(&mut self, wake: Wake) {
        let now = Instant::now();
        let wake = match wake {
            Wake::Bus(BusEvent::Heard(_, BusBody::Typing { room, username })) => {
                self.broadcast(&room.clone(), &ServerMsg::Typing { room, username }, Kind::Passing, None);
                return;
            }
            Wake::Bus(BusEvent::Heard(
                node,
                body @ (BusBody::Presence { .. } | BusBody::Heartbeat { .. } | BusBody::Goodbye),
            )) => {
                return self.heard_presence(node, body);
            }
            Wake::Bus(BusEvent::Reconnected) => {
                // Deletions published meanwhile were missed: cached pages may show them.
                self.store.heard_stored_elsewhere();
                self.republish_presence();
                wake
            }
            Wake::FlushPresence => return self.flush_presence(),
            Wake::Heartbeat => return self.heartbeat(),
            Wake::Read(Read::Snapshot(node, read)) => return self.snapshot_read(node, read),
            other => other,
        };
        let Some(c) = self.cluster.as_mut() else { return };
        let released = match wake {
            Wake::Bus(BusEvent::Heard(_, BusBody::Post { post })) => {
                self.store.heard_stored_elsewhere();
                c.order.offer(post, now)
            }
            Wake::Bus(BusEvent::Heard(_, BusBody::Deleted { room, seq })) => {
                self.store.heard_stored_elsewhere();
                c.order.removed(&room, seq, now)
            }
            Wake::Bus(BusEvent::Reconnected) => {
                read_heads(c, &self.store, None);
                Vec::new()
            }
            Wake::BusClosed => {
                c.listening = false;
                Vec::new()
            }
            Wake::Bus(BusEvent::Heard(..)) | Wake::FlushPresence | Wake::Heartbeat | Wake::Read(Read::Snapshot(..)) => {
                Vec::new()
            }
            Wake::GapsDue => {
                for gap in c.order.gaps(now) {
                    let (store, reads, turns) = (self.store.clone(), c.reads.clone(), c.gap_reads.clone());
                    tokio::spawn(async move {
                        // After a return to Redis every room may have a gap: a few reads at a
                        // time leave the pool's connections to the commits.
                        let _turn = turns.acquire_owned().await;
                        let limit = (gap.upto - gap.after) as u32;
                        let read = store.page(&gap.room, Some(gap.upto + 1), limit).await.map(|(entries, _)| entries);
                        let _ = reads.send(Read::Gap(gap, read)).await;
                    });
                }
                Vec::new()
            }
            Wake::HeadsDue => {
                let rooms: Vec<RoomName> = self.rooms.keys().cloned().collect();
                if !rooms.is_empty() {
                    read_heads(c, &self.store, Some(rooms));
                }
                Vec::new()
            }
            Wake::Read(Read::Gap(gap, Ok(read))) => c.order.filled(&gap, read.posts, read.removed, now),
            Wake::Read(Read::Gap(gap, Err(e))) => {
                tracing::warn!(room = %gap.room, error = %e, "reading a gap in a room's posts failed");
                c.order.fill_failed(&gap, now)
            }
            Wake::Read(Read::Heads(heads)) => {
                c.heads_reading = false;
                match heads {
                    Ok(heads) => heads.into_iter().flat_map(|(room, head)| c.order.head(&room, head, now)).collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the rooms' newest seqs failed");
                        Vec::new()
                    }
                }
            }
        };
        let stats = c.order.stats();
        self.metrics.gaps("filled_after_bus_gap", stats.fills_after_bus - c.counted.fills_after_bus);
        self.metrics.gaps("filled_after_heads_check", stats.fills_after_heads - c.counted.fills_after_heads);
        self.metrics.gaps("given_up", stats.given_up - c.counted.given_up);
        let gave_up = stats.given_up > c.counted.given_up;
        c.counted = stats;
        self.deliver(released);
        if gave_up {
            self.settle_acks();
        }
    }

    /// Answers every sender whose post's seq a given-up gap passed over: it will not go out
    /// here, and its sender must not wait for ever.
    fn settle_acks(&mut self) {
        let Some(c) = self.cluster.as_mut() else { return };
        let passed: Vec<_> = c.acks.keys().filter(|(room, seq)| *seq <= c.order.delivered(room)).cloned().collect();
        for key in passed {
            for ack in c.acks.remove(&key).unwrap_or_default() {
                let _ = ack.reply.send(Ok(ack.post));
            }
        }
    }

    /// A post this node stored (`received` when it came in) or found already stored (a retry,
    /// `None`): published if new, and answered once it has gone out here.
    pub(super) fn stored_here(&mut self, post: Post, new: bool, received: Instant, reply: Reply) {
        let Some(c) = self.cluster.as_mut() else { return };
        if post.seq <= c.order.delivered(&post.room) {
            let _ = reply.send(Ok(post));
            return;
        }
        if new {
            c.publish(BusBody::Post { post: post.clone() });
        }
        let key = (post.room.clone(), post.seq);
        let received = new.then_some(received);
        c.acks.entry(key).or_default().push(AckAfter { reply, post: post.clone(), received });
        let given_up = c.order.stats().given_up;
        let released = if new { c.order.offer(post, Instant::now()) } else { Vec::new() };
        let gave_up = c.order.stats().given_up > given_up;
        self.deliver(released);
        if gave_up {
            self.settle_acks();
        }
    }

    /// A post deleted on this node: told to the other nodes, and to members here once its
    /// seq's turn has come (at once if the post went out already).
    pub(super) fn removed_here(&mut self, room: &RoomName, seq: u64) {
        let Some(c) = self.cluster.as_mut() else { return };
        c.publish(BusBody::Deleted { room: room.clone(), seq });
        let released = c.order.removed(room, seq, Instant::now());
        self.deliver(released);
    }

    /// Broadcasts released posts and deletions in order, and acks each post's sender (a post
    /// deleted before it went out here is acked with its seq).
    fn deliver(&mut self, released: Vec<Released>) {
        for item in released {
            let post = match item {
                Released::Post(post) => post,
                Released::Removed { room, seq } => {
                    self.broadcast(&room, &ServerMsg::Deleted { room: room.clone(), seq }, Kind::Removal(seq), None);
                    let waiting = self.cluster.as_mut().and_then(|c| c.acks.remove(&(room, seq)));
                    for ack in waiting.into_iter().flatten() {
                        let _ = ack.reply.send(Err(HubError::Removed { seq }));
                    }
                    continue;
                }
            };
            let room = post.room.clone();
            let waiting = self.cluster.as_mut().and_then(|c| c.acks.remove(&(room, post.seq)));
            let received = waiting.iter().flatten().filter_map(|ack| ack.received).min();
            let queued = self.broadcast_post(&post, received);
            if waiting.is_none() {
                self.metrics.relayed(queued);
            }
            for ack in waiting.into_iter().flatten() {
                if let Some(received) = ack.received {
                    self.metrics.delivered(queued, received.elapsed().as_secs_f64());
                }
                let _ = ack.reply.send(Ok(post.clone()));
            }
        }
    }

    /// The room's last member here left: what waited for it goes out unordered (to nobody),
    /// and every sender still waiting in it is answered.
    pub(super) fn unfollow(&mut self, room: &RoomName) {
        let Some(c) = self.cluster.as_mut() else { return };
        let released = c.order.unfollow(room);
        let keys: Vec<_> = c.acks.keys().filter(|(r, _)| r == room).cloned().collect();
        let waiting: Vec<AckAfter> = keys.iter().flat_map(|k| c.acks.remove(k).unwrap_or_default()).collect();
        self.deliver(released);
        for ack in waiting {
            let _ = ack.reply.send(Ok(ack.post));
        }
    }
}

/// Reads the newest seq of `rooms` (of every room when `None`) in a task of its own, unless
/// a read is under way.
fn read_heads(c: &mut Clustered, store: &Store, rooms: Option<Vec<RoomName>>) {
    if c.heads_reading && rooms.is_some() {
        return;
    }
    c.heads_reading = true;
    let (store, reads) = (store.clone(), c.reads.clone());
    tokio::spawn(async move {
        let totals = match rooms {
            Some(rooms) => store.totals_of(&rooms).await,
            None => store.rooms(ALL_ROOMS_MAX).await,
        };
        let heads = totals.map(|t| t.into_iter().map(|t| (t.room, t.posts)).collect());
        let _ = reads.send(Read::Heads(heads)).await;
    });
}
