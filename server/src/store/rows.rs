//! Rows as both backends read them, turned back into validated values: a row that breaks a
//! rule (edited by hand, say) is an error, never a post shown as it is.

use super::{RoomTotals, StoreError};
use crate::claims::fingerprint_of;
use app::domain::{ClientId, PostText, RoomName, Username, ValidationError};
use app::protocol::Post;
use sqlx::FromRow;

/// The columns a post is read from, in [`PostRow`]'s order.
pub const POST_COLUMNS: &str = "room, seq, client_id, username, text, ts, claim_id";

#[derive(FromRow)]
pub struct PostRow {
    room: String,
    seq: i64,
    client_id: String,
    username: String,
    text: String,
    ts: i64,
    claim_id: Option<String>,
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

pub fn into_posts(rows: Vec<PostRow>) -> Result<Vec<Post>, StoreError> {
    rows.into_iter().map(|r| Post::try_from(r).map_err(StoreError::from)).collect()
}

/// `(room, last_seq, last_ts)` rows.
pub fn into_totals(rows: Vec<(String, i64, i64)>) -> Result<Vec<RoomTotals>, StoreError> {
    rows.into_iter()
        .map(|(room, posts, last_ts)| Ok(RoomTotals { room: RoomName::parse(&room)?, posts: posts as u64, last_ts }))
        .collect()
}

/// A page read newest first with one row more than `limit`: the page oldest first, and
/// whether older posts exist.
pub fn into_page(mut rows: Vec<PostRow>, limit: u32) -> Result<(Vec<Post>, bool), StoreError> {
    let has_older = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    rows.reverse();
    Ok((into_posts(rows)?, has_older))
}

/// Collects a replay oldest first, giving up (`None`) past `limit` posts or `max_bytes` of
/// text and names, so a long history is never read into memory whole.
pub async fn collect_within<S>(mut rows: S, limit: u32, max_bytes: usize) -> Result<Option<Vec<Post>>, StoreError>
where
    S: futures::Stream<Item = Result<PostRow, sqlx::Error>> + Unpin,
{
    use futures::TryStreamExt;
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
