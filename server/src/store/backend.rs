//! What a database must do to hold the wall: the one contract both backends keep, and the
//! contract tests (`server/tests/support/store_contract.rs`) check on each. [`Store`] calls
//! it on whichever backend its URL chose; the set is closed (SQLite, PostgreSQL), so the
//! call is a `match`, not a boxed future per query.
//!
//! [`Store`]: super::Store

use super::{AuditRow, ClaimRow, Deleter, Deletion, Entries, Inserted, PostToInsert, RoomTotals, StoreError};
use app::domain::RoomName;

pub(super) trait Backend: Send + Sync {
    /// Stores a batch in one transaction, in order: each post gets its room's next seq (seqs
    /// dense, visible in seq order) unless its (room, client id) is stored already or came
    /// earlier in the batch.
    async fn insert_batch(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError>;

    /// Up to `limit` of the newest posts with seq below `before`, oldest first, and whether
    /// older ones exist.
    async fn page(&self, room: &RoomName, before: i64, limit: u32) -> Result<(Entries, bool), StoreError>;

    /// The posts and tombstones after `since`, oldest first, if at most `limit` weighing at
    /// most `max_bytes`; `None` as soon as either is passed.
    async fn after_within(
        &self,
        room: &RoomName,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Option<Entries>, StoreError>;

    /// The seqs of tombstones among `from..=upto`, ascending, at most `limit + 1` of them.
    async fn removed_between(&self, room: &RoomName, from: i64, upto: i64, limit: u32) -> Result<Vec<u64>, StoreError>;

    /// Makes the post a tombstone if `by` may (its name and text erased, `deleted_ms` set).
    async fn delete_post(&self, room: &RoomName, seq: i64, by: &Deleter, now_ms: i64) -> Result<Deletion, StoreError>;

    /// Up to `limit` of the rooms that have posts, most recently active first.
    async fn rooms(&self, limit: u32) -> Result<Vec<RoomTotals>, StoreError>;

    /// The totals of those of `rooms` that have posts.
    async fn totals_of(&self, rooms: &[RoomName]) -> Result<Vec<RoomTotals>, StoreError>;

    /// The claim on a name, by its key.
    async fn claim(&self, name_key: &str) -> Result<Option<ClaimRow>, StoreError>;

    /// Inserts the claim unless the name has one: whether it was inserted.
    async fn insert_claim(&self, row: &ClaimRow) -> Result<bool, StoreError>;

    /// Sets the last use of the claim `claim_id` on `name_key`: whether there was one.
    async fn touch_claim(&self, name_key: &str, claim_id: &str, used_ms: i64) -> Result<bool, StoreError>;

    async fn remove_lapsed_claims(&self, used_before: i64) -> Result<u64, StoreError>;

    /// Deletes the claim `claim_id` on `name_key` if last used before `used_before`.
    async fn remove_claim(&self, name_key: &str, claim_id: &str, used_before: i64) -> Result<bool, StoreError>;

    /// Adds a moderator unless the name has one: whether it was added.
    async fn insert_moderator(&self, name: &str, secret_hash: &str, created_ms: i64) -> Result<bool, StoreError>;

    /// Removes a moderator: whether there was one of that name.
    async fn remove_moderator(&self, name: &str) -> Result<bool, StoreError>;

    /// The moderator whose secret has this hash.
    async fn moderator(&self, secret_hash: &str) -> Result<Option<String>, StoreError>;

    /// Blocks `target` until `until_ms`, or later if it is blocked until later already.
    async fn put_block(&self, target: &str, until_ms: i64) -> Result<(), StoreError>;

    /// Every block that ends after `now_ms`.
    async fn blocks(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;

    async fn append_audit(&self, row: &AuditRow) -> Result<(), StoreError>;

    /// The newest `limit` audit rows, newest first.
    async fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError>;

    /// The claim a post was written under: `None` if there is no such post.
    async fn post_claim(&self, room: &RoomName, seq: i64) -> Result<Option<Option<String>>, StoreError>;

    /// Waits for in-flight queries and closes the connections.
    async fn close(&self);
}
