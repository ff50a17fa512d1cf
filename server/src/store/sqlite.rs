//! SQLite (WAL mode), with migrations embedded in the binary: the embedded default.
//!
//! Only the hub writes, a batch at a time (group commit), so a room's seq is `last_seq + 1`
//! read inside the same `BEGIN IMMEDIATE` transaction as the post: committed before anyone is
//! told about it. A second process on the same file waits for the write lock (up to
//! [`BUSY_TIMEOUT`]) instead of numbering alongside.
//!
//! Writes have a connection of their own; reads (pages, server functions, join history) use
//! a separate pool of [`READ_CONNECTIONS`] read-only connections. In WAL mode readers and the
//! one writer run side by side, so a burst of anonymous reads never queues a commit.

use super::backend::Backend;
use super::rows::{collect_within, into_page, into_totals, judge_deletion, PostRow};
use super::rows::{INSERT_COLUMNS, POST_COLUMNS};
use super::sequence::{heads, key_of, sequence, PostKey};
use super::{now_ms, AuditRow, ClaimRow, Deleter, Deletion, Entries, Inserted, PostToInsert, RoomTotals, StoreError};
use app::domain::RoomName;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Rows per multi-row statement: 7 columns each stays far below SQLite's bound-parameter cap.
const ROWS_PER_STATEMENT: usize = 256;

/// Connections serving reads, shared by every page, server function and join history.
const READ_CONNECTIONS: u32 = 4;

/// How long a statement waits for a lock another process holds (a backup, the sqlite3 shell)
/// before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Sqlite {
    /// The one connection that writes posts (max one connection, used by nothing else).
    writer: SqlitePool,
    /// The connection that writes name claims, with `synchronous = NORMAL`: a claim commits
    /// without waiting for the disk (tens of milliseconds here), so a crowd arriving does
    /// not queue behind one flush each, nor hold up the posts' writer. A power cut can lose
    /// the last claims; their holders' next join simply claims the names again.
    claims: SqlitePool,
    /// Read-only connections (`query_only`) for everything else.
    reads: SqlitePool,
    /// Wakes the task that empties the write-ahead log after deletions.
    checkpoint: Arc<Notify>,
}

impl Sqlite {
    /// Opens (creating if needed) the database file at `url` and applies pending migrations.
    /// The writer and the readers each open the file, so it must be a file, not `:memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?.busy_timeout(BUSY_TIMEOUT);
        let write_options = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged post survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full)
            // A deleted post's bytes are overwritten with zeros, not left in free space.
            .pragma("secure_delete", "ON");
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(write_options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // Opened after the writer made the file and switched it to WAL (which the file keeps).
        let claim_options = options.clone().synchronous(SqliteSynchronous::Normal);
        let read_options = options.pragma("query_only", "ON");
        let claims = SqlitePoolOptions::new().max_connections(1).connect_with(claim_options).await?;
        let reads = SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(read_options).await?;
        let checkpoint = Arc::new(Notify::new());
        tokio::spawn(empty_the_log_after_deletions(writer.clone(), Arc::clone(&checkpoint)));
        Ok(Self { writer, claims, reads, checkpoint })
    }
}

