//! Durable storage of posts, behind one handle whatever the database: SQLite (the embedded
//! default, one node) or PostgreSQL (shared by several nodes), chosen by the scheme of
//! `--database-url`.
//!
//! Every backend keeps the same promises, checked by one set of contract tests run against
//! both: a room's seqs are dense (1, 2, 3…) and become visible in seq order; a post is durable
//! before its batch returns; a (room, client id) is stored once, however many times and from
//! however many nodes it is sent.
//!
//! # Layout
//! - `mod.rs` — [`Store`], the cloneable handle: the backend, the version the page cache
//!   reads, and the last write failure `/health` reports; the values it takes and returns.
//! - `backend.rs` — the trait both backends implement: the contract, once.
//! - `sequence.rs` — giving each post of a batch its seq (or finding it already stored): the
//!   same rule for both backends, a plain function with its own tests.
//! - `entries.rs` — [`Entries`], part of a room's log as reads return it.
//! - `rows.rs` — a stored row read back into a validated [`Post`].
//! - `tail.rs` — the newest entries of recently read rooms, in memory, kept current by this
//!   store's writes (SQLite only), and the version that says when stored posts changed;
//!   `tail_write.rs`, the guard through which a write tells them (or makes them forget).
//! - `moderation.rs` — moderators, blocks and the audit log: the values, and [`Store`]'s
//!   methods for them.
//! - `sqlite.rs` — SQLite in WAL mode: one writer connection, a pool of readers.
//! - `postgres.rs` — PostgreSQL: a batch locks its rooms' counter rows, so nodes writing the
//!   same room take turns; short timeouts so a dead or paused node cannot freeze a room.

mod backend;
mod entries;
mod postgres;
mod rows;
mod sequence;
mod sqlite;
mod tail;

use crate::claims::ClaimId;
use app::domain::{ClientId, PostText, RoomName, Username, ValidationError};
use app::protocol::Post;
use backend::Backend as _;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tail::{Tail, Tails, TAIL_LEN};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("stored row is invalid ({0}); was the database edited by hand?")]
    Corrupt(#[from] ValidationError),
    #[error("the batch that carried this post failed: {0}")]
    Batch(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH (the default) or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
}

/// A post to store: validated, not yet given a seq.
#[derive(Debug, Clone)]
pub struct PostToInsert {
    pub room: RoomName,
    pub client_id: ClientId,
    pub username: Username,
    pub text: PostText,
    /// The claim its author joined under (posts carry its fingerprint).
    pub claim: Option<ClaimId>,
}

/// A name's claim as stored: the secret only as its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimRow {
    pub name_key: String,
    pub claim_id: String,
    pub secret_hash: String,
    /// The name as first claimed (for the moderators' view).
    pub username: String,
    /// Last used (joined under), in milliseconds since the Unix epoch.
    pub used_ms: i64,
}

/// What storing a post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new post, now durable.
    New(Post),
    /// The room already had a post with this client id: that post, unchanged.
    Duplicate(Post),
    /// The room already had a post with this client id, since deleted: its seq.
    Removed { seq: u64 },
}

/// Who asks for a post to be deleted.
#[derive(Debug, Clone)]
pub enum Deleter {
    /// Whoever joined under this claim: only its own posts.
    Author(ClaimId),
    /// A moderator (by name): any post.
    Moderator(String),
}

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The post is a tombstone now: its name and text are erased.
    Deleted,
    /// It was deleted before.
    AlreadyDeleted,
    /// The room has no post with that seq.
    NoSuchPost,
    /// The post is someone else's.
    NotAllowed,
}

/// A room's totals for the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTotals {
    pub room: RoomName,
    pub posts: u64,
    pub last_ts: i64,
}

/// Longest failure reason kept for `/health`.
const MAX_REASON_CHARS: usize = 300;

