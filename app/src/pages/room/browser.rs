//! The wall's browser side: opens the room's socket once the first page and a username are
//! known, and carries out what the page asks (post, retry, older posts).

use super::Controls;
use crate::api::{get_history, HistoryPage};
use crate::client::{now_ms, socket::RoomSocket, storage::load_outbox};
use crate::components::badge::ConnState;
use crate::components::username::use_current_user;
use crate::domain::{ClientId, PostText, RoomName, Username};
use crate::pages::wall_state::{FollowUp, Pending, WallState};
use crate::protocol::{ClientMsg, TYPING_RESEND_MS};
use leptos::prelude::*;
use std::time::Duration;

/// How often typing indicators are checked for expiry.
const CLOCK_TICK: Duration = Duration::from_millis(500);
/// How often relative times ("3 min ago") are refreshed.
const RELATIVE_TIME_TICK_MS: i64 = 15_000;

pub fn connect(
    room: RoomName,
    state: WallState,
    history: Resource<Result<HistoryPage, ServerFnError>>,
    set_conn: WriteSignal<ConnState>,
) -> Controls {
    let user = use_current_user();
    let socket = StoredValue::new_local(None::<RoomSocket>);
    let joined_as = StoredValue::new_local(None::<Username>);
    let controls =
        Controls { socket, room: StoredValue::new(room.clone()), history, last_typing_ms: StoredValue::new(0) };

    Effect::new(move |_| {
        let Some(Ok(_)) = history.get() else { return };
        let Some(name) = user.0.get() else { return };
        if joined_as.get_value().as_ref() == Some(&name) {
            return;
        }
        joined_as.set_value(Some(name.clone()));
        if let Some(existing) = socket.get_value() {
            existing.rejoin(name);
            return;
        }
        let since = move || history.with_untracked(|page| first_page(page).and_then(|p| state.last_seq(p)));
        let on_message = move |msg| {
            let follow_up = history.with_untracked(|page| first_page(page).map(|p| state.apply(msg, now_ms(), p)));
            match follow_up {
                Some(FollowUp::Reload) => reload_page(),
                Some(FollowUp::Resync) => socket.with_value(|s| s.as_ref().map(RoomSocket::resync)).unwrap_or_default(),
                Some(FollowUp::Nothing) | None => {}
            }
        };
        // Posts saved by an earlier visit and never acknowledged: shown pending, sent on join.
        let saved = load_outbox(&room);
        state.pending.update(|p| {
            p.extend(saved.into_iter().map(|e| Pending { client_id: e.client_id, text: e.text, error: None }))
        });
        socket.set_value(Some(RoomSocket::start(room.clone(), name, since, on_message, set_conn)));
    });

    let ticker = set_interval_with_handle(
        move || {
            let now = now_ms();
            state.expire_typing(now);
            if now - state.now_ms.get_untracked().unwrap_or(0) >= RELATIVE_TIME_TICK_MS {
                state.now_ms.set(Some(now));
            }
        },
        CLOCK_TICK,
    )
    .ok();
    on_cleanup(move || {
        let _ = socket.try_with_value(|s| s.as_ref().map(RoomSocket::close));
        if let Some(ticker) = ticker {
            ticker.clear();
        }
    });
    controls
}

fn first_page(page: &Option<Result<HistoryPage, ServerFnError>>) -> Option<&HistoryPage> {
    page.as_ref().and_then(|r| r.as_ref().ok())
}

fn reload_page() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

impl Controls {
    pub(super) fn post(&self, state: WallState, text: PostText) {
        let Ok(client_id) = ClientId::parse(&uuid::Uuid::new_v4().simple().to_string()) else { return };
        state.pending.update(|p| p.push(Pending { client_id: client_id.clone(), text: text.clone(), error: None }));
        self.socket.with_value(|s| s.as_ref().map(|s| s.post(client_id, text)));
    }

    /// Tells the room this user is typing, at most once per `TYPING_RESEND_MS`.
    pub(super) fn typing(&self) {
        let now = now_ms();
        if now - self.last_typing_ms.get_value() < TYPING_RESEND_MS as i64 {
            return;
        }
        self.last_typing_ms.set_value(now);
        let msg = ClientMsg::Typing { room: self.room.get_value() };
        self.socket.with_value(|s| s.as_ref().map(|s| s.send(msg)));
    }

    pub(super) fn retry_now(&self) {
        self.socket.with_value(|s| s.as_ref().map(RoomSocket::retry_now));
    }

    pub(super) fn load_older(&self, state: WallState) {
        let oldest_extra = state.extra.with_untracked(|m| m.keys().next().copied());
        let oldest_first = self.history.with_untracked(|p| first_page(p).and_then(|p| p.posts.first().map(|p| p.seq)));
        let Some(before) = oldest_extra.into_iter().chain(oldest_first).min() else { return };
        let room = self.room.get_value().to_string();
        leptos::task::spawn_local(async move {
            match get_history(room, Some(before)).await {
                Ok(page) => {
                    state.has_older.set(Some(page.has_older));
                    state.add_posts(page.posts);
                }
                Err(e) => state.notice.set(Some(format!("Could not load older posts: {e}"))),
            }
        });
    }
}
