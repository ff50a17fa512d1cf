//! Server functions the pages call: rendered on the server first, called over HTTP after.
//!
//! The server binary provides the data behind them as a [`WallData`] in the Leptos context,
//! so this crate knows nothing of SQL or the hub.

pub use crate::page_posts::PagePosts;
#[cfg(feature = "ssr")]
pub use crate::page_posts::PostJson;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One page of a room's history, oldest post first. On the server its posts may carry JSON
/// made once (see [`PagePosts`]), which only serde_json writes: the page goes out as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub posts: PagePosts,
    /// Seqs in the page's range whose posts were deleted (shown as removed; they count as
    /// held, and where a page of only deleted posts continues).
    #[serde(default)]
    pub removed: Vec<u64>,
    /// True when posts older than the first one here exist.
    pub has_older: bool,
    /// The server's clock when the page was made (ms since the epoch), so relative times
    /// render the same on the server and during hydration.
    pub now_ms: i64,
}

impl HistoryPage {
    /// The newest seq the page covers, deleted posts included: where live posts continue.
    pub fn newest_seq(&self) -> Option<u64> {
        self.posts.last().map(|p| p.seq).max(self.removed.last().copied())
    }

    /// The oldest seq the page covers, deleted posts included.
    pub fn oldest_seq(&self) -> Option<u64> {
        let first = self.posts.first().map(|p| p.seq);
        match (first, self.removed.first().copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One moderation action, as `/moderate` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, in ms since the Unix epoch.
    pub at_ms: i64,
    pub moderator: String,
    /// `delete`, `block_claim` or `block_address`.
    pub action: String,
    pub detail: String,
}

/// A room as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub room: String,
    pub posts: u64,
    pub members: u32,
}

#[cfg(feature = "ssr")]
pub use backend::{BackendError, ModerationRefused, WallData};

#[cfg(feature = "ssr")]
mod backend {
    use super::{AuditEntry, HistoryPage, RoomSummary};
    use crate::domain::RoomName;
    use futures::future::BoxFuture;
    use std::sync::Arc;

    /// A storage failure, already logged by the backend; users see only that it failed.
    #[derive(Debug, thiserror::Error)]
    #[error("the server could not read its storage; try again")]
    pub struct BackendError;

    /// A moderation request turned down, with the reason to show (never a secret).
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    pub struct ModerationRefused(pub String);

    /// What the pages need from the server. Provided as `Arc<dyn WallData>` in context.
    pub trait WallData: Send + Sync + 'static {
        /// Up to `limit` posts of `room` with seq below `before` (all when `None`).
        fn history(
            &self,
            room: RoomName,
            before: Option<u64>,
            limit: u32,
        ) -> BoxFuture<'_, Result<HistoryPage, BackendError>>;
        /// The directory: a bounded list whatever the number of rooms (the busiest live rooms
        /// without posts first, then the most recently active rooms with posts).
        fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>>;
        /// The newest moderation actions, for the holder of a moderator's `secret`.
        fn moderation_log(&self, secret: String) -> BoxFuture<'_, Result<Vec<AuditEntry>, ModerationRefused>>;
        /// Blocks every connection from `address` for `minutes`, for the holder of a
        /// moderator's `secret`; when the block ends (ms since the epoch).
        fn block_address(
            &self,
            secret: String,
            address: String,
            minutes: u32,
        ) -> BoxFuture<'_, Result<i64, ModerationRefused>>;
    }

    /// A moderation request turned down: HTTP 403 (it is the asker's to fix, not the
    /// server's failure), with the reason.
    pub(crate) fn refused(e: ModerationRefused) -> leptos::prelude::ServerFnError {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::FORBIDDEN);
        }
        leptos::prelude::ServerFnError::new(e.to_string())
    }

    pub(crate) fn wall_data() -> Result<Arc<dyn WallData>, leptos::prelude::ServerFnError> {
        leptos::prelude::use_context::<Arc<dyn WallData>>()
            .ok_or_else(|| leptos::prelude::ServerFnError::new("server misconfigured: no wall data"))
    }
}

/// The newest page of `room` (or the page before seq `before`).
#[server]
pub async fn get_history(room: String, before: Option<u64>) -> Result<HistoryPage, ServerFnError> {
    let room = crate::domain::RoomName::parse(&room).map_err(|e| ServerFnError::new(e.to_string()))?;
    let data = backend::wall_data()?;
    data.history(room, before, crate::protocol::HISTORY_PAGE).await.map_err(|e| ServerFnError::new(e.to_string()))
}

/// The room directory.
#[server]
pub async fn list_rooms() -> Result<Vec<RoomSummary>, ServerFnError> {
    let data = backend::wall_data()?;
    data.rooms().await.map_err(|e| ServerFnError::new(e.to_string()))
}

/// The room's public address (`http://host/r/room`), as the browser asking reached the server.
#[server]
pub async fn get_room_url(room: String) -> Result<String, ServerFnError> {
    let room = crate::domain::RoomName::parse(&room).map_err(|e| ServerFnError::new(e.to_string()))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    Ok(crate::address::room_url(&headers, &room))
}

/// The newest moderation actions; the secret travels in the request body, never the URL.
#[server(endpoint = "moderation/log")]
pub async fn moderation_log(secret: String) -> Result<Vec<AuditEntry>, ServerFnError> {
    let data = backend::wall_data()?;
    data.moderation_log(secret).await.map_err(backend::refused)
}

/// Blocks an address from connecting for `minutes`; when the block ends.
#[server(endpoint = "moderation/block_address")]
pub async fn block_address(secret: String, address: String, minutes: u32) -> Result<i64, ServerFnError> {
    let data = backend::wall_data()?;
    data.block_address(secret, address, minutes).await.map_err(backend::refused)
}
