//! Builds the application (store, hub, router) and runs it until shutdown.
//!
//! `Application::build` binds first, so port 0 works and `port()` tells the real one;
//! tests start the real server this way. Tests that need no socket build the routes' state
//! with [`router_state`] and call [`routes::router`] directly.

use crate::claims::Claims;
use crate::cluster::bus::{BusError, Forwarding};
use crate::cluster::ClusterConfig;
use crate::config::Config;
use crate::fallback::HttpSessions;
use crate::gateway::Gateway;
use crate::heartbeat::Heartbeat;
use crate::hub::{ClusterLink, Hub, ALL_ROOMS_MAX};
use crate::lab::LabState;
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::origin::OriginPolicy;
use crate::page_cache::PageCache;
use crate::post_rate::PostRate;
use crate::routes::{self, AppState, RouteLimits, RouterState};
use crate::serve::ConnectionLimits;
use crate::session::{Limits, People};
use crate::store::{Store, StoreError};
use crate::wall_data::ServerWallData;
use crate::ws::{WsShared, WsState};
use app::api::WallData;
use axum::Router;
use leptos::prelude::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid Leptos configuration: {0}")]
    Leptos(String),
    #[error(
        "--redis-url joins this node to a cluster, whose nodes must share one database: \
         SQLite is one node's file. Use --database-url postgres://USER@HOST:PORT/DB \
         (or leave out --redis-url to run one node on SQLite)"
    )]
    ClusterNeedsPostgres,
    #[error(transparent)]
    Bus(#[from] BusError),
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    hub: Hub,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
    limits: ConnectionLimits,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let cluster = config.cluster();
        if cluster.is_some() && !Store::is_shared(&config.database_url) {
            return Err(StartupError::ClusterNeedsPostgres);
        }
        let mut leptos_options = leptos_options(&config)?;
        let addr = config.listen.unwrap_or(leptos_options.site_addr);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind { addr, source })?;
        leptos_options.site_addr = local;

        let store = Store::connect(&config.database_url).await?;
        let metrics = Metrics::default();
        let (hub, forwarding) = match cluster {
            Some(cluster) => {
                tracing::info!(node = %cluster.node, "joining the cluster");
                let (link, forwarding) = join_cluster(&cluster, &store, &metrics).await?;
                (Hub::spawn_clustered(store.clone(), metrics.clone(), link), Some(forwarding))
            }
            None => (Hub::spawn(store.clone(), metrics.clone()), None),
        };
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        // Read before the first connection: blocks hold from the first moment.
        let moderation = Moderation::load(store.clone()).await?;
        let node = Node { store: store.clone(), hub: hub.clone(), metrics, forwarding, moderation };
        let state = router_state(&config, node, leptos_options, shutdown.clone(), tracker.clone());
        let router = routes::router(state);
        Ok(Self {
            listener,
            router,
            store,
            hub,
            shutdown,
            tracker,
            grace: Duration::from_millis(config.shutdown_grace_ms),
            limits: ConnectionLimits {
                header_timeout: Duration::from_millis(config.header_read_timeout_ms.max(1)),
                write_timeout: Duration::from_millis(config.write_timeout_ms.unwrap_or(config.ping_timeout_ms).max(1)),
                max_open: config.max_connections.saturating_add(crate::serve::HTTP_HEADROOM),
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Cancel this token to stop the server: sockets get 1001, then `run_until_stopped` returns.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { listener, router, store, hub, shutdown, tracker, grace, limits } = self;
        tracing::info!(addr = %listener.local_addr()?, "listening");
        // Upgraded sockets outlive their HTTP requests: the drain waits for their close frames.
        let sockets = async move {
            tracker.close();
            if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
                tracing::warn!(open = tracker.len(), "sockets still open after the shutdown grace period");
            }
        };
        crate::serve::serve(listener, router, limits, shutdown.clone(), sockets).await;
        // Every socket is closed: in a cluster, the others hear this node's people leave now.
        hub.goodbye().await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The Leptos options from the workspace's metadata, serving the site at `--site-root`.
pub fn leptos_options(config: &Config) -> Result<LeptosOptions, StartupError> {
    let mut options = get_configuration(None).map_err(|e| StartupError::Leptos(e.to_string()))?.leptos_options;
    options.output_name = "wallsocket".into();
    options.site_root = config.site_root.to_string_lossy().as_ref().into();
    Ok(options)
}

/// Subscribes to the bus first, then reads every room's newest seq: a post stored after
/// that read is heard on the bus (or found by the heads check).
async fn join_cluster(
    cluster: &ClusterConfig,
    store: &Store,
    metrics: &Metrics,
) -> Result<(ClusterLink, Forwarding), StartupError> {
    let (bus, forwarding) =
        crate::cluster::bus::connect(&cluster.redis_url, cluster.node.clone(), metrics.clone()).await?;
    let heads = store.rooms(ALL_ROOMS_MAX).await?.into_iter().map(|t| (t.room, t.posts)).collect();
    Ok((ClusterLink { bus, heads, gap_wait: cluster.gap_wait, heads_check: cluster.heads_check }, forwarding))
}

/// A node's store, the hub running on it, its metrics, and (in a cluster) its way to the
/// other nodes' fallback sessions.
pub struct Node {
    pub store: Store,
    pub hub: Hub,
    pub metrics: Metrics,
    pub forwarding: Option<Forwarding>,
    pub moderation: Moderation,
}

impl Node {
    /// A node on its own on `store`: starts its hub.
    pub fn alone(store: Store) -> Self {
        let metrics = Metrics::default();
        let moderation = Moderation::unloaded(store.clone());
        Self { hub: Hub::spawn(store.clone(), metrics.clone()), store, metrics, forwarding: None, moderation }
    }
}

/// Everything the routes need, on `node`: starts the sweep of idle long-poll sessions (until
/// `shutdown`); connection tasks are tracked by `tracker`.
pub fn router_state(
    config: &Config,
    node: Node,
    leptos_options: LeptosOptions,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> RouterState {
    let Node { store, hub, metrics, forwarding, moderation } = node;
    let page_cache = PageCache::new(store.clone(), Duration::from_millis(config.page_cache_ms), metrics.clone());
    let origins = Arc::new(OriginPolicy::new(&config.allowed_origins));
    let proxies = config.trusted_proxies.clone();
    let (rate, max) = (config.ip_connect_rate, config.max_connections);
    let gateway = Gateway::new(origins, proxies, rate, max, shutdown.clone(), moderation.blocks().clone());
    let lab = LabState::new(gateway.clone(), shutdown.clone());
    let limits = Limits {
        max_message_bytes: config.max_message_bytes,
        queue_capacity: config.queue_capacity,
        rate_per_sec: config.rate_per_sec,
        rate_burst: config.rate_burst,
        ping_interval: Duration::from_millis(config.ping_interval_ms.max(1)),
        ping_timeout: Duration::from_millis(config.ping_timeout_ms.max(1)),
        queue_bytes: config.queue_bytes,
        max_rooms: config.max_rooms_per_connection,
    };
    let ws = WsState::new(WsShared {
        hub: hub.clone(),
        gateway,
        limits,
        heartbeat: Heartbeat::start(&limits, shutdown.clone()),
        people: Arc::new(People {
            claims: Claims::new(store.clone(), Duration::from_secs(config.claim_ttl_days.saturating_mul(86_400))),
            moderation: moderation.clone(),
            post_rate: PostRate::new(config.posts_per_claim_per_min, config.posts_per_claim_burst),
        }),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
        sessions: HttpSessions::default(),
        metrics,
        forwarder: forwarding.as_ref().map(|f| f.forwarder.clone()),
    });
    tokio::spawn(ws.sessions.clone().sweep(shutdown.clone()));
    tokio::spawn(ws.people.claims.clone().sweep(shutdown.clone()));
    tokio::spawn(moderation.clone().keep_loaded(shutdown.clone()));
    if let Some(Forwarding { forwarder, forwards }) = forwarding {
        tokio::spawn(crate::relay::answer_other_nodes(ws.clone(), forwarder, forwards));
    }
    let data: Arc<dyn WallData> = Arc::new(ServerWallData { store: store.clone(), hub, moderation });
    let request_timeout = Duration::from_millis(config.request_timeout_ms.max(1));
    let limits = RouteLimits { max_body: config.max_message_bytes, request_timeout };
    RouterState { app: AppState { leptos_options, ws }, lab, page_cache, data, limits }
}
