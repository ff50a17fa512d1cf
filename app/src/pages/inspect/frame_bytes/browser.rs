//! The frame lesson's browser half: its own socket to `/lab/frames`, which answers each text
//! frame with an echo and a report of both frames.

use super::FrameView;
use crate::client::lessons::{open_socket, text_frames, ws_url};
use crate::lab::FrameReport;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::{select, SinkExt, StreamExt};
use gloo_net::websocket::Message;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct FrameHandle {
    outbox: StoredValue<UnboundedSender<String>>,
}

pub fn start(view: FrameView) -> FrameHandle {
    let (tx, rx) = unbounded::<String>();
    leptos::task::spawn_local(async move {
        let mut rx = rx.fuse();
        // The socket opens with the first message, and again after the server closed it (a
        // lesson socket idle for a minute is closed): reading the lesson a while costs nothing.
        while let Some(first) = rx.next().await {
            let Ok(socket) = open_socket(&ws_url("/lab/frames")).await else {
                view.status.set(Some("could not open the lesson's WebSocket".into()));
                continue;
            };
            view.status.set(None);
            let (mut sink, stream) = socket.split();
            let mut frames = Box::pin(text_frames(stream)).fuse();
            let mut next = Some(first);
            loop {
                if let Some(text) = next.take() {
                    if sink.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                select! {
                    text = rx.next() => match text {
                        Some(text) => next = Some(text),
                        // The page went away.
                        None => return,
                    },
                    // The echo comes first, then the report of both frames.
                    frame = frames.next() => match frame {
                        Some(frame) => {
                            if let Ok(report) = serde_json::from_str::<FrameReport>(&frame) {
                                view.report.set(Some(report));
                            }
                        }
                        None => break,
                    },
                }
            }
        }
    });
    let outbox = StoredValue::new(tx);
    on_cleanup(move || {
        let _ = outbox.try_with_value(|o| o.close_channel());
    });
    FrameHandle { outbox }
}

impl FrameHandle {
    pub fn send(&self, text: String) {
        self.outbox.with_value(|o| o.unbounded_send(text).ok());
    }
}
