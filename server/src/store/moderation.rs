//! Moderators, blocks and the audit log as stored: the rows, and [`Store`]'s methods for
//! them. Secrets are stored only as their SHA-256.

use super::backend::Backend as _;
use super::{Database, Store, StoreError};
use crate::claims::ClaimId;
use app::domain::RoomName;
use std::net::IpAddr;

/// One moderation action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub moderator: String,
    /// `delete`, `block_claim` or `block_address`.
    pub action: String,
    /// What it was done to, in words (room and seq, address, until when).
    pub detail: String,
}

/// What a block keeps out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlockTarget {
    /// The holder of this claim may not post.
    Claim(ClaimId),
    /// No connection from this address is admitted.
    Address(IpAddr),
}

impl BlockTarget {
    /// Its key in the `blocks` table.
    pub fn key(&self) -> String {
        match self {
            BlockTarget::Claim(claim) => format!("claim:{}", claim.as_str()),
            BlockTarget::Address(ip) => format!("address:{ip}"),
        }
    }

    /// Reads a key back; `None` for one this version does not know.
    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("claim", id) => Some(BlockTarget::Claim(ClaimId::from_stored(id))),
            ("address", ip) => ip.parse().ok().map(BlockTarget::Address),
            _ => None,
        }
    }
}

impl Store {
    /// Adds a moderator named `name` whose secret hashes to `secret_hash`: false if the name
    /// is a moderator already (nothing changes then).
    pub async fn insert_moderator(&self, name: &str, secret_hash: &str, created_ms: i64) -> Result<bool, StoreError> {
        on_backend!(self, db => db.insert_moderator(name, secret_hash, created_ms).await)
    }

    /// Removes the moderator `name`: false if there was none.
    pub async fn remove_moderator(&self, name: &str) -> Result<bool, StoreError> {
        on_backend!(self, db => db.remove_moderator(name).await)
    }

    /// The name of the moderator whose secret hashes to `secret_hash`.
    pub async fn moderator(&self, secret_hash: &str) -> Result<Option<String>, StoreError> {
        on_backend!(self, db => db.moderator(secret_hash).await)
    }

    /// Blocks `target` until `until_ms`, or later if it is blocked until later already (a
    /// shorter block never cuts a longer one short).
    pub async fn put_block(&self, target: &BlockTarget, until_ms: i64) -> Result<(), StoreError> {
        on_backend!(self, db => db.put_block(&target.key(), until_ms).await)
    }

    /// Every block still running at `now_ms`, with when it ends.
    pub async fn blocks(&self, now_ms: i64) -> Result<Vec<(BlockTarget, i64)>, StoreError> {
        let rows = on_backend!(self, db => db.blocks(now_ms).await)?;
        Ok(rows.into_iter().filter_map(|(key, until)| Some((BlockTarget::from_key(&key)?, until))).collect())
    }

    pub async fn append_audit(&self, row: &AuditRow) -> Result<(), StoreError> {
        on_backend!(self, db => db.append_audit(row).await)
    }

    /// The newest `limit` moderation actions, newest first.
    pub async fn audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        on_backend!(self, db => db.audit(limit).await)
    }

    /// The claim post `seq` of `room` was written under: `Ok(None)` if there is no such
    /// post, `Ok(Some(None))` for a post from before claims.
    pub async fn post_claim(&self, room: &RoomName, seq: u64) -> Result<Option<Option<ClaimId>>, StoreError> {
        let seq = seq.min(i64::MAX as u64) as i64;
        let found = on_backend!(self, db => db.post_claim(room, seq).await)?;
        Ok(found.map(|claim| claim.as_deref().map(ClaimId::from_stored)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_target_is_read_back_from_its_key() {
        for target in [
            BlockTarget::Claim(ClaimId::from_stored("abc123")),
            BlockTarget::Address("10.1.2.3".parse().unwrap()),
            BlockTarget::Address("::1".parse().unwrap()),
        ] {
            assert_eq!(BlockTarget::from_key(&target.key()), Some(target));
        }
        assert_eq!(BlockTarget::from_key("planet:mars"), None);
    }
}
