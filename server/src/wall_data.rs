//! The data behind the pages' server functions: posts from the store, live member counts
//! from the hub.

use crate::hub::{Hub, HubError};
use crate::store::{now_ms, Store, StoreError};
use app::api::{BackendError, HistoryPage, RoomSummary, WallData};
use app::domain::RoomName;
use futures::future::BoxFuture;
use futures::FutureExt;

pub struct ServerWallData {
    pub store: Store,
    pub hub: Hub,
}

fn logged(e: impl Into<HubError>) -> BackendError {
    match e.into() {
        // Shutting down: a page still rendering for a client that already left (wrk, a
        // closed tab) finds the pool closed or the hub gone. Nobody is waiting for it.
        HubError::Store(StoreError::Database(sqlx::Error::PoolClosed)) | HubError::Stopped => {
            tracing::debug!("page data skipped: shutting down")
        }
        e => tracing::error!(error = %e, "page data failed"),
    }
    BackendError
}

impl WallData for ServerWallData {
    fn history(
        &self,
        room: RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<HistoryPage, BackendError>> {
        async move {
            let (posts, has_older) = self.store.page(&room, before, limit).await.map_err(logged)?;
            Ok(HistoryPage { posts, has_older, now_ms: now_ms() })
        }
        .boxed()
    }

    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        async move {
            let totals = self.store.rooms().await.map_err(logged)?;
            let mut live = self.hub.member_counts().await.map_err(logged)?;
            let mut rooms: Vec<RoomSummary> = totals
                .into_iter()
                .map(|t| RoomSummary {
                    members: live.remove(&t.room).unwrap_or(0),
                    room: t.room.to_string(),
                    posts: t.posts,
                })
                .collect();
            // Rooms people are in but nobody has posted to yet come first: they are live.
            let mut fresh: Vec<RoomSummary> = live
                .into_iter()
                .map(|(room, members)| RoomSummary { room: room.to_string(), posts: 0, members })
                .collect();
            fresh.sort_by(|a, b| b.members.cmp(&a.members).then(a.room.cmp(&b.room)));
            fresh.append(&mut rooms);
            Ok(fresh)
        }
        .boxed()
    }
}
