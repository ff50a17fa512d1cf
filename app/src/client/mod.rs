//! Browser-only code: the room socket and its transports, the lessons' sockets, and local
//! storage. Compiled with `hydrate`.

pub mod lessons;
pub mod link;
pub mod socket;
pub mod storage;
pub mod transport;

use crate::domain::ClientId;

/// A fresh id for a post: a v4 UUID in simple form, 32 hex digits, always a valid client id.
pub fn new_client_id() -> ClientId {
    let id = uuid::Uuid::new_v4().simple().to_string();
    ClientId::parse(&id).expect("32 hex digits are a valid client id")
}

/// Milliseconds since the Unix epoch by the browser's clock.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