/// The database behind a [`Store`], one of the [`backend::Backend`]s.
#[derive(Debug)]
enum Database {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Calls the same [`backend::Backend`] method on whichever database the store has.
macro_rules! on_backend {
    ($store:expr, $db:ident => $call:expr) => {
        match &*$store.backend {
            Database::Sqlite($db) => $call,
            Database::Postgres($db) => $call,
        }
    };
}

mod moderation;
pub use entries::Entries;
pub use moderation::{AuditRow, BlockTarget};

/// A cloneable handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Arc<Database>,
    /// The rooms' newest entries, and the version bumped whenever stored posts change.
    tails: Arc<Tails>,
    /// Why the last write failed; `None` once a write succeeds (or before any).
    last_failure: Arc<Mutex<Option<String>>>,
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH`, created if missing, or
    /// `postgres://USER@HOST:PORT/DB`) and applies its pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let backend = if sqlite {
            Database::Sqlite(sqlite::Sqlite::connect(url).await?)
        } else if Self::is_shared(url) {
            Database::Postgres(postgres::Postgres::connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Self { backend: Arc::new(backend), tails: Arc::new(Tails::new(sqlite)), last_failure: Arc::default() })
    }

    /// Whether `url` names a database several nodes can share (PostgreSQL).
    pub fn is_shared(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Changes whenever posts are stored or deleted: equal versions mean equal posts.
    pub fn version(&self) -> u64 {
        self.tails.version()
    }

    /// Another node stored or deleted posts (heard on the bus), or this node may have missed
    /// that it did: what was read before is out of date.
    pub fn heard_stored_elsewhere(&self) {
        self.tails.changed_elsewhere();
    }

    /// Why the last write failed, if it did: the error as the database put it (never a row's
    /// values), for `/health`. A later successful write clears it.
    pub fn last_write_failure(&self) -> Option<String> {
        self.last_failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stores a batch in one transaction (group commit: one flush for all of them), in order.
    /// Each post gets its room's next seq unless its (room, client id) is already stored or
    /// came earlier in the batch: then the answer is that earlier post. Seqs stay dense.
    /// The outcome is remembered for [`Store::last_write_failure`].
    #[tracing::instrument(level = "debug", skip_all, fields(posts = batch.len()))]
    pub async fn insert_posts(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        let write = self.tails.write();
        let result = on_backend!(self, db => db.insert_batch(batch).await);
        let failure = result.as_ref().err().map(|e| e.to_string().chars().take(MAX_REASON_CHARS).collect());
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
        if let Ok(answers) = &result {
            write.stored(answers);
        }
        result
    }

    /// Up to `limit` of the newest posts with seq below `before`, oldest first, and whether
    /// older ones exist. A room's first page comes from its tail in memory when it has one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn page(&self, room: &RoomName, before: Option<u64>, limit: u32) -> Result<(Entries, bool), StoreError> {
        if before.is_none() && limit <= TAIL_LEN && self.tails.keeps() {
            if let Some(page) = self.tails.first_page(room, limit) {
                return Ok(page);
            }
            let started = self.tails.before_reading(room);
            let (entries, has_older) = on_backend!(self, db => db.page(room, i64::MAX, TAIL_LEN).await)?;
            let tail = Tail::read(entries, has_older);
            let page = tail.page(limit);
            self.tails.keep(room, started, tail);
            return Ok(page);
        }
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        on_backend!(self, db => db.page(room, before, limit).await)
    }

    /// The posts (and tombstones) after `since`, oldest first, if there are at most `limit`
    /// of them and they weigh at most `max_bytes` (text and name); `None` as soon as either is
    /// passed, so a long history is never read into memory whole.
    #[tracing::instrument(level = "debug", skip_all, fields(since = since))]
    pub async fn after_within(
        &self,
        room: &RoomName,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Option<Entries>, StoreError> {
        let since = since.min(i64::MAX as u64) as i64;
        on_backend!(self, db => db.after_within(room, since, limit, max_bytes).await)
    }

    /// The seqs of the deleted posts among `from..=upto`, if at most `limit`; `None` past it.
    pub async fn removed_between(
        &self,
        room: &RoomName,
        from: u64,
        upto: u64,
        limit: u32,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        let (from, upto) = (from.min(i64::MAX as u64) as i64, upto.min(i64::MAX as u64) as i64);
        let removed = on_backend!(self, db => db.removed_between(room, from, upto, limit).await)?;
        Ok((removed.len() <= limit as usize).then_some(removed))
    }

    /// Deletes a post for `by`: its name and text are erased for good (on SQLite the freed
    /// bytes are zeroed and the write-ahead log emptied), its seq stays as a tombstone.
    #[tracing::instrument(level = "debug", skip(self, by))]
    pub async fn delete_post(&self, room: &RoomName, seq: u64, by: &Deleter) -> Result<Deletion, StoreError> {
        let seq = seq.min(i64::MAX as u64) as i64;
        let write = self.tails.write();
        let deleted = on_backend!(self, db => db.delete_post(room, seq, by, now_ms()).await)?;
        match deleted {
            Deletion::Deleted => write.deleted(room, seq as u64),
            _ => write.unchanged(),
        }
        Ok(deleted)
    }

    /// Up to `limit` of the rooms that have posts, most recently active first.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn rooms(&self, limit: u32) -> Result<Vec<RoomTotals>, StoreError> {
        on_backend!(self, db => db.rooms(limit).await)
    }

    /// The totals (and so the newest seq) of those of `rooms` that have posts.
    pub async fn totals_of(&self, rooms: &[RoomName]) -> Result<Vec<RoomTotals>, StoreError> {
        on_backend!(self, db => db.totals_of(rooms).await)
    }

    /// The claim on a name (by its key), lapsed or not.
    pub async fn claim(&self, name_key: &str) -> Result<Option<ClaimRow>, StoreError> {
        on_backend!(self, db => db.claim(name_key).await)
    }

    /// Claims a name: false when it is claimed already (nothing changes then).
    pub async fn insert_claim(&self, row: &ClaimRow) -> Result<bool, StoreError> {
        on_backend!(self, db => db.insert_claim(row).await)
    }

    /// Records a use of the claim `claim_id` on `name_key` at `used_ms`: false if the name
    /// has no such claim (any more).
    pub async fn touch_claim(&self, name_key: &str, claim_id: &str, used_ms: i64) -> Result<bool, StoreError> {
        on_backend!(self, db => db.touch_claim(name_key, claim_id, used_ms).await)
    }

    /// Deletes every claim last used before `used_before`; how many.
    pub async fn remove_lapsed_claims(&self, used_before: i64) -> Result<u64, StoreError> {
        on_backend!(self, db => db.remove_lapsed_claims(used_before).await)
    }

    /// Removes the claim `claim_id` on `name_key` if it was last used before `used_before`
    /// (`i64::MAX`: whenever); false if there was none such.
    pub async fn remove_claim(&self, name_key: &str, claim_id: &str, used_before: i64) -> Result<bool, StoreError> {
        on_backend!(self, db => db.remove_claim(name_key, claim_id, used_before).await)
    }

    /// Waits for in-flight queries and closes the database cleanly.
    pub async fn close(&self) {
        on_backend!(self, db => db.close().await)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
