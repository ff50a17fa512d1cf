//! The one admission point for every long-lived transport: the wall's WebSocket, SSE and
//! long-poll sessions, and every lesson socket and stream. Each asks [`Gateway::admit`] for a
//! [`Permit`] before it starts and holds it for as long as it lives, so a new endpoint cannot
//! forget a check, and `--max-connections` counts every one of them.
//!
//! Handlers take a [`Permit`] as an extractor (the router's state provides the `Gateway`),
//! so a handler that holds one was admitted.
//!
//! Admission checks, in order: the Origin (a page on another site must not ride a user's
//! browser), shutdown (draining servers take nothing new), a moderator's block of the
//! address, the per-address connect rate, and the global cap. Requests that belong to
//! something already admitted (a `POST /x/send`, a poll of an open session) pass
//! [`Gateway::check_origin`] only.

use crate::moderation::{time_left, Blocks};
use crate::origin::OriginPolicy;
use crate::proxies::TrustedProxies;
use crate::store::{now_ms, BlockTarget};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Addresses remembered by the connect-rate limiter before stale ones are dropped.
const CONNECT_RATE_KEYS: usize = 10_000;

const TWO: NonZeroU32 = NonZeroU32::new(2).unwrap();

/// A cloneable handle on the admission state every transport shares.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    origins: Arc<OriginPolicy>,
    /// Whose `X-Forwarded-For` names the address the connect rate counts.
    proxies: TrustedProxies,
    connect_rate: DefaultKeyedRateLimiter<IpAddr>,
    open: AtomicUsize,
    max: usize,
    shutdown: CancellationToken,
    /// Addresses a moderator blocked.
    blocks: Blocks,
}

/// Why a new connection was turned away; each is its own HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403: a browser page from a site that is not allowed.
    ForeignOrigin,
    /// 503: the server is draining.
    ShuttingDown,
    /// 429: this address opened too many connections in the last seconds.
    RateLimited,
    /// 503: `--max-connections` are open.
    AtCapacity,
    /// 403: a moderator blocked this address until then (ms since the epoch).
    Blocked { until_ms: i64 },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::Blocked { until_ms } => {
                let left = time_left(until_ms, now_ms());
                return (StatusCode::FORBIDDEN, format!("this address is blocked for another {left}")).into_response();
            }
            Refusal::ForeignOrigin => (StatusCode::FORBIDDEN, "origin not allowed"),
            Refusal::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "server shutting down"),
            Refusal::RateLimited => {
                (StatusCode::TOO_MANY_REQUESTS, "too many new connections from your address; retry in a few seconds")
            }
            Refusal::AtCapacity => {
                (StatusCode::SERVICE_UNAVAILABLE, "the server is at its connection limit; retry later")
            }
        };
        (status, text).into_response()
    }
}

/// One admitted connection's slot, given back when the permit is dropped.
#[derive(Debug)]
pub struct Permit {
    inner: Arc<Inner>,
    /// The client's address (behind a trusted proxy, the one it names).
    address: IpAddr,
}

impl Permit {
    /// The admitted client's address: what a moderator's address block is checked against
    /// on every post, too.
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("open", &self.open).field("max", &self.max).finish()
    }
}

/// Admission as an extractor: a handler that takes a `Permit` only runs once admitted; a
/// refusal is the response.
impl<S> FromRequestParts<S> for Permit
where
    Gateway: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The accept loop records every peer; a request without one shares one bucket.
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Gateway::from_ref(state).admit(peer, &parts.headers)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.inner.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gateway {
    /// `connect_rate` new connections per second per address, in bursts of twice that.
    pub fn new(
        origins: Arc<OriginPolicy>,
        proxies: TrustedProxies,
        connect_rate: NonZeroU32,
        max: usize,
        shutdown: CancellationToken,
        blocks: Blocks,
    ) -> Self {
        let quota = Quota::per_second(connect_rate).allow_burst(connect_rate.saturating_mul(TWO));
        let connect_rate = RateLimiter::keyed(quota);
        let inner = Inner { origins, proxies, connect_rate, open: AtomicUsize::new(0), max, shutdown, blocks };
        Self { inner: Arc::new(inner) }
    }

    /// Admits a new long-lived connection from `peer` (or, from a trusted proxy, from the
    /// client it names), or says why not.
    pub fn admit(&self, peer: IpAddr, headers: &HeaderMap) -> Result<Permit, Refusal> {
        self.check_origin(headers)?;
        let inner = &self.inner;
        let peer = inner.proxies.client(peer, headers);
        if let Some(until_ms) = inner.blocks.until(&BlockTarget::Address(peer), now_ms()) {
            tracing::info!(%peer, "refused a connection: a moderator blocked this address");
            return Err(Refusal::Blocked { until_ms });
        }
        if inner.connect_rate.check_key(&peer).is_err() {
            tracing::info!(%peer, "refused a connection: connection rate from this address");
            return Err(Refusal::RateLimited);
        }
        if inner.connect_rate.len() > CONNECT_RATE_KEYS {
            inner.connect_rate.retain_recent();
        }
        // Counted first, checked after: two racing admissions cannot both take the last slot.
        let permit = Permit { inner: Arc::clone(inner), address: peer };
        if inner.open.fetch_add(1, Ordering::Relaxed) >= inner.max {
            tracing::warn!(max = inner.max, "refused a connection: connection cap reached");
            return Err(Refusal::AtCapacity);
        }
        Ok(permit)
    }

    /// The checks for a request that belongs to an admitted connection: Origin and shutdown.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if !self.inner.origins.permits(headers) {
            tracing::info!("refused a request from a foreign origin");
            return Err(Refusal::ForeignOrigin);
        }
        if self.inner.shutdown.is_cancelled() {
            return Err(Refusal::ShuttingDown);
        }
        Ok(())
    }

    /// Connections holding a permit now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// The most permits out at once (`--max-connections`).
    pub fn max(&self) -> usize {
        self.inner.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn gateway(rate: u32, max: usize) -> (Gateway, CancellationToken) {
        let shutdown = CancellationToken::new();
        let rate = NonZeroU32::new(rate).unwrap();
        let origins = Arc::new(OriginPolicy::new(&[]));
        (Gateway::new(origins, TrustedProxies::default(), rate, max, shutdown.clone(), Blocks::default()), shutdown)
    }

    fn from(origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "wall.test".parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_permit_holds_a_slot_until_dropped() {
        let (gateway, _) = gateway(100, 2);
        let a = gateway.admit(PEER, &from(None)).unwrap();
        let _b = gateway.admit(PEER, &from(None)).unwrap();
        assert_eq!(gateway.admit(PEER, &from(None)).unwrap_err(), Refusal::AtCapacity);
        assert_eq!(gateway.open(), 2, "a refused admission gives its slot back");
        drop(a);
        assert!(gateway.admit(PEER, &from(None)).is_ok());
    }

    #[test]
    fn each_refusal_is_named() {
        let (gateway, shutdown) = gateway(1, 10);
        assert_eq!(gateway.admit(PEER, &from(Some("https://evil.test"))).unwrap_err(), Refusal::ForeignOrigin);
        let _a = gateway.admit(PEER, &from(Some("http://wall.test"))).unwrap();
        let _b = gateway.admit(PEER, &from(None)).unwrap();
        assert_eq!(gateway.admit(PEER, &from(None)).unwrap_err(), Refusal::RateLimited);
        shutdown.cancel();
        assert_eq!(gateway.check_origin(&from(None)).unwrap_err(), Refusal::ShuttingDown);
    }
}
