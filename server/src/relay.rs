//! Fallback requests for sessions that live on another node of the cluster: asking the
//! owner and relaying its answer, and answering what the other nodes ask of this one. A
//! session whose node is gone (or does not answer) is `unknown_session` at once: the client
//! opens a session here and resumes with `since`, losing nothing.

use crate::cluster::bus::BusBody;
use crate::cluster::forward::{FallbackRequest, Forwarder};
use crate::cluster::NodeName;
use crate::fallback::{poll_here, send_here, Answer, POLL_WAIT};
use crate::ws::WsState;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a relayed `POST /x/send` waits for the owner (less than the request timeout).
const SEND_WAIT: Duration = Duration::from_secs(8);
/// How long a relayed long poll waits for the owner: its own wait, and some slack.
const POLL_RELAY_WAIT: Duration = Duration::from_secs(POLL_WAIT.as_secs() + 5);

/// Answers a request for session `id`, which this node does not hold, through its owner.
pub async fn ask_owner(state: &WsState, id: &str, request: FallbackRequest) -> Answer {
    let Some(forwarder) = &state.forwarder else { return Answer::unknown_session() };
    let Some(owner) = forwarder.owner(id) else { return Answer::unknown_session() };
    let wait = match request {
        FallbackRequest::Send { .. } => SEND_WAIT,
        FallbackRequest::Poll => POLL_RELAY_WAIT,
    };
    match forwarder.ask(&owner, id, request, wait).await {
        Ok(answer) => {
            state.metrics.forwarded(true);
            answer
        }
        Err(e) => {
            state.metrics.forwarded(false);
            tracing::info!(%owner, error = %e, "a fallback session's node cannot answer: the client resumes here");
            Answer::unknown_session()
        }
    }
}

/// Handles what other nodes ask of this node's sessions, and hands their answers to the
/// requests waiting for them. Runs until the bus is gone.
pub async fn answer_other_nodes(
    state: WsState,
    forwarder: Forwarder,
    mut forwards: mpsc::Receiver<(NodeName, BusBody)>,
) {
    while let Some((from, body)) = forwards.recv().await {
        match body {
            BusBody::Forward { id, session, request } => {
                let (state, forwarder) = (state.clone(), forwarder.clone());
                tokio::spawn(async move {
                    let answer = match request {
                        FallbackRequest::Send { body } => send_here(&state, &session, &body).await,
                        FallbackRequest::Poll => poll_here(&state, &session).await,
                    };
                    forwarder.answer(&from, id, answer.unwrap_or_else(Answer::unknown_session)).await;
                });
            }
            BusBody::Relay { id, reply } => forwarder.answered(&from, id, reply),
            _ => {}
        }
    }
}