impl Backend for Sqlite {
    async fn insert_batch(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a lock held by another process is
        // waited for (up to BUSY_TIMEOUT) instead of failing the batch at its first INSERT.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let known = existing(&mut tx, batch).await?;
        let last_seq = last_seqs(&mut tx, batch).await?;
        let ts = now_ms();
        let sequenced = sequence(batch, known, last_seq, ts);
        for chunk in sequenced.fresh.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(format!("INSERT INTO posts ({INSERT_COLUMNS}) "));
            insert.push_values(chunk, |mut row, (p, claim)| {
                row.push_bind(p.room.as_str())
                    .push_bind(p.seq as i64)
                    .push_bind(p.client_id.as_str())
                    .push_bind(p.username.as_str())
                    .push_bind(p.text.as_str())
                    .push_bind(p.ts)
                    .push_bind(claim.as_ref().map(|c| c.as_str().to_owned()));
            });
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in heads(sequenced.fresh.iter().map(|(p, _)| p)).chunks(ROWS_PER_STATEMENT) {
            let mut upsert = QueryBuilder::new("INSERT INTO rooms (room, last_seq, last_ts) ");
            upsert.push_values(chunk, |mut row, (room, seq)| {
                row.push_bind(room.as_str()).push_bind(*seq as i64).push_bind(ts);
            });
            upsert.push(" ON CONFLICT (room) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts");
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(sequenced.answers)
    }

    async fn page(&self, room: &RoomName, before: i64, limit: u32) -> Result<(Entries, bool), StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?");
        let rows: Vec<PostRow> = sqlx::query_as(&sql)
            .bind(room.as_str())
            .bind(before)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.reads)
            .await?;
        into_page(rows, limit)
    }

    async fn after_within(
        &self,
        room: &RoomName,
        since: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Option<Entries>, StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND seq > ? ORDER BY seq ASC LIMIT ?");
        let rows = sqlx::query_as::<_, PostRow>(&sql)
            .bind(room.as_str())
            .bind(since)
            .bind(i64::from(limit) + 1)
            .fetch(&self.reads);
        collect_within(rows, limit, max_bytes).await
    }

    /// From the partial index `posts_removed`: tombstones only.
    async fn removed_between(&self, room: &RoomName, from: i64, upto: i64, limit: u32) -> Result<Vec<u64>, StoreError> {
        let seqs: Vec<(i64,)> = sqlx::query_as(
            "SELECT seq FROM posts WHERE room = ? AND seq BETWEEN ? AND ? AND deleted_ms IS NOT NULL \
             ORDER BY seq LIMIT ?",
        )
        .bind(room.as_str())
        .bind(from)
        .bind(upto)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reads)
        .await?;
        Ok(seqs.into_iter().map(|(seq,)| seq as u64).collect())
    }

    /// With `secure_delete` the old bytes are zeroed in the file; the write-ahead log still
    /// holds pages as they were, so it is emptied after the commit, by a task of its own.
    async fn delete_post(&self, room: &RoomName, seq: i64, by: &Deleter, now_ms: i64) -> Result<Deletion, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let found: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT claim_id, deleted_ms FROM posts WHERE room = ? AND seq = ?")
                .bind(room.as_str())
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?;
        let verdict = judge_deletion(found, by);
        if verdict != Deletion::Deleted {
            return Ok(verdict);
        }
        sqlx::query("UPDATE posts SET username = '', text = '', deleted_ms = ? WHERE room = ? AND seq = ?")
            .bind(now_ms)
            .bind(room.as_str())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.checkpoint.notify_one();
        Ok(Deletion::Deleted)
    }

    /// Read from the `rooms_by_last_ts` index, newest first.
    async fn rooms(&self, limit: u32) -> Result<Vec<RoomTotals>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT room, last_seq, last_ts FROM rooms ORDER BY last_ts DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.reads)
                .await?;
        into_totals(rows)
    }

    /// One primary-key lookup per room.
    async fn totals_of(&self, rooms: &[RoomName]) -> Result<Vec<RoomTotals>, StoreError> {
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

    async fn claim(&self, name_key: &str) -> Result<Option<ClaimRow>, StoreError> {
        let sql = "SELECT name_key, claim_id, secret_hash, username, used_ms FROM claims WHERE name_key = ?";
        Ok(sqlx::query_as(sql).bind(name_key).fetch_optional(&self.reads).await?)
    }

    async fn insert_claim(&self, row: &ClaimRow) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO claims (name_key, claim_id, secret_hash, username, used_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(&row.name_key)
        .bind(&row.claim_id)
        .bind(&row.secret_hash)
        .bind(&row.username)
        .bind(row.used_ms)
        .execute(&self.claims)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn touch_claim(&self, name_key: &str, claim_id: &str, used_ms: i64) -> Result<bool, StoreError> {
        let touched = sqlx::query("UPDATE claims SET used_ms = ? WHERE name_key = ? AND claim_id = ?")
            .bind(used_ms)
            .bind(name_key)
            .bind(claim_id)
            .execute(&self.claims)
            .await?;
        Ok(touched.rows_affected() == 1)
    }

    async fn remove_lapsed_claims(&self, used_before: i64) -> Result<u64, StoreError> {
        let removed =
            sqlx::query("DELETE FROM claims WHERE used_ms < ?").bind(used_before).execute(&self.claims).await?;
        Ok(removed.rows_affected())
    }

    async fn remove_claim(&self, name_key: &str, claim_id: &str, used_before: i64) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM claims WHERE name_key = ? AND claim_id = ? AND used_ms < ?")
            .bind(name_key)
            .bind(claim_id)
            .bind(used_before)
            .execute(&self.claims)
            .await?;
        Ok(removed.rows_affected() == 1)
    }

    async fn insert_moderator(&self, name: &str, secret_hash: &str, created_ms: i64) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO moderators (name, secret_hash, created_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(secret_hash)
        .bind(created_ms)
        .execute(&self.writer)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn remove_moderator(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM moderators WHERE name = ?").bind(name).execute(&self.writer).await?;
        Ok(removed.rows_affected() == 1)
    }

    async fn moderator(&self, secret_hash: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String,)> = sqlx::query_as("SELECT name FROM moderators WHERE secret_hash = ?")
            .bind(secret_hash)
            .fetch_optional(&self.reads)
            .await?;
        Ok(found.map(|(name,)| name))
    }

    async fn put_block(&self, target: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blocks (target, until_ms) VALUES (?, ?) \
             ON CONFLICT (target) DO UPDATE SET until_ms = MAX(blocks.until_ms, excluded.until_ms)",
        )
        .bind(target)
        .bind(until_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn blocks(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT target, until_ms FROM blocks WHERE until_ms > ?")
            .bind(now_ms)
            .fetch_all(&self.reads)
            .await?)
    }

    async fn append_audit(&self, row: &AuditRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (at_ms, moderator, action, detail) VALUES (?, ?, ?, ?)")
            .bind(row.at_ms)
            .bind(&row.moderator)
            .bind(&row.action)
            .bind(&row.detail)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as("SELECT at_ms, moderator, action, detail FROM audit ORDER BY id DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.reads)
            .await?)
    }

    async fn post_claim(&self, room: &RoomName, seq: i64) -> Result<Option<Option<String>>, StoreError> {
        let found: Option<(Option<String>,)> = sqlx::query_as("SELECT claim_id FROM posts WHERE room = ? AND seq = ?")
            .bind(room.as_str())
            .bind(seq)
            .fetch_optional(&self.reads)
            .await?;
        Ok(found.map(|(claim,)| claim))
    }

    async fn close(&self) {
        self.reads.close().await;
        self.claims.close().await;
        self.writer.close().await;
        // Wakes the log task so it sees the writer closed and ends.
        self.checkpoint.notify_one();
    }
}

