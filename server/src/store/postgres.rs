//! PostgreSQL: the store several nodes share.
//!
//! A batch runs in one transaction: it makes sure each of its rooms has a counter row, locks
//! those rows (`FOR UPDATE`, in room order, so two nodes never wait on each other in a
//! circle), then — in a following statement, so it sees whatever the node it waited for
//! committed — looks for client ids already stored, inserts the new posts and moves the
//! counters. So a room's seqs are dense, become visible in seq order (seq n+1 is committed
//! with, or after, n), and a retry racing its original on another node is found, not
//! doubled. No `SEQUENCE`: it leaves gaps on rollback and lets n+1 be seen before n.
//!
//! Timeouts are short, so a node that dies or pauses holding a room's lock cannot freeze
//! that room, and an unreachable database cannot freeze this node's hub (which awaits each
//! batch): a connection is waited for at most [`ACQUIRE_TIMEOUT`], a lock at most 2 s, a
//! statement at most 10 s, a transaction left idle is ended by the server after 5 s, and a
//! batch gives up after [`BATCH_TIMEOUT`] whatever the server does (a retried post is never
//! doubled). Posts take their time from the database's clock: one clock for every node.

use super::backend::Backend;
use super::rows::{collect_within, into_page, into_totals, judge_deletion, PostRow};
use super::rows::{INSERT_COLUMNS, POST_COLUMNS};
use super::sequence::{heads, key_of, sequence};
use super::{AuditRow, ClaimRow, Deleter, Deletion, Entries, Inserted, PostToInsert, RoomTotals, StoreError};
use crate::claims::ClaimId;
use app::domain::RoomName;
use app::protocol::Post;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Connections per node: the hub's writes and every read share them.
const CONNECTIONS: u32 = 8;

/// Longest wait for a free connection before the request fails (and says so).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Set on every connection: the lock, statement and idle-transaction bounds described above.
const SESSION_SETTINGS: [(&str, &str); 3] =
    [("lock_timeout", "2s"), ("statement_timeout", "10s"), ("idle_in_transaction_session_timeout", "5s")];

