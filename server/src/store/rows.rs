//! Rows as both backends read them, turned back into validated values: a row that breaks a
//! rule (edited by hand, say) is an error, never a post shown as it is.

use super::{Deleter, Deletion, Entries, Inserted, RoomTotals, StoreError};
use crate::claims::fingerprint_of;
use app::domain::{ClientId, PostText, RoomName, Username, ValidationError};
use app::protocol::Post;
use sqlx::FromRow;

/// The columns a post is read from, in [`PostRow`]'s order.
pub const POST_COLUMNS: &str = "room, seq, client_id, username, text, ts, claim_id, deleted_ms";

/// The columns a new post is inserted with (a new post is never a tombstone).
pub const INSERT_COLUMNS: &str = "room, seq, client_id, username, text, ts, claim_id";

#[derive(FromRow)]
pub struct PostRow {
    room: String,
    seq: i64,
    client_id: String,
    username: String,
    text: String,
    ts: i64,
    claim_id: Option<String>,
    deleted_ms: Option<i64>,
}

impl PostRow {
    /// The seq of a deleted post (a tombstone: its name and text are erased).
    fn removed(&self) -> Option<u64> {
        self.deleted_ms.map(|_| self.seq as u64)
    }

    /// A stored post sent again: the post, or the tombstone it became.
    pub fn into_known(self) -> Result<(String, String, Inserted), StoreError> {
        let (room, client_id) = (self.room.clone(), self.client_id.clone());
        let known = match self.removed() {
            Some(seq) => Inserted::Removed { seq },
            None => Inserted::Duplicate(Post::try_from(self)?),
        };
        Ok((room, client_id, known))
    }
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
            fingerprint: row.claim_id.as_deref().map(fingerprint_of),
        })
    }
}

/// Rows in seq order, split into the live posts and the seqs of the tombstones.
pub fn into_entries(rows: Vec<PostRow>) -> Result<Entries, StoreError> {
    let mut entries = Entries::default();
    for row in rows {
        entries.push(row)?;
    }
    Ok(entries)
}

impl Entries {
    fn push(&mut self, row: PostRow) -> Result<(), StoreError> {
        match row.removed() {
            Some(seq) => self.removed.push(seq),
            None => self.posts.push(Post::try_from(row)?),
        }
        Ok(())
    }
}

/// `(room, last_seq, last_ts)` rows.
pub fn into_totals(rows: Vec<(String, i64, i64)>) -> Result<Vec<RoomTotals>, StoreError> {
    rows.into_iter()
        .map(|(room, posts, last_ts)| Ok(RoomTotals { room: RoomName::parse(&room)?, posts: posts as u64, last_ts }))
        .collect()
}

/// A page read newest first with one row more than `limit`: the page oldest first, and
/// whether older posts exist.
pub fn into_page(mut rows: Vec<PostRow>, limit: u32) -> Result<(Entries, bool), StoreError> {
    let has_older = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    rows.reverse();
    Ok((into_entries(rows)?, has_older))
}

/// Collects a replay oldest first, giving up (`None`) past `limit` rows (posts and
/// tombstones) or `max_bytes` of text and names, so a long history is never read into memory
/// whole.
pub async fn collect_within<S>(mut rows: S, limit: u32, max_bytes: usize) -> Result<Option<Entries>, StoreError>
where
    S: futures::Stream<Item = Result<PostRow, sqlx::Error>> + Unpin,
{
    use futures::TryStreamExt;
    let (mut entries, mut count, mut bytes) = (Entries::default(), 0usize, 0usize);
    while let Some(row) = rows.try_next().await? {
        bytes = bytes.saturating_add(row.text.len() + row.username.len());
        if count == limit as usize || bytes > max_bytes {
            return Ok(None);
        }
        count += 1;
        entries.push(row)?;
    }
    Ok(Some(entries))
}

/// Whether `by` may delete the post found as `(claim_id, deleted_ms)` (`None`: no such post).
pub fn judge_deletion(found: Option<(Option<String>, Option<i64>)>, by: &Deleter) -> Deletion {
    match (found, by) {
        (None, _) => Deletion::NoSuchPost,
        (Some((_, Some(_))), _) => Deletion::AlreadyDeleted,
        (Some((Some(author), None)), Deleter::Author(claim)) if author == claim.as_str() => Deletion::Deleted,
        (Some(_), Deleter::Author(_)) => Deletion::NotAllowed,
        (Some(_), Deleter::Moderator(_)) => Deletion::Deleted,
    }
}
