//! The wall's browser half: starts the room's connection (watching until a username is
//! known, then under it), shows its events in the page's [`WallState`], runs the page's
//! clock, and fetches older posts.

use crate::api::get_history;
use crate::client::now_ms;
use crate::client::socket::{Command, RoomSocket};
use crate::client::storage::forget_username;
use crate::components::username::{use_current_user, CurrentUser};
use crate::domain::{PostText, RoomName, Username};
use crate::pages::wall_state::WallState;
use crate::room_client::{ConnState, Event};
use futures::StreamExt;
use leptos::prelude::*;
use std::time::Duration;

/// How often typing indicators are checked for expiry.
const CLOCK_TICK: Duration = Duration::from_millis(500);
/// How often relative times ("3 min ago") are refreshed.
const RELATIVE_TIME_TICK_MS: i64 = 15_000;

/// What the page can ask of its wall.
#[derive(Clone, Copy)]
pub struct WallHandle {
    room: StoredValue<RoomName>,
    state: WallState,
    socket: RwSignal<Option<RoomSocket>>,
}

/// Starts the wall's live half for a page that shows every post up to `since` (from `from`
/// on), under the
/// name `user` holds (watching while it holds none); `None` for a page that only ever
/// watches (the projector).
pub fn start(
    room: RoomName,
    state: WallState,
    since: Option<u64>,
    from: Option<u64>,
    user: Option<Signal<Option<Username>>>,
) -> WallHandle {
    let watch_only = user.is_none();
    let user = user.unwrap_or(Signal::stored(None));
    // Told to drop a name someone else holds, so the page asks for another.
    let current = use_current_user();
    let socket = RwSignal::new(None::<RoomSocket>);
    let handle = WallHandle { room: StoredValue::new(room.clone()), state, socket };
    // Effects run only in the browser, after hydration: by then the saved name is read.
    Effect::new(move |_| {
        let name = user.get();
        if name.is_some() {
            state.name_taken.set(None);
        }
        if let Some(existing) = socket.get_untracked() {
            existing.send(Command::Rename(name));
            return;
        }
        let (started, events) = RoomSocket::start(room.clone(), name, since, from, watch_only);
        leptos::task::spawn_local(show(events, state, current));
        socket.set(Some(started));
    });
    let clock = set_interval_with_handle(
        move || {
            let now = now_ms();
            state.expire_typing(now);
            if now - state.now_ms.get_untracked() >= RELATIVE_TIME_TICK_MS {
                state.now_ms.set(now);
            }
        },
        CLOCK_TICK,
    )
    .ok();
    on_cleanup(move || {
        if let Some(Some(socket)) = socket.try_get_untracked() {
            socket.close();
        }
        if let Some(clock) = clock {
            clock.clear();
        }
    });
    handle
}

/// Shows the connection's events until it ends.
async fn show(mut events: futures::channel::mpsc::UnboundedReceiver<Event>, state: WallState, user: CurrentUser) {
    while let Some(event) = events.next().await {
        if matches!(event, Event::NameTaken(_)) {
            forget_username();
            user.0.set(None);
        }
        if event == Event::HistoryTruncated {
            // More was missed than a join replays: the server's page is the way back.
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
            return;
        }
        state.apply(event, now_ms());
    }
}

impl WallHandle {
    pub fn conn(&self) -> Signal<ConnState> {
        let socket = self.socket;
        Signal::derive(move || socket.with(|s| s.as_ref().map_or(ConnState::Connecting, |s| s.state.get())))
    }

    pub fn post(&self, text: PostText) {
        self.command(Command::Post(text));
    }

    pub fn typing(&self) {
        self.command(Command::Typing);
    }

    /// Asks the server to delete one of this user's posts (any post, for a moderator).
    pub fn delete(&self, seq: u64) {
        self.command(Command::Delete(seq));
    }

    /// A moderator blocks the author of post `seq` for `minutes`.
    pub fn block(&self, seq: u64, minutes: u32) {
        self.command(Command::Block { seq, minutes });
    }

    pub fn retry_now(&self) {
        self.command(Command::RetryNow);
    }

    pub fn load_older(&self) {
        let state = self.state;
        let Some(before) = state.oldest_seq() else { return };
        let room = self.room.get_value().to_string();
        leptos::task::spawn_local(async move {
            match get_history(room, Some(before)).await {
                Ok(page) => state.add_older(page),
                Err(e) => state.notice.set(Some(format!("Could not load older posts: {e}"))),
            }
        });
    }

    fn command(&self, command: Command) {
        self.socket.with_untracked(|s| s.as_ref().map(|s| s.send(command)));
    }
}