/// Longest a batch may take, on this side of the connection (a database that stopped
/// answering enforces none of the above).
const BATCH_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// Connects to the database at `url` and applies pending migrations (sqlx holds an
    /// advisory lock meanwhile, so nodes starting together migrate once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.options(SESSION_SETTINGS);
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn insert_batch_in_time(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        let mut rooms: Vec<String> = batch.iter().map(|p| p.room.as_str().to_owned()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO rooms (room, last_seq, last_ts) SELECT r, 0, 0 FROM UNNEST($1::text[]) AS t(r) ORDER BY r \
             ON CONFLICT (room) DO NOTHING",
        )
        .bind(&rooms)
        .execute(&mut *tx)
        .await?;
        let locked: Vec<(String, i64)> =
            sqlx::query_as("SELECT room, last_seq FROM rooms WHERE room = ANY($1) ORDER BY room FOR UPDATE")
                .bind(&rooms)
                .fetch_all(&mut *tx)
                .await?;
        let last_seq: HashMap<String, u64> = locked.into_iter().map(|(room, seq)| (room, seq as u64)).collect();
        let (batch_rooms, batch_ids): (Vec<&str>, Vec<&str>) =
            batch.iter().map(|p| (p.room.as_str(), p.client_id.as_str())).unzip();
        let rows: Vec<PostRow> = sqlx::query_as(
            "SELECT p.room, p.seq, p.client_id, p.username, p.text, p.ts, p.claim_id, p.deleted_ms \
             FROM UNNEST($1::text[], $2::text[]) AS b(room, client_id) \
             JOIN posts p ON p.room = b.room AND p.client_id = b.client_id",
        )
        .bind(&batch_rooms)
        .bind(&batch_ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut known = HashMap::new();
        for row in rows {
            let (room, client_id, answer) = row.into_known()?;
            known.insert(key_of(&room, &client_id), answer);
        }
        let (ts,): (i64,) =
            sqlx::query_as("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::int8").fetch_one(&mut *tx).await?;
        let sequenced = sequence(batch, known, last_seq, ts);
        insert_posts(&mut tx, &sequenced.fresh).await?;
        let (head_rooms, head_seqs): (Vec<String>, Vec<i64>) =
            heads(sequenced.fresh.iter().map(|(p, _)| p)).into_iter().map(|(room, seq)| (room, seq as i64)).unzip();
        sqlx::query(
            "UPDATE rooms SET last_seq = h.seq, last_ts = $3 FROM UNNEST($1::text[], $2::int8[]) AS h(room, seq) \
             WHERE rooms.room = h.room",
        )
        .bind(&head_rooms)
        .bind(&head_seqs)
        .bind(ts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(sequenced.answers)
    }
}

impl Backend for Postgres {
    async fn insert_batch(&self, batch: &[PostToInsert]) -> Result<Vec<Inserted>, StoreError> {
        // Dropping the transaction on timeout rolls it back (or the server ends it).
        tokio::time::timeout(BATCH_TIMEOUT, self.insert_batch_in_time(batch))
            .await
            .map_err(|_| StoreError::Batch(format!("no answer from PostgreSQL within {BATCH_TIMEOUT:?}")))?
    }

    async fn page(&self, room: &RoomName, before: i64, limit: u32) -> Result<(Entries, bool), StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3");
        let rows: Vec<PostRow> = sqlx::query_as(&sql)
            .bind(room.as_str())
            .bind(before)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
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
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3");
        let rows = sqlx::query_as::<_, PostRow>(&sql)
            .bind(room.as_str())
            .bind(since)
            .bind(i64::from(limit) + 1)
            .fetch(&self.pool);
        collect_within(rows, limit, max_bytes).await
    }

    /// From the partial index `posts_removed`: tombstones only.
    async fn removed_between(&self, room: &RoomName, from: i64, upto: i64, limit: u32) -> Result<Vec<u64>, StoreError> {
        let seqs: Vec<(i64,)> = sqlx::query_as(
            "SELECT seq FROM posts WHERE room = $1 AND seq BETWEEN $2 AND $3 AND deleted_ms IS NOT NULL \
             ORDER BY seq LIMIT $4",
        )
        .bind(room.as_str())
        .bind(from)
        .bind(upto)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(seqs.into_iter().map(|(seq,)| seq as u64).collect())
    }

    /// The row is locked while it is judged, so two nodes deleting it at once cannot both
    /// report `Deleted`. The old row version stays in the table's file until (auto)vacuum
    /// reclaims it (see docs/OPERATIONS.md).
    async fn delete_post(&self, room: &RoomName, seq: i64, by: &Deleter, now_ms: i64) -> Result<Deletion, StoreError> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT claim_id, deleted_ms FROM posts WHERE room = $1 AND seq = $2 FOR UPDATE")
                .bind(room.as_str())
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?;
        let verdict = judge_deletion(found, by);
        if verdict != Deletion::Deleted {
            return Ok(verdict);
        }
        sqlx::query("UPDATE posts SET username = '', text = '', deleted_ms = $1 WHERE room = $2 AND seq = $3")
            .bind(now_ms)
            .bind(room.as_str())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Deletion::Deleted)
    }

    /// Rooms with posts (a counter row made by a batch that stored nothing has none), newest
    /// first, from the `rooms_by_last_ts` index.
    async fn rooms(&self, limit: u32) -> Result<Vec<RoomTotals>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT room, last_seq, last_ts FROM rooms WHERE last_seq > 0 ORDER BY last_ts DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        into_totals(rows)
    }

    async fn totals_of(&self, rooms: &[RoomName]) -> Result<Vec<RoomTotals>, StoreError> {
        let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT room, last_seq, last_ts FROM rooms WHERE room = ANY($1) AND last_seq > 0")
                .bind(&names)
                .fetch_all(&self.pool)
                .await?;
        into_totals(rows)
    }

    async fn claim(&self, name_key: &str) -> Result<Option<ClaimRow>, StoreError> {
        let sql = "SELECT name_key, claim_id, secret_hash, username, used_ms FROM claims WHERE name_key = $1";
        Ok(sqlx::query_as(sql).bind(name_key).fetch_optional(&self.pool).await?)
    }

    /// Committed without waiting for the WAL flush (`synchronous_commit = off`): a crash can
    /// lose the last claims, whose holders' next join claims the names again.
    async fn insert_claim(&self, row: &ClaimRow) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        let inserted = sqlx::query(
            "INSERT INTO claims (name_key, claim_id, secret_hash, username, used_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(&row.name_key)
        .bind(&row.claim_id)
        .bind(&row.secret_hash)
        .bind(&row.username)
        .bind(row.used_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn touch_claim(&self, name_key: &str, claim_id: &str, used_ms: i64) -> Result<bool, StoreError> {
        let touched = sqlx::query("UPDATE claims SET used_ms = $1 WHERE name_key = $2 AND claim_id = $3")
            .bind(used_ms)
            .bind(name_key)
            .bind(claim_id)
            .execute(&self.pool)
            .await?;
        Ok(touched.rows_affected() == 1)
    }

    async fn remove_lapsed_claims(&self, used_before: i64) -> Result<u64, StoreError> {
        let removed =
            sqlx::query("DELETE FROM claims WHERE used_ms < $1").bind(used_before).execute(&self.pool).await?;
        Ok(removed.rows_affected())
    }

    async fn remove_claim(&self, name_key: &str, claim_id: &str, used_before: i64) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM claims WHERE name_key = $1 AND claim_id = $2 AND used_ms < $3")
            .bind(name_key)
            .bind(claim_id)
            .bind(used_before)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected() == 1)
    }

    async fn insert_moderator(&self, name: &str, secret_hash: &str, created_ms: i64) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO moderators (name, secret_hash, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(secret_hash)
        .bind(created_ms)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn remove_moderator(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM moderators WHERE name = $1").bind(name).execute(&self.pool).await?;
        Ok(removed.rows_affected() == 1)
    }

    async fn moderator(&self, secret_hash: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String,)> = sqlx::query_as("SELECT name FROM moderators WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.map(|(name,)| name))
    }

    async fn put_block(&self, target: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blocks (target, until_ms) VALUES ($1, $2) \
             ON CONFLICT (target) DO UPDATE SET until_ms = GREATEST(blocks.until_ms, excluded.until_ms)",
        )
        .bind(target)
        .bind(until_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn blocks(&self, now_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT target, until_ms FROM blocks WHERE until_ms > $1")
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn append_audit(&self, row: &AuditRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (at_ms, moderator, action, detail) VALUES ($1, $2, $3, $4)")
            .bind(row.at_ms)
            .bind(&row.moderator)
            .bind(&row.action)
            .bind(&row.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as("SELECT at_ms, moderator, action, detail FROM audit ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn post_claim(&self, room: &RoomName, seq: i64) -> Result<Option<Option<String>>, StoreError> {
        let found: Option<(Option<String>,)> =
            sqlx::query_as("SELECT claim_id FROM posts WHERE room = $1 AND seq = $2")
                .bind(room.as_str())
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(|(claim,)| claim))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Inserts the new posts, all in one statement (arrays of columns).
async fn insert_posts(tx: &mut sqlx::PgConnection, fresh: &[(Post, Option<ClaimId>)]) -> Result<(), StoreError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let rooms: Vec<&str> = fresh.iter().map(|(p, _)| p.room.as_str()).collect();
    let seqs: Vec<i64> = fresh.iter().map(|(p, _)| p.seq as i64).collect();
    let ids: Vec<&str> = fresh.iter().map(|(p, _)| p.client_id.as_str()).collect();
    let names: Vec<&str> = fresh.iter().map(|(p, _)| p.username.as_str()).collect();
    let texts: Vec<&str> = fresh.iter().map(|(p, _)| p.text.as_str()).collect();
    let stamps: Vec<i64> = fresh.iter().map(|(p, _)| p.ts).collect();
    let claims: Vec<Option<&str>> = fresh.iter().map(|(_, c)| c.as_ref().map(ClaimId::as_str)).collect();
    sqlx::query(&format!(
        "INSERT INTO posts ({INSERT_COLUMNS}) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::text[])"
    ))
    .bind(&rooms)
    .bind(&seqs)
    .bind(&ids)
    .bind(&names)
    .bind(&texts)
    .bind(&stamps)
    .bind(&claims)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
