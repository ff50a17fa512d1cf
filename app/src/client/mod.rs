//! Browser-only code: the WebSocket connection and local storage. Compiled with `hydrate`.

pub mod lessons;
pub mod link;
pub mod socket;
pub mod storage;

/// Milliseconds since the Unix epoch by the browser's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
