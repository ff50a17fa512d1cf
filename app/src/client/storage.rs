//! What the browser remembers across reloads: the username, the secret of each name it
//! claimed, a moderator's secret, and each room's outbox of posts not yet stored (`localStorage`), and the
//! transport that works (`sessionStorage`).

use crate::domain::{ClaimSecret, RoomName, Username};
use crate::room_client::OutboxEntry;
use leptos::prelude::*;

const USERNAME_KEY: &str = "wallsocket.username";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Keeps `user` and the saved username in step: the saved one is read after hydration (so
/// the server's HTML and the first browser render agree), and every change is saved.
pub fn remember_username(user: RwSignal<Option<Username>>) {
    Effect::new(move |_| {
        if let Some(name) = load_username() {
            user.set(Some(name));
        }
    });
    Effect::new(move |_| {
        if let Some(name) = user.get() {
            save_username(&name);
        }
    });
}

/// The saved username, if one was saved and is still valid.
fn load_username() -> Option<Username> {
    let raw = local_storage()?.get_item(USERNAME_KEY).ok().flatten()?;
    Username::parse(&raw).ok()
}

/// Saves the username; storage may be unavailable (private mode), which only costs a re-ask.
fn save_username(name: &Username) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(USERNAME_KEY, name.as_str());
    }
}

/// Forgets the saved username (someone else holds it): the page asks for another.
pub fn forget_username() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(USERNAME_KEY);
    }
}

/// Where a name's claim is kept. Lowercased, as the server compares names (it also folds
/// compatibility characters: a look-alike spelling finds no secret here and is refused).
fn claim_key(name: &Username) -> String {
    format!("wallsocket.claim.{}", name.as_str().to_lowercase())
}

/// The secret this browser holds for `name`, if it claimed it.
pub fn load_claim(name: &Username) -> Option<ClaimSecret> {
    let raw = local_storage()?.get_item(&claim_key(name)).ok().flatten()?;
    ClaimSecret::parse(&raw).ok()
}

/// Keeps the secret the server issued for `name`.
pub fn save_claim(name: &Username, claim: &ClaimSecret) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(&claim_key(name), claim.expose());
    }
}

const MODERATOR_KEY: &str = "wallsocket.moderator";

/// The moderator's secret pasted on `/moderate`, if any.
pub fn load_moderator() -> Option<ClaimSecret> {
    let raw = local_storage()?.get_item(MODERATOR_KEY).ok().flatten()?;
    ClaimSecret::parse(&raw).ok()
}

/// Keeps (or, with `None`, forgets) the moderator's secret.
pub fn save_moderator(secret: Option<&ClaimSecret>) {
    let Some(storage) = local_storage() else { return };
    let _ = match secret {
        Some(secret) => storage.set_item(MODERATOR_KEY, secret.expose()),
        None => storage.remove_item(MODERATOR_KEY),
    };
}

fn outbox_key(room: &RoomName) -> String {
    format!("wallsocket.outbox.{room}")
}

/// The room's unacknowledged posts, oldest first (empty if none or unreadable).
pub fn load_outbox(room: &RoomName) -> Vec<OutboxEntry> {
    local_storage()
        .and_then(|s| s.get_item(&outbox_key(room)).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// Replaces the room's saved outbox.
pub fn save_outbox(room: &RoomName, entries: &[OutboxEntry]) {
    let Some(storage) = local_storage() else { return };
    let key = outbox_key(room);
    if entries.is_empty() {
        let _ = storage.remove_item(&key);
    } else if let Ok(json) = serde_json::to_string(entries) {
        let _ = storage.set_item(&key, &json);
    }
}

const TRANSPORT_KEY: &str = "wallsocket.transport";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The transport that worked last in this browser session.
pub fn load_transport() -> Option<String> {
    session_storage()?.get_item(TRANSPORT_KEY).ok().flatten()
}

pub fn save_transport(name: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(TRANSPORT_KEY, name);
    }
}
