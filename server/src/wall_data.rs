//! The data behind the pages' server functions: posts from the store, live member counts
//! from the counts the hub keeps (no round trip to it).

use crate::hub::{Hub, HubError};
use crate::moderation::{Moderation, ModerationError};
use crate::store::{now_ms, Store, StoreError};
use app::api::{AuditEntry, BackendError, HistoryPage, ModerationRefused, RoomSummary, WallData};
use app::domain::{ClaimSecret, RoomName};
use futures::future::BoxFuture;
use futures::FutureExt;
use std::collections::HashSet;

/// Rooms with posts the directory lists at most: the most recently active.
pub const STORED_LISTED: u32 = 100;
/// Live rooms the directory lists besides those, at most: the busiest. Rooms anyone can make
/// by joining them, so bounded: 100,000 junk rooms cost no more than 50.
pub const LIVE_LISTED: usize = 50;

pub struct ServerWallData {
    pub store: Store,
    pub hub: Hub,
    pub moderation: Moderation,
}

/// Why a moderation request from the page was turned down, in words for the page.
fn refused(e: ModerationError) -> ModerationRefused {
    if let ModerationError::Store(e) = &e {
        tracing::error!(error = %e, "a moderation request failed");
        return ModerationRefused("the server could not complete the request; try again".into());
    }
    ModerationRefused(e.to_string())
}

/// A moderator's secret as the page sent it: checked for shape, never repeated.
fn secret_of(raw: &str) -> Result<ClaimSecret, ModerationRefused> {
    ClaimSecret::parse(raw.trim()).map_err(|_| refused(ModerationError::NotModerator))
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
            // Deleted posts are named by seq only: their text never leaves the store.
            let (entries, has_older) = self.store.page(&room, before, limit).await.map_err(logged)?;
            let (posts, removed) = entries.into_page_posts();
            Ok(HistoryPage { posts, removed, has_older, now_ms: now_ms() })
        }
        .boxed()
    }

    /// Costs the same however many rooms exist: the [`STORED_LISTED`] most recently active
    /// rooms with posts (from an index), and the [`LIVE_LISTED`] busiest live rooms not among
    /// them (from the counts the hub keeps), whose totals are looked up by key.
    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        async move {
            let occupancy = self.hub.occupancy();
            let mut stored = self.store.rooms(STORED_LISTED).await.map_err(logged)?;
            let listed: HashSet<RoomName> = stored.iter().map(|t| t.room.clone()).collect();
            let live = occupancy.busiest(LIVE_LISTED, |room| !listed.contains(room));
            let names: Vec<RoomName> = live.iter().map(|(room, _)| room.clone()).collect();
            // Live rooms whose posts are older than the stored list's: listed with their posts.
            let older = self.store.totals_of(&names).await.map_err(logged)?;
            let with_posts: HashSet<RoomName> = older.iter().map(|t| t.room.clone()).collect();
            stored.extend(older);
            stored.sort_by(|a, b| b.last_ts.cmp(&a.last_ts).then(a.room.cmp(&b.room)));
            // Rooms people are in but nobody has posted to yet come first (busiest first):
            // they are live.
            let mut rooms: Vec<RoomSummary> = live
                .into_iter()
                .filter(|(room, _)| !with_posts.contains(room))
                .map(|(room, members)| RoomSummary { room: room.to_string(), posts: 0, members })
                .collect();
            rooms.extend(stored.into_iter().map(|t| RoomSummary {
                members: occupancy.people(&t.room),
                room: t.room.to_string(),
                posts: t.posts,
            }));
            Ok(rooms)
        }
        .boxed()
    }

    fn moderation_log(&self, secret: String) -> BoxFuture<'_, Result<Vec<AuditEntry>, ModerationRefused>> {
        async move {
            let rows = self.moderation.audit(&secret_of(&secret)?).await.map_err(refused)?;
            Ok(rows
                .into_iter()
                .map(|r| AuditEntry { at_ms: r.at_ms, moderator: r.moderator, action: r.action, detail: r.detail })
                .collect())
        }
        .boxed()
    }

    fn block_address(
        &self,
        secret: String,
        address: String,
        minutes: u32,
    ) -> BoxFuture<'_, Result<i64, ModerationRefused>> {
        async move {
            let moderator = self.moderation.sign_in(&secret_of(&secret)?).await.map_err(refused)?;
            let address = address.trim().parse().map_err(|_| {
                ModerationRefused(format!(
                    "{:?} is not an IP address (like 203.0.113.7 or 2001:db8::7)",
                    address.trim()
                ))
            })?;
            self.moderation.block_address(&moderator, address, minutes).await.map_err(refused)
        }
        .boxed()
    }
}
