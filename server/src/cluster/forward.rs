//! Fallback sessions without sticky sessions. An SSE or long-poll session lives on the node
//! that opened it, and its id names that node (`NODE~ID`). A node that gets `POST /x/send` or
//! `GET /x/poll` for another node's session asks that node over Redis, on the node's own
//! channel, and relays the answer. Redis says how many subscribers a message reached: none
//! means the owner is gone (its connection to Redis died with it), and the client is told
//! `unknown_session` at once, to open a session here and resume with `since`.

use super::bus::{node_channel, BusBody, BusError, BusMessage};
use super::NodeName;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::timeout;

/// Separates a session id's node from the rest; node names cannot hold it.
const NODE_SEPARATOR: char = '~';
/// How long asking the owner (publishing the request) may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// A fallback request, as the owner of its session is asked to handle it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FallbackRequest {
    /// `POST /x/send` with this body.
    Send { body: String },
    /// `GET /x/poll`.
    Poll,
}

/// The owner's answer, as the client is to get it.
pub type Relayed = crate::fallback::Answer;

/// Why a request could not be handled by its session's owner.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("the node that holds this session is gone")]
    OwnerGone,
    #[error("the node that holds this session did not answer in time")]
    NoAnswer,
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// A cloneable handle: asks other nodes, and answers what they ask.
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeName,
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Requests sent, waiting for their answer: by id, with the node asked.
    waiting: Mutex<HashMap<u64, (NodeName, oneshot::Sender<Relayed>)>>,
    /// The next request's id. It starts at random, so an answer meant for an earlier run of
    /// this node (restarted while a long poll was relayed) matches no request of this one.
    next: AtomicU64,
}

impl Forwarder {
    pub fn new(node: NodeName, client: redis::Client) -> Self {
        let inner = Inner {
            node,
            client,
            connection: tokio::sync::Mutex::new(None),
            waiting: Mutex::new(HashMap::new()),
            next: AtomicU64::new(uuid::Uuid::new_v4().as_u64_pair().0),
        };
        Self { inner: Arc::new(inner) }
    }

    /// A new session id, naming this node.
    pub fn session_id(&self) -> String {
        format!("{}{NODE_SEPARATOR}{}", self.inner.node, uuid::Uuid::new_v4().simple())
    }

    /// The node a session id names, if it is another node.
    pub fn owner(&self, session: &str) -> Option<NodeName> {
        let (node, _) = session.split_once(NODE_SEPARATOR)?;
        let node: NodeName = node.parse().ok()?;
        (node != self.inner.node).then_some(node)
    }

    /// Asks `owner` to handle `request` for `session`, and waits up to `wait` for its answer.
    pub async fn ask(
        &self,
        owner: &NodeName,
        session: &str,
        request: FallbackRequest,
        wait: Duration,
    ) -> Result<Relayed, ForwardError> {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock_waiting().insert(id, (owner.clone(), tx));
        let _forget = Forget { forwarder: self, id };
        let body = BusBody::Forward { id, session: session.to_owned(), request };
        if self.send(owner, body).await? == 0 {
            return Err(ForwardError::OwnerGone);
        }
        match timeout(wait, rx).await {
            Ok(Ok(relayed)) => Ok(relayed),
            _ => Err(ForwardError::NoAnswer),
        }
    }

    /// Sends the answer to a request `from` asked.
    pub async fn answer(&self, from: &NodeName, id: u64, reply: Relayed) {
        if let Err(e) = self.send(from, BusBody::Relay { id, reply }).await {
            tracing::warn!(%from, error = %e, "could not relay a fallback answer");
        }
    }

    /// An answer to one of this node's requests arrived, from `from`: taken only if `from`
    /// is the node that request asked.
    pub fn answered(&self, from: &NodeName, id: u64, reply: Relayed) {
        let mut waiting = self.lock_waiting();
        if waiting.get(&id).is_some_and(|(asked, _)| asked == from) {
            if let Some((_, tx)) = waiting.remove(&id) {
                let _ = tx.send(reply);
            }
        }
    }

    /// Publishes on `to`'s own channel; the answer is how many subscribers got it.
    async fn send(&self, to: &NodeName, body: BusBody) -> Result<u64, BusError> {
        let sent_ms = crate::store::now_ms();
        let message = serde_json::to_string(&BusMessage { node: self.inner.node.clone(), sent_ms, body })
            .map_err(|e| BusError::Encode(e.to_string()))?;
        let publishing = async {
            // The connection is shared (multiplexed): the lock is held only to get or make it.
            let mut redis = {
                let mut connection = self.inner.connection.lock().await;
                if connection.is_none() {
                    *connection = Some(self.inner.client.get_multiplexed_async_connection().await?);
                }
                connection.clone().ok_or(BusError::Timeout(ASK_TIMEOUT))?
            };
            let reached: u64 =
                redis::cmd("PUBLISH").arg(node_channel(to)).arg(&message).query_async(&mut redis).await?;
            Ok::<_, BusError>(reached)
        };
        let result = timeout(ASK_TIMEOUT, publishing).await.unwrap_or(Err(BusError::Timeout(ASK_TIMEOUT)));
        if result.is_err() {
            *self.inner.connection.lock().await = None;
        }
        result
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (NodeName, oneshot::Sender<Relayed>)>> {
        self.inner.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forgets a request when its asker stops waiting, answered or not.
struct Forget<'a> {
    forwarder: &'a Forwarder,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.forwarder.lock_waiting().remove(&self.id);
    }
}
