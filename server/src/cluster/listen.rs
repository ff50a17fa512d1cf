//! The listening half of the bus: every other node's messages handed to the hub (fallback
//! requests and answers to the fallback module), and Redis lost and found again. A connection
//! that hangs without closing is noticed too: this node hears its own heartbeat every few
//! seconds, so [`SILENT_MAX`] without any message means the subscription is dead.

use super::bus::{node_channel, BusBody, BusError, BusEvent, BusMessage, CHANNEL, CONNECT_TIMEOUT};
use super::NodeName;
use crate::metrics::Metrics;
use crate::store::now_ms;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Longest wait between two attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A subscription that hears nothing, not even this node's own heartbeat, for this long is
/// taken for dead and made again.
const SILENT_MAX: Duration = Duration::from_secs(10);

pub(super) async fn subscribe(client: &redis::Client, node: &NodeName) -> Result<redis::aio::PubSub, BusError> {
    let subscribing = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&[CHANNEL.to_owned(), node_channel(node)]).await?;
        Ok::<_, BusError>(pubsub)
    };
    timeout(CONNECT_TIMEOUT, subscribing).await.map_err(|_| BusError::Timeout(CONNECT_TIMEOUT))?
}

/// What the listening task needs.
pub(super) struct Listener {
    pub(super) client: redis::Client,
    pub(super) node: NodeName,
    pub(super) heard: mpsc::Sender<BusEvent>,
    /// Fallback requests and answers, for the fallback module rather than the hub.
    pub(super) forwarded: mpsc::Sender<(NodeName, BusBody)>,
    pub(super) metrics: Metrics,
}

impl Listener {
    /// Hands the hub every other node's messages; when Redis goes away, reconnects (backing
    /// off) and says so. Ends when the hub is gone.
    pub(super) async fn listen(self, mut pubsub: redis::aio::PubSub) {
        loop {
            let mut messages = pubsub.into_on_message();
            loop {
                let message = tokio::select! {
                    message = timeout(SILENT_MAX, messages.next()) => message,
                    () = self.heard.closed() => return,
                };
                let Ok(Some(message)) = message else { break };
                match serde_json::from_slice::<BusMessage>(message.get_payload_bytes()) {
                    Ok(message) if message.node == self.node => {}
                    Ok(BusMessage { node, body: body @ (BusBody::Forward { .. } | BusBody::Relay { .. }), .. }) => {
                        if self.forwarded.try_send((node, body)).is_err() {
                            tracing::warn!("fallback requests pile up; one was dropped (its client retries)");
                        }
                    }
                    Ok(message) => {
                        self.metrics.bus_heard();
                        if message.sent_ms > 0 {
                            self.metrics.bus_lag(now_ms().saturating_sub(message.sent_ms).max(0) as f64 / 1000.0);
                        }
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
