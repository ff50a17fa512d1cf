//! The inspector's browser side: its own socket, the captured handshake, the frame log.

use super::{Frame, Inspector};
use crate::client::lessons::{get_text, now, ws_url};
use crate::components::username::use_current_user;
use crate::lab::frame_header_len;
use crate::protocol::{ClientMsg, ServerMsg};
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct InspectHandle {
    outbox: StoredValue<UnboundedSender<ClientMsg>>,
    ins: Inspector,
    user: crate::components::username::CurrentUser,
    /// The name a visitor without one joins under: its own, since names are claimed.
    guest: StoredValue<crate::domain::Username>,
}

impl InspectHandle {
    fn send(&self, msg: ClientMsg) {
        self.outbox.with_value(|o| o.unbounded_send(msg).ok());
    }

    fn username(&self) -> crate::domain::Username {
        self.user.0.get_untracked().unwrap_or_else(|| self.guest.get_value())
    }

    /// Joins under the page's name, with the claim this browser holds for it.
    pub fn join(&self) {
        match self.ins.room.get_untracked().parse() {
            Ok(room) => {
                let username = self.username();
                let claim = crate::client::storage::load_claim(&username);
                self.send(ClientMsg::Join { room, username: Some(username), since: None, claim, from: None })
            }
            Err(e) => self.ins.status.set(format!("{e}")),
        }
    }

    pub fn post(&self) {
        let (Ok(room), Ok(text)) = (self.ins.room.get_untracked().parse(), self.ins.draft.get_untracked().parse())
        else {
            self.ins.status.set("Enter a valid room and a post of 1–2000 characters.".into());
            return;
        };
        let Ok(client_id) = uuid::Uuid::new_v4().simple().to_string().parse() else { return };
        self.ins.draft.set(String::new());
        self.send(ClientMsg::Post { room, text, client_id });
    }
}

pub fn start(ins: Inspector) -> InspectHandle {
    let (tx, rx) = unbounded::<ClientMsg>();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let guest = format!("inspector-{}", &token[..6]).parse().expect("a valid name");
    let guest = StoredValue::new(guest);
    let actions = InspectHandle { outbox: StoredValue::new(tx), ins, user: use_current_user(), guest };
    leptos::task::spawn_local(async move {
        let Ok(ws) = WebSocket::open(&ws_url(&format!("/ws?capture={token}"))) else {
            ins.status.set("could not open a WebSocket".into());
            return;
        };
        let (mut sink, stream) = ws.split();
        let mut stream = stream.fuse();
        let mut rx = rx.fuse();
        let opened = now();
        // A log line for a text frame either way: a client's frames carry a 4-byte mask. Its
        // length is the frame's; a claim secret in it is shown as "…" (pages get projected).
        let log_line = |n, outgoing, text: String| Frame {
            n,
            outgoing,
            at_ms: now() - opened,
            payload_len: text.len(),
            header_len: frame_header_len(text.len(), outgoing),
            payload: without_secrets(text),
        };
        let mut n = 0;
        let mut first = true;
        loop {
            futures::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if first {
                            first = false;
                            ins.status.set("open (101 Switching Protocols)".into());
                            let handshake = get_text(&format!("/lab/handshake/{token}"))
                                .await
                                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()));
                            if let Ok(h) = handshake {
                                ins.handshake.set(Some(h));
                            }
                            actions.join();
                        }
                        if let Ok(ServerMsg::Claimed { username, claim, .. }) = serde_json::from_str(&text) {
                            // The first use of the page's name: keep its secret, as a wall does.
                            crate::client::storage::save_claim(&username, &claim);
                        }
                        n += 1;
                        ins.log(log_line(n, false, text));
                    }
                    Some(Ok(Message::Bytes(_))) => {}
                    Some(Err(_)) | None => {
                        ins.status.set("closed — reload the page to open a new socket".into());
                        return;
                    }
                },
                msg = rx.next() => {
                    let Some(msg) = msg else { return };
                    let Ok(text) = serde_json::to_string(&msg) else { continue };
                    n += 1;
                    ins.log(log_line(n, true, text.clone()));
                    if sink.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                },
            }
        }
    });
    actions
}

/// The frame's text with the value of any `claim` field replaced by "…".
fn without_secrets(text: String) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) else { return text };
    match value.get_mut("claim") {
        Some(claim) => {
            *claim = "…".into();
            value.to_string()
        }
        None => text,
    }
}
