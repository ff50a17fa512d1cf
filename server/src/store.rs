//! Durable storage of posts in SQLite (WAL mode), with migrations embedded in the binary.
//!
//! Only the hub writes, a batch at a time (group commit), so a room's seq is simply
//! `last_seq + 1` inside the same transaction as the post: committed before anyone is told
//! about it.
//!
//! Writes have a connection of their own; reads (pages, server functions, join history) use
//! a separate pool of [`READ_CONNECTIONS`] read-only connections. In WAL mode readers and the
//! one writer run side by side, so a burst of anonymous reads never queues a commit.

use app::domain::{ClientId, PostText, RoomName, Username, ValidationError};
use app::protocol::Post;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, QueryBuilder, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

/// A post to store: validated, not yet given a seq.
#[derive(Debug, Clone)]
pub struct PostToInsert {
    pub room: RoomName,
    pub client_id: ClientId,
    pub username: Username,
    pub text: PostText,
}

/// Rows per multi-row statement: 6 columns each stays far below SQLite's bound-parameter cap.
const ROWS_PER_STATEMENT: usize = 256;

/// What storing a post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new post, now durable.
    New(Post),
    /// The room already had a post with this client id: that post, unchanged.
    Duplicate(Post),
}

/// A room's totals for the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTotals {
    pub room: RoomName,
    pub posts: u64,
    pub last_ts: i64,
}

/// Connections serving reads, shared by every page, server function and join history.
const READ_CONNECTIONS: u32 = 4;

/// How long a statement waits for a lock another process holds (a backup, the sqlite3 shell)
/// before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A cloneable handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    /// The one connection that writes (max one connection, used by nothing else).
    writer: SqlitePool,
    /// Read-only connections (`query_only`) for everything else.
    reads: SqlitePool,
    /// Bumped after every commit that stored posts: what was read before is out of date.
    version: Arc<AtomicU64>,
    /// Why the last write failed; `None` once a write succeeds (or before any).
    last_failure: Arc<Mutex<Option<String>>>,
}

/// Longest failure reason kept for `/health`.
const MAX_REASON_CHARS: usize = 300;

#[derive(FromRow)]
struct PostRow {
    room: String,
    seq: i64,
    client_id: String,
    username: String,
    text: String,
    ts: i64,
}

impl TryFrom<PostRow> for Post {
    type Error = ValidationError;
    fn try_from(row: PostRow) -> Result<Self, Self::Error> {
        Ok(Post {
            room: RoomName::parse(&row.room)?,
            seq: row.seq as u64,
            client_id: ClientId::parse(&row.client_id)?,
            username: Username::parse(&row.username)?,
            text: PostText::parse(&row.text)?,
            ts: row.ts,
        })
    }
}

fn into_posts(rows: Vec<PostRow>) -> Result<Vec<Post>, StoreError> {
    rows.into_iter().map(|r| Post::try_from(r).map_err(StoreError::from)).collect()
}

fn into_totals(rows: Vec<(String, i64, i64)>) -> Result<Vec<RoomTotals>, StoreError> {
    rows.into_iter()
        .map(|(room, posts, last_ts)| Ok(RoomTotals { room: RoomName::parse(&room)?, posts: posts as u64, last_ts }))
        .collect()
}

const POST_COLUMNS: &str = "room, seq, client_id, username, text, ts";

