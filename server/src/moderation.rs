//! Moderators and blocks. A moderator is added on the server host (`wallsocket moderator
//! add NAME`), which prints its secret once; the database keeps only the secret's SHA-256.
//! A connection that sends the secret (`moderate`) may delete any post and block a post's
//! author from posting; the `/moderate` page also blocks addresses from connecting. Every
//! action is appended to the audit log.
//!
//! Blocks live in the database (they survive restarts, and every node of a cluster reads
//! them) and in memory, reloaded every [`RELOAD_EVERY`], so checking one costs no query: the
//! gateway checks addresses on every admission, the session checks claims on every post.

use crate::claims::{hash_of, new_secret, ClaimId};
use crate::store::{now_ms, AuditRow, BlockTarget, Store, StoreError};
use app::domain::{ClaimSecret, RoomName, Username};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often blocks are read from the database again (what other nodes set, what lapsed).
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The longest block: a year.
pub const MAX_BLOCK_MINUTES: u32 = 525_600;

/// Audit rows the `/moderate` page shows.
pub const AUDIT_SHOWN: u32 = 200;

/// A connection signed in as a moderator, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderator(pub Username);

#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error("that is not a moderator's secret")]
    NotModerator,
    #[error("the room has no post {0}")]
    NoSuchPost(u64),
    #[error("post {0} was written before names were claimed: its author cannot be blocked, only deleted")]
    NoClaim(u64),
    #[error("a block lasts 1 to {MAX_BLOCK_MINUTES} minutes")]
    BadDuration,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every running block and when it ends (ms since the epoch), as last read; cloneable,
/// read without a query.
#[derive(Clone, Debug, Default)]
pub struct Blocks(Arc<RwLock<Running>>);

#[derive(Debug, Default)]
struct Running {
    until: HashMap<BlockTarget, i64>,
    /// Counts blocks set here: a reload whose read began before one keeps it.
    set: u64,
}

impl Blocks {
    /// When the block on `target` ends, if one is running at `now_ms`.
    pub fn until(&self, target: &BlockTarget, now_ms: i64) -> Option<i64> {
        let blocks = self.0.read().unwrap_or_else(|e| e.into_inner());
        blocks.until.get(target).copied().filter(|until| *until > now_ms)
    }

    fn set(&self, target: BlockTarget, until: i64) {
        let mut blocks = self.0.write().unwrap_or_else(|e| e.into_inner());
        let entry = blocks.until.entry(target).or_insert(until);
        *entry = (*entry).max(until);
        blocks.set += 1;
    }

    /// How many blocks were set here so far, before a reload reads the database.
    fn set_so_far(&self) -> u64 {
        self.0.read().unwrap_or_else(|e| e.into_inner()).set
    }

    /// The blocks read from the database, which began when `set_so_far` was `seen`: blocks
    /// set here since are kept (the read may have missed them).
    fn replace(&self, mut running: HashMap<BlockTarget, i64>, seen: u64) {
        let mut blocks = self.0.write().unwrap_or_else(|e| e.into_inner());
        if blocks.set != seen {
            for (target, until) in &blocks.until {
                let entry = running.entry(target.clone()).or_insert(*until);
                *entry = (*entry).max(*until);
            }
        }
        blocks.until = running;
    }
}

/// The server's moderation state; cloneable.
#[derive(Clone, Debug)]
pub struct Moderation {
    store: Store,
    blocks: Blocks,
}

impl Moderation {
    /// Moderation on `store`, with the running blocks read.
    pub async fn load(store: Store) -> Result<Self, StoreError> {
        let moderation = Self::unloaded(store);
        moderation.reload().await?;
        Ok(moderation)
    }

    /// Moderation on `store` knowing no block until [`Moderation::keep_loaded`] reads them.
    pub fn unloaded(store: Store) -> Self {
        Self { store, blocks: Blocks::default() }
    }

    /// Adds a moderator: the secret to hand them, or `None` if `name` is one already.
    pub async fn add(store: &Store, name: &Username) -> Result<Option<ClaimSecret>, StoreError> {
        let secret = new_secret();
        let added = store.insert_moderator(name.as_str(), &hash_of(&secret), now_ms()).await?;
        Ok(added.then_some(secret))
    }

    /// Removes the moderator `name`: false if there was none. Their connections can do
    /// nothing more: every moderation request checks the secret again.
    pub async fn remove(store: &Store, name: &Username) -> Result<bool, StoreError> {
        store.remove_moderator(name.as_str()).await
    }

    /// The moderator whose secret this is.
    pub async fn sign_in(&self, secret: &ClaimSecret) -> Result<Moderator, ModerationError> {
        let name = self.store.moderator(&hash_of(secret)).await?;
        // Names were checked when added; one edited by hand into nonsense signs nobody in.
        name.and_then(|n| Username::parse(&n).ok()).map(Moderator).ok_or(ModerationError::NotModerator)
    }

