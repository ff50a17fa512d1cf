//! Which transport the room socket uses: WebSocket first; after repeated failures to open,
//! SSE + POST and then long polling, remembered for the browser session, with WebSocket
//! tried again in the background. `?transport=ws|sse|longpoll` in the URL forces one.

use super::link::Kind;
use super::storage::{load_transport, save_transport};

/// Failed attempts in a row before falling back to the next transport.
const FAILURES_BEFORE_FALLBACK: u32 = 3;
/// While on a fallback, how often to check whether a WebSocket gets through again.
const WEBSOCKET_RETRY_MS: i64 = 60_000;

pub struct Transport {
    kind: Kind,
    /// Set by `?transport=`: never fall back or upgrade.
    forced: bool,
    /// Attempts in a row on this transport that never got a connection open.
    failed_opens: u32,
    last_websocket_try: i64,
}

impl Transport {
    /// The forced transport, else the one that worked last in this session, else WebSocket.
    pub fn choose() -> Self {
        let forced = forced_transport();
        let kind = forced.or_else(|| load_transport().and_then(|k| Kind::parse(&k))).unwrap_or(Kind::WebSocket);
        Self { kind, forced: forced.is_some(), failed_opens: 0, last_websocket_try: 0 }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn opened(&mut self, now: i64) {
        self.failed_opens = 0;
        self.last_websocket_try = now;
    }

    /// An attempt could not open a connection: after a few, the next transport.
    pub fn failed_to_open(&mut self) {
        self.failed_opens += 1;
        if self.failed_opens < FAILURES_BEFORE_FALLBACK || self.forced {
            return;
        }
        if let Some(next) = self.kind.fallback() {
            self.switch(next);
        }
    }

    /// True when, on a fallback, it is time to see whether a WebSocket gets through again.
    pub fn upgrade_due(&mut self, now: i64) -> bool {
        if self.kind == Kind::WebSocket || self.forced || now - self.last_websocket_try < WEBSOCKET_RETRY_MS {
            return false;
        }
        self.last_websocket_try = now;
        true
    }

    pub fn switch(&mut self, kind: Kind) {
        self.kind = kind;
        self.failed_opens = 0;
        save_transport(kind.name());
    }
}

/// The transport named by `?transport=` in the page's URL, if any.
fn forced_transport() -> Option<Kind> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    Kind::parse(&params.get("transport")?)
}