/// Empties the write-ahead log (`wal_checkpoint(TRUNCATE)`: every page into the database
/// file, then the log cut to nothing) whenever a deletion asks, so a deleted post's old pages
/// do not outlive it there. Apart from the deletion itself, so the hub never waits on a
/// checkpoint; deletions during one are served by the next. Ends once the writer is closed.
async fn empty_the_log_after_deletions(writer: SqlitePool, wanted: Arc<Notify>) {
    while !writer.is_closed() {
        wanted.notified().await;
        let truncated: Result<(i64, i64, i64), _> =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&writer).await;
        match truncated {
            Ok((0, _, _)) => {}
            // Readers held old snapshots past the busy timeout: try again after the next one.
            Ok(_) => {
                tracing::warn!("the write-ahead log could not be emptied after a deletion; retrying");
                tokio::time::sleep(BUSY_TIMEOUT).await;
                wanted.notify_one();
            }
            Err(e) if writer.is_closed() => tracing::debug!(error = %e, "store closed"),
            Err(e) => tracing::warn!(error = %e, "emptying the write-ahead log after a deletion failed"),
        }
    }
}

/// The already stored posts among the batch's (room, client id) pairs.
async fn existing(
    tx: &mut sqlx::SqliteConnection,
    batch: &[PostToInsert],
) -> Result<HashMap<PostKey, Inserted>, StoreError> {
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
            ") SELECT p.room, p.seq, p.client_id, p.username, p.text, p.ts, p.claim_id, p.deleted_ms FROM batch \
             JOIN posts p ON p.room = batch.room AND p.client_id = batch.client_id",
        );
        let rows: Vec<PostRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        for row in rows {
            let (room, client_id, known) = row.into_known()?;
            found.insert(key_of(&room, &client_id), known);
        }
    }
    Ok(found)
}

/// The last seq handed out in each of the batch's rooms (absent: none yet).
async fn last_seqs(
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