    /// The running blocks, for checks that must not wait on the database.
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// Blocks the author of post `seq` of `room` (its claim) from posting for `minutes`;
    /// when the block ends.
    pub async fn block_author(
        &self,
        by: &Moderator,
        room: &RoomName,
        seq: u64,
        minutes: u32,
    ) -> Result<i64, ModerationError> {
        let claim = self.store.post_claim(room, seq).await?.ok_or(ModerationError::NoSuchPost(seq))?;
        let claim: ClaimId = claim.ok_or(ModerationError::NoClaim(seq))?;
        let detail = format!("the author of post {seq} in #{room} (#{})", claim.fingerprint());
        self.block(by, BlockTarget::Claim(claim), minutes, ("block_claim", detail)).await
    }

    /// Blocks every connection from `address` for `minutes`, and every post on connections
    /// already open from it; when the block ends.
    pub async fn block_address(&self, by: &Moderator, address: IpAddr, minutes: u32) -> Result<i64, ModerationError> {
        // As the gateway sees addresses: an IPv4-mapped IPv6 address is the IPv4 one.
        let address = address.to_canonical();
        let detail = format!("address {address}");
        self.block(by, BlockTarget::Address(address), minutes, ("block_address", detail)).await
    }

    async fn block(
        &self,
        by: &Moderator,
        target: BlockTarget,
        minutes: u32,
        (action, detail): (&str, String),
    ) -> Result<i64, ModerationError> {
        if !(1..=MAX_BLOCK_MINUTES).contains(&minutes) {
            return Err(ModerationError::BadDuration);
        }
        let until = now_ms().saturating_add(i64::from(minutes) * 60_000);
        self.store.put_block(&target, until).await?;
        // A longer block of the same target stands.
        let until = self.blocks.until(&target, now_ms()).map_or(until, |running| running.max(until));
        self.blocks.set(target, until);
        self.record(by, action, format!("{detail} for {minutes} min")).await?;
        Ok(until)
    }

    /// Appends an action to the audit log.
    pub async fn record(&self, by: &Moderator, action: &str, detail: String) -> Result<(), StoreError> {
        let row = AuditRow { at_ms: now_ms(), moderator: by.0.to_string(), action: action.to_owned(), detail };
        self.store.append_audit(&row).await
    }

    /// The newest moderation actions, newest first, for a moderator.
    pub async fn audit(&self, secret: &ClaimSecret) -> Result<Vec<AuditRow>, ModerationError> {
        self.sign_in(secret).await?;
        Ok(self.store.audit(AUDIT_SHOWN).await?)
    }

    async fn reload(&self) -> Result<(), StoreError> {
        let seen = self.blocks.set_so_far();
        let running: HashMap<BlockTarget, i64> = self.store.blocks(now_ms()).await?.into_iter().collect();
        self.blocks.replace(running, seen);
        Ok(())
    }

    /// Reads the blocks again every [`RELOAD_EVERY`] until `shutdown`: other nodes' blocks
    /// arrive, lapsed ones leave memory.
    pub async fn keep_loaded(self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(RELOAD_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "reading the blocks failed; the last ones read still apply");
            }
        }
    }
}

/// "3 min" or "2 h 5 min": how long a block has left, for the `blocked` error.
pub fn time_left(until_ms: i64, now_ms: i64) -> String {
    let minutes = ((until_ms - now_ms).max(0) as u64).div_ceil(60_000);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_rounds_up_to_the_minute() {
        assert_eq!(time_left(61_000, 0), "2 min");
        assert_eq!(time_left(3_600_000, 0), "1 h");
        assert_eq!(time_left(3_900_000, 0), "1 h 5 min");
        assert_eq!(time_left(0, 10), "0 min");
    }

    #[tokio::test]
    async fn a_block_applies_until_it_lapses_and_a_moderator_is_known_by_the_secret_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
        let name: Username = "mod".parse().unwrap();
        let secret = Moderation::add(&store, &name).await.unwrap().expect("a new moderator");
        assert!(Moderation::add(&store, &name).await.unwrap().is_none(), "added once");
        let moderation = Moderation::load(store.clone()).await.unwrap();
        let by = moderation.sign_in(&secret).await.unwrap();
        assert_eq!(by, Moderator(name.clone()));
        assert!(matches!(moderation.sign_in(&new_secret()).await, Err(ModerationError::NotModerator)));

        let address: IpAddr = "10.0.0.7".parse().unwrap();
        let until = moderation.block_address(&by, address, 1).await.unwrap();
        let target = BlockTarget::Address(address);
        assert_eq!(moderation.blocks().until(&target, now_ms()), Some(until));
        assert_eq!(moderation.blocks().until(&target, until), None, "lapsed");
        assert!(matches!(moderation.block_address(&by, address, 0).await, Err(ModerationError::BadDuration)));
        let longer = moderation.block_address(&by, address, 600).await.unwrap();
        assert_eq!(moderation.block_address(&by, address, 1).await.unwrap(), longer, "never cut short");
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(moderation.block_address(&by, mapped, 1).await.unwrap(), longer, "the same address");
        let reloaded = Moderation::load(store.clone()).await.unwrap();
        assert_eq!(reloaded.blocks().until(&target, now_ms()), Some(longer), "read back from the database");
        assert!(until < longer);
        let audit = moderation.audit(&secret).await.unwrap();
        assert_eq!(audit.len(), 4);
        assert_eq!((audit[0].moderator.as_str(), audit[0].action.as_str()), ("mod", "block_address"));
        assert!(audit[0].detail.contains("10.0.0.7"), "{:?}", audit[0]);
    }
}