impl Store {
    /// Changes whenever posts are stored: equal versions mean equal posts.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Opens (creating if needed) the database file at `url` and applies pending migrations.
    /// The writer and the readers each open the file, so it must be a file, not `:memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?.busy_timeout(BUSY_TIMEOUT);
        let write_options = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged post survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full);
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(write_options).await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        // Opened after the writer made the file and switched it to WAL (which the file keeps).
        let read_options = options.pragma("query_only", "ON");
        let reads = SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(read_options).await?;
        Ok(Self { writer, reads, version: Arc::new(AtomicU64::new(0)), last_failure: Arc::default() })
    }

    /// Why the last write failed, if it did: the error as SQLite put it (never a row's
    /// values), for `/health`. A later successful write clears it.
    pub fn last_write_failure(&self) -> Option<String> {
        self.last_failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stores a batch in one transaction (group commit: one fsync for all of them), in order.
    /// Each post gets its room's next seq unless its (room, client id) is already stored or
    /// came earlier in the batch: then the answer is that earlier post. Seqs stay dense.
    /// The outcome is remembered for [`Store::last_write_failure`].
    #[tracing::instrument(level = "debug", skip_all, fields(posts = batch.len()))]
    pub async fn insert_posts(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        let result = self.insert_batch(batch).await;
        let failure = result.as_ref().err().map(|e| e.to_string().chars().take(MAX_REASON_CHARS).collect());
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
        result
    }

    async fn insert_batch(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a lock held by another process is
        // waited for (up to BUSY_TIMEOUT) instead of failing the batch at its first INSERT.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut known = self.existing(&mut tx, batch).await?;
        let mut last_seq = self.last_seqs(&mut tx, batch).await?;
        let ts = now_ms();
        let mut answers = Vec::with_capacity(batch.len());
        let mut fresh = Vec::new();
        for new in batch {
            let key = (new.room.as_str().to_owned(), new.client_id.as_str().to_owned());
            if let Some(post) = known.get(&key) {
                answers.push(Inserted::Duplicate(post.clone()));
                continue;
            }
            let seq = last_seq.entry(new.room.as_str().to_owned()).or_insert(0);
            *seq += 1;
            let post = Post {
                room: new.room.clone(),
                seq: *seq,
                client_id: new.client_id.clone(),
                username: new.username.clone(),
                text: new.text.clone(),
                ts,
            };
            known.insert(key, post.clone());
            fresh.push(post.clone());
            answers.push(Inserted::New(post));
        }
        for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(format!("INSERT INTO posts ({POST_COLUMNS}) "));
            insert.push_values(chunk, |mut row, p| {
                row.push_bind(p.room.as_str())
                    .push_bind(p.seq as i64)
                    .push_bind(p.client_id.as_str())
                    .push_bind(p.username.as_str())
                    .push_bind(p.text.as_str())
                    .push_bind(p.ts);
            });
            insert.build().execute(&mut *tx).await?;
        }
        // In batch order, so each room's last entry is its highest seq.
        let touched: HashMap<&str, u64> = fresh.iter().map(|p| (p.room.as_str(), p.seq)).collect();
        let touched: Vec<(&str, u64)> = touched.into_iter().collect();
        for chunk in touched.chunks(ROWS_PER_STATEMENT) {
            let mut upsert = QueryBuilder::new("INSERT INTO rooms (room, last_seq, last_ts) ");
            upsert.push_values(chunk, |mut row, (room, seq)| {
                row.push_bind(*room).push_bind(*seq as i64).push_bind(ts);
            });
            upsert.push(" ON CONFLICT (room) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts");
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if !fresh.is_empty() {
            self.version.fetch_add(1, Ordering::Release);
        }
        Ok(answers)
    }

    /// The already stored posts among the batch's (room, client id) pairs.
    async fn existing(
        &self,
        tx: &mut sqlx::SqliteConnection,
        batch: &[PostToInsert],
    ) -> Result<HashMap<(String, String), Post>, StoreError> {
        let mut found = HashMap::new();
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            // A join against the batch's pairs, so each is one lookup in the UNIQUE (room,
            // client_id) index (a row-value IN list would scan the table).
            let mut select = QueryBuilder::new("WITH batch (room, client_id) AS (VALUES ");
            let mut pairs = select.separated(", ");
            for p in chunk {
                pairs.push("(").push_bind_unseparated(p.room.as_str());
                pairs.push_unseparated(", ").push_bind_unseparated(p.client_id.as_str()).push_unseparated(")");
            }
            select.push(
                ") SELECT p.room, p.seq, p.client_id, p.username, p.text, p.ts FROM batch \
                 JOIN posts p ON p.room = batch.room AND p.client_id = batch.client_id",
            );
            let rows: Vec<PostRow> = select.build_query_as().fetch_all(&mut *tx).await?;
            for post in into_posts(rows)? {
                found.insert((post.room.as_str().to_owned(), post.client_id.as_str().to_owned()), post);
            }
        }
        Ok(found)
    }

    /// The last seq handed out in each of the batch's rooms (absent: none yet).
    async fn last_seqs(
        &self,
        tx: &mut sqlx::SqliteConnection,
        batch: &[PostToInsert],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let rooms: HashSet<&str> = batch.iter().map(|p| p.room.as_str()).collect();
        let rooms: Vec<&str> = rooms.into_iter().collect();
        let mut seqs = HashMap::new();
        for chunk in rooms.chunks(ROWS_PER_STATEMENT) {
            let mut select = QueryBuilder::new("SELECT room, last_seq FROM rooms WHERE room IN (");
            let mut names = select.separated(", ");
            for room in chunk {
                names.push_bind(*room);
            }
            select.push(")");
            let rows: Vec<(String, i64)> = select.build_query_as().fetch_all(&mut *tx).await?;
            seqs.extend(rows.into_iter().map(|(room, seq)| (room, seq as u64)));
        }
        Ok(seqs)
    }

    /// Up to `limit` of the newest posts with seq below `before`, oldest first, and whether
    /// older ones exist.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<Post>, bool), StoreError> {
        let before = before.map_or(i64::MAX, |b| b as i64);
        let mut rows: Vec<PostRow> = sqlx::query_as(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(room.as_str())
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reads)
        .await?;
        let has_older = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        rows.reverse();
        Ok((into_posts(rows)?, has_older))
    }

    /// Up to `limit` posts with seq above `since`, oldest first.
    /// The posts after `since`, oldest first, if there are at most `limit` of them and they
    /// weigh at most `max_bytes` (text and name); `None` as soon as either is passed, so a
    /// long history is never read into memory whole.
    #[tracing::instrument(level = "debug", skip_all, fields(since = since))]
    pub async fn after_within(
        &self,
        room: &RoomName,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Option<Vec<Post>>, StoreError> {
        use futures::TryStreamExt;
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND seq > ? ORDER BY seq ASC LIMIT ?");
        let mut rows = sqlx::query_as::<_, PostRow>(&sql)
            .bind(room.as_str())
            .bind(since.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit) + 1)
            .fetch(&self.reads);
        let (mut posts, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.try_next().await? {
            let post = Post::try_from(row)?;
            bytes = bytes.saturating_add(post.text.as_str().len() + post.username.as_str().len());
            if posts.len() == limit as usize || bytes > max_bytes {
                return Ok(None);
            }
            posts.push(post);
        }
        Ok(Some(posts))
    }

    /// Up to `limit` of the rooms that have posts, most recently active first (read from the
    /// `rooms_by_last_ts` index).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn rooms(&self, limit: u32) -> Result<Vec<RoomTotals>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT room, last_seq, last_ts FROM rooms ORDER BY last_ts DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.reads)
                .await?;
        into_totals(rows)
    }

    /// The totals of those of `rooms` that have posts (one primary-key lookup each).
    pub async fn totals_of(&self, rooms: &[RoomName]) -> Result<Vec<RoomTotals>, StoreError> {
        let mut found = Vec::new();
        for chunk in rooms.chunks(ROWS_PER_STATEMENT) {
            let mut select = QueryBuilder::new("SELECT room, last_seq, last_ts FROM rooms WHERE room IN (");
            let mut names = select.separated(", ");
            for room in chunk {
                names.push_bind(room.as_str());
            }
            select.push(")");
            let rows: Vec<(String, i64, i64)> = select.build_query_as().fetch_all(&self.reads).await?;
            found.extend(into_totals(rows)?);
        }
        Ok(found)
    }

    /// Waits for in-flight queries and closes the database cleanly.
    pub async fn close(&self) {
        self.reads.close().await;
        self.writer.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
