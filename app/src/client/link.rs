//! The browser's transports behind one interface: WebSocket, Server-Sent Events + POST, and
//! long polling. Each carries the same `ClientMsg`/`ServerMsg` JSON; the socket task does
//! not care which one it holds.

use super::lessons::{open_socket, ws_url};
use crate::protocol::{ClientMsg, ServerMsg};
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::stream::{Fuse, SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::eventsource::futures::EventSource;
use gloo_net::http::Request;
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use std::cell::Cell;
use std::rc::Rc;

/// How long an HTTP transport may take to say `hello` before the attempt counts as failed.
const OPEN_TIMEOUT_MS: u32 = 10_000;

/// A transport, in the order the client falls back through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WebSocket,
    Sse,
    LongPoll,
}

impl Kind {
    /// The name used in `?transport=` and shown on the badge.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WebSocket => "ws",
            Kind::Sse => "sse",
            Kind::LongPoll => "longpoll",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Kind::WebSocket, Kind::Sse, Kind::LongPoll].into_iter().find(|k| k.name() == name)
    }

    /// The next transport to try when this one keeps failing.
    pub fn fallback(self) -> Option<Self> {
        match self {
            Kind::WebSocket => Some(Kind::Sse),
            Kind::Sse => Some(Kind::LongPoll),
            Kind::LongPoll => None,
        }
    }
}

/// An open connection over one transport.
pub enum Link {
    WebSocket { sink: SplitSink<WebSocket, Message>, stream: Fuse<SplitStream<WebSocket>> },
    Http { session: String, incoming: Fuse<UnboundedReceiver<Option<ServerMsg>>>, _stop: StopOnDrop },
}

/// Failure to open or use a transport; the caller reconnects.
#[derive(Debug)]
pub struct Broken;

impl Link {
    pub async fn open(kind: Kind) -> Result<Self, Broken> {
        match kind {
            Kind::WebSocket => open_websocket().await,
            Kind::Sse => open_sse().await,
            Kind::LongPoll => open_long_poll().await,
        }
    }

    /// The next server message; `None` when the connection is lost. Cancel-safe.
    pub async fn recv(&mut self) -> Option<ServerMsg> {
        match self {
            Link::WebSocket { stream, .. } => loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(msg) = serde_json::from_str(&text) {
                            return Some(msg);
                        }
                    }
                    Some(Ok(Message::Bytes(_))) => {}
                    Some(Err(_)) | None => return None,
                }
            },
            Link::Http { incoming, .. } => incoming.next().await.flatten(),
        }
    }

    /// Sends a message; HTTP transports return the direct reply, which a WebSocket sends
    /// on the stream instead.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<Vec<ServerMsg>, Broken> {
        let json = serde_json::to_string(msg).map_err(|_| Broken)?;
        match self {
            Link::WebSocket { sink, .. } => {
                sink.send(Message::Text(json)).await.map(|_| Vec::new()).map_err(|_| Broken)
            }
            Link::Http { session, .. } => {
                let url = format!("/x/send?session={session}");
                let response = Request::post(&url)
                    .header("content-type", "application/json")
                    .body(json)
                    .map_err(|_| Broken)?
                    .send()
                    .await
                    .map_err(|_| Broken)?;
                if !response.ok() {
                    return Err(Broken);
                }
                serde_json::from_str(&response.text().await.map_err(|_| Broken)?).map_err(|_| Broken)
            }
        }
    }
}

/// Stops an HTTP transport's background reader when the link is dropped.
pub struct StopOnDrop(Rc<Cell<bool>>, Option<EventSource>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
        if let Some(source) = self.1.take() {
            source.close();
        }
    }
}

async fn open_websocket() -> Result<Link, Broken> {
    let ws = open_socket(&ws_url("/ws")).await.map_err(|_| Broken)?;
    let (sink, stream) = ws.split();
    Ok(Link::WebSocket { sink, stream: stream.fuse() })
}

/// Waits for the `hello` that names the session, and passes it on (it carries the rate limit
/// the room client paces itself to).
async fn first_hello(
    rx: &mut Fuse<UnboundedReceiver<Option<ServerMsg>>>,
    tx: &UnboundedSender<Option<ServerMsg>>,
) -> Result<String, Broken> {
    let hello = futures::future::select(Box::pin(rx.next()), TimeoutFuture::new(OPEN_TIMEOUT_MS)).await;
    let futures::future::Either::Left((Some(Some(hello)), _)) = hello else { return Err(Broken) };
    let ServerMsg::Hello { session: Some(session), .. } = &hello else { return Err(Broken) };
    let session = session.clone();
    let _ = tx.unbounded_send(Some(hello));
    Ok(session)
}

async fn open_sse() -> Result<Link, Broken> {
    let mut source = EventSource::new("/x/sse").map_err(|_| Broken)?;
    let mut events = source.subscribe("message").map_err(|_| Broken)?;
    let (tx, rx) = unbounded();
    let hello_tx = tx.clone();
    let stopped = Rc::new(Cell::new(false));
    let stop = stopped.clone();
    leptos::task::spawn_local(async move {
        while let Some(event) = events.next().await {
            if stop.get() {
                return;
            }
            // The browser would reconnect on its own, as a new session: report the loss
            // instead, so the task rejoins from the right seq.
            let Ok((_, event)) = event else { break };
            let msg = event.data().as_string().and_then(|d| serde_json::from_str::<ServerMsg>(&d).ok());
            if let Some(msg) = msg {
                let _ = tx.unbounded_send(Some(msg));
            }
        }
        let _ = tx.unbounded_send(None);
    });
    let mut incoming = rx.fuse();
    let session = first_hello(&mut incoming, &hello_tx).await?;
    Ok(Link::Http { session, incoming, _stop: StopOnDrop(stopped, Some(source)) })
}

async fn open_long_poll() -> Result<Link, Broken> {
    let (tx, rx) = unbounded();
    let first = poll_once(None).await?;
    for msg in first {
        let _ = tx.unbounded_send(Some(msg));
    }
    let mut incoming = rx.fuse();
    let session = first_hello(&mut incoming, &tx).await?;
    let stopped = Rc::new(Cell::new(false));
    leptos::task::spawn_local(poll_loop(session.clone(), tx, stopped.clone()));
    Ok(Link::Http { session, incoming, _stop: StopOnDrop(stopped, None) })
}

async fn poll_loop(session: String, tx: UnboundedSender<Option<ServerMsg>>, stopped: Rc<Cell<bool>>) {
    while !stopped.get() {
        match poll_once(Some(&session)).await {
            Ok(batch) => batch.into_iter().for_each(|msg| {
                let _ = tx.unbounded_send(Some(msg));
            }),
            Err(Broken) => break,
        }
    }
    let _ = tx.unbounded_send(None);
}

async fn poll_once(session: Option<&str>) -> Result<Vec<ServerMsg>, Broken> {
    let url = session.map_or_else(|| "/x/poll".to_owned(), |s| format!("/x/poll?session={s}"));
    let response = Request::get(&url).send().await.map_err(|_| Broken)?;
    if !response.ok() {
        return Err(Broken);
    }
    serde_json::from_str(&response.text().await.map_err(|_| Broken)?).map_err(|_| Broken)
}
