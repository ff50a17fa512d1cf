//! The username, remembered in `localStorage` so it is asked once per browser.

use crate::domain::Username;

const USERNAME_KEY: &str = "wallsocket.username";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The saved username, if one was saved and is still valid.
pub fn load_username() -> Option<Username> {
    let raw = local_storage()?.get_item(USERNAME_KEY).ok().flatten()?;
    Username::parse(&raw).ok()
}

/// Saves the username; storage may be unavailable (private mode), which only costs a re-ask.
pub fn save_username(name: &Username) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(USERNAME_KEY, name.as_str());
    }
}
