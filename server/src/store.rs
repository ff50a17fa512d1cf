//! Durable storage of posts in SQLite (WAL mode), with migrations embedded in the binary.
//!
//! Only the hub writes, one post at a time, so a room's seq is simply `last_seq + 1` inside
//! the same transaction as the post: committed before anyone is told about it.

use app::domain::{ClientId, PostText, RoomName, Username, ValidationError};
use app::protocol::Post;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};
use std::str::FromStr;
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
}

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

/// A cloneable handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

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

const POST_COLUMNS: &str = "room, seq, client_id, username, text, ts";

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged post survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Stores a post under the room's next seq, unless its client id is already stored.
    pub async fn insert_post(
        &self,
        room: &RoomName,
        client_id: &ClientId,
        username: &Username,
        text: &PostText,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await?;
        let existing: Option<PostRow> =
            sqlx::query_as(&format!("SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND client_id = ?"))
                .bind(room.as_str())
                .bind(client_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(row) = existing {
            return Ok(Inserted::Duplicate(Post::try_from(row)?));
        }
        let ts = now_ms();
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO rooms (room, last_seq, last_ts) VALUES (?, 1, ?) \
             ON CONFLICT (room) DO UPDATE SET last_seq = last_seq + 1, last_ts = excluded.last_ts \
             RETURNING last_seq",
        )
        .bind(room.as_str())
        .bind(ts)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(&format!("INSERT INTO posts ({POST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"))
            .bind(room.as_str())
            .bind(seq)
            .bind(client_id.as_str())
            .bind(username.as_str())
            .bind(text.as_str())
            .bind(ts)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Inserted::New(Post {
            room: room.clone(),
            seq: seq as u64,
            client_id: client_id.clone(),
            username: username.clone(),
            text: text.clone(),
            ts,
        }))
    }

    /// Up to `limit` of the newest posts with seq below `before`, oldest first, and whether
    /// older ones exist.
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
        .fetch_all(&self.pool)
        .await?;
        let has_older = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        rows.reverse();
        Ok((into_posts(rows)?, has_older))
    }

    /// Up to `limit` posts with seq above `since`, oldest first.
    pub async fn after(&self, room: &RoomName, since: u64, limit: u32) -> Result<Vec<Post>, StoreError> {
        let rows: Vec<PostRow> = sqlx::query_as(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE room = ? AND seq > ? ORDER BY seq ASC LIMIT ?"
        ))
        .bind(room.as_str())
        .bind(since.min(i64::MAX as u64) as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        into_posts(rows)
    }

    /// Every room that has posts, most recently active first.
    pub async fn rooms(&self) -> Result<Vec<RoomTotals>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT room, last_seq, last_ts FROM rooms ORDER BY last_ts DESC LIMIT 500")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(room, posts, last_ts)| {
                Ok(RoomTotals { room: RoomName::parse(&room)?, posts: posts as u64, last_ts })
            })
            .collect()
    }

    /// Waits for in-flight queries and closes the database cleanly.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
