//! Name claims: identity without accounts. The first `join` under a name issues a random
//! secret to that client and keeps only its SHA-256; every later `join` under the name must
//! bring the secret, or is refused `name_taken`. A claim unused for `--claim-ttl-days`
//! lapses, and its holder may release it.
//!
//! Names are compared by [`NameKey`]: NFKC, then lowercase, so `Alice`, `alice` and the
//! fullwidth `ａｌｉｃｅ` are one name. The table lives in the posts' database, so every node
//! of a cluster sees the same claims; two first uses racing on one name are settled by its
//! primary key (one insert wins, the other join is refused).
//!
//! The secret is 64 hex digits from two v4 UUIDs (244 random bits): high-entropy, so one
//! unsalted SHA-256 is enough (nothing to brute-force). It is never logged (`ClaimSecret`'s
//! `Debug` hides it) and sent only once, in `claimed`.

use crate::store::{now_ms, ClaimRow, Store, StoreError};
use app::domain::{ClaimSecret, Fingerprint, Username};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use unicode_normalization::UnicodeNormalization;

/// A claim's last use is written at most this often (or a quarter of its lifetime, if
/// shorter): a reconnect is a read, not a write.
const TOUCH_EVERY_MS: i64 = 60 * 60 * 1000;

/// A name as claims compare it: NFKC, lowercase, NFKC again (lowercasing can leave a
/// sequence that composes further).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameKey(String);

impl NameKey {
    pub fn of(name: &Username) -> Self {
        let folded: String = name.as_str().nfkc().collect::<String>().to_lowercase();
        Self(folded.nfkc().collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A claim's id: public (posts are stored with it), unlike its secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimId(Arc<str>);

impl ClaimId {
    fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string().into())
    }

    pub fn from_stored(id: &str) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 4 hex digits shown beside the name: the start of the id's SHA-256.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(self.as_str())
    }
}

/// The fingerprint of the claim with id `id`.
pub fn fingerprint_of(id: &str) -> Fingerprint {
    let digest = Sha256::digest(id.as_bytes());
    let hex = format!("{:02x}{:02x}", digest[0], digest[1]);
    Fingerprint::parse(&hex).unwrap_or_else(|_| unreachable!("4 lowercase hex digits"))
}

/// A new secret: two random v4 UUIDs (244 random bits) as 64 hex digits.
pub fn new_secret() -> ClaimSecret {
    ClaimSecret::parse(&format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
        .unwrap_or_else(|_| unreachable!("64 hex digits"))
}

/// What the database keeps of a secret: its SHA-256, in hex.
pub fn hash_of(secret: &ClaimSecret) -> String {
    Sha256::digest(secret.expose().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Who a join under a name is, once its claim is checked.
#[derive(Debug, Clone)]
pub struct Holder {
    pub claim: ClaimId,
    /// Set when this join issued the claim: the secret to send once, in `claimed`.
    pub issued: Option<ClaimSecret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("the name is claimed by someone else")]
    Taken,
    /// The name is free, but the caller may claim no more names.
    #[error("no more names may be claimed here")]
    NoMoreNames,
    /// The holder may not give the name up now (a moderator blocked its claim: released, it
    /// would be claimed afresh, unblocked).
    #[error("the name may not be released now")]
    Kept,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The claims of one server; cloneable.
#[derive(Clone, Debug)]
pub struct Claims {
    store: Store,
    ttl_ms: i64,
}

impl Claims {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self { store, ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX) }
    }

    /// Checks `secret` against the claim on `name`, or claims the name if nobody holds it and
    /// `may_claim` (a lapsed claim is removed first). Refused with [`ClaimError::Taken`] when
    /// someone else holds it, [`ClaimError::NoMoreNames`] when it is free but not `may_claim`.
    pub async fn admit(
        &self,
        name: &Username,
        secret: Option<&ClaimSecret>,
        may_claim: bool,
    ) -> Result<Holder, ClaimError> {
        let key = NameKey::of(name);
        let now = now_ms();
        // Twice at most: a first use that loses the race for the name reads the winner's row.
        for _ in 0..2 {
            if let Some(row) = self.current(&key, now).await? {
                let matches = secret.is_some_and(|s| hash_of(s) == row.secret_hash);
                if !matches {
                    return Err(ClaimError::Taken);
                }
                let stale = now - row.used_ms > TOUCH_EVERY_MS.min(self.ttl_ms / 4);
                // Renewed only if it is still this claim (a lapse and a new claim may have
                // come in between): otherwise read the name again.
                if stale && !self.store.touch_claim(key.as_str(), &row.claim_id, now).await? {
                    continue;
                }
                return Ok(Holder { claim: ClaimId::from_stored(&row.claim_id), issued: None });
            }
            if !may_claim {
                return Err(ClaimError::NoMoreNames);
            }
            let issued = new_secret();
            let claim = ClaimId::new();
            let row = ClaimRow {
                name_key: key.as_str().to_owned(),
                claim_id: claim.as_str().to_owned(),
                secret_hash: hash_of(&issued),
                username: name.as_str().to_owned(),
                used_ms: now,
            };
            if self.store.insert_claim(&row).await? {
                tracing::info!(fingerprint = %claim.fingerprint(), "a name was claimed");
                return Ok(Holder { claim, issued: Some(issued) });
            }
        }
        Err(ClaimError::Taken)
    }

    /// Gives up the claim on `name`, if `secret` is its secret (else [`ClaimError::Taken`])
    /// and `may_release` says so of the claim (else [`ClaimError::Kept`]); a name nobody
    /// holds is released already.
    pub async fn release(
        &self,
        name: &Username,
        secret: &ClaimSecret,
        may_release: impl Fn(&ClaimId) -> bool,
    ) -> Result<(), ClaimError> {
        let key = NameKey::of(name);
        match self.current(&key, now_ms()).await? {
            None => Ok(()),
            Some(row) if row.secret_hash == hash_of(secret) => {
                if !may_release(&ClaimId::from_stored(&row.claim_id)) {
                    return Err(ClaimError::Kept);
                }
                self.store.remove_claim(key.as_str(), &row.claim_id, i64::MAX).await?;
                Ok(())
            }
            Some(_) => Err(ClaimError::Taken),
        }
    }

    /// Deletes every claim unused for the claims' lifetime, every hour until `stop`: names
    /// tried once and never again would otherwise stay in the table for ever.
    pub async fn sweep(self, stop: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(3_600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let before = now_ms().saturating_sub(self.ttl_ms);
            let removed = tokio::select! {
                _ = stop.cancelled() => return,
                removed = self.store.remove_lapsed_claims(before) => removed,
            };
            match removed {
                Ok(0) => {}
                Ok(n) => tracing::info!(claims = n, "lapsed name claims removed"),
                // Stopping closes the database under it: nothing to report.
                Err(_) if stop.is_cancelled() => return,
                Err(e) => tracing::warn!(error = %e, "removing lapsed name claims failed"),
            }
        }
    }

    /// The claim on `key` unless it has lapsed (a lapsed one is removed on the way).
    async fn current(&self, key: &NameKey, now: i64) -> Result<Option<ClaimRow>, StoreError> {
        let Some(row) = self.store.claim(key.as_str()).await? else { return Ok(None) };
        let lapse_before = now.saturating_sub(self.ttl_ms);
        if row.used_ms >= lapse_before {
            return Ok(Some(row));
        }
        // Only if still unused since: a holder coming back meanwhile keeps it.
        self.store.remove_claim(key.as_str(), &row.claim_id, lapse_before).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> NameKey {
        NameKey::of(&Username::parse(name).unwrap())
    }

    #[test]
    fn case_and_compatibility_look_alikes_are_one_name() {
        assert_eq!(key("Alice"), key("alice"));
        assert_eq!(key("ａｌｉｃｅ"), key("alice"), "fullwidth letters");
        assert_eq!(key("ＡＬＩＣＥ"), key("alice"));
        assert_eq!(key("ﬁona"), key("fiona"), "the fi ligature");
        assert_ne!(key("alice"), key("alicia"));
    }

    #[test]
    fn a_fingerprint_is_stable_and_short() {
        let id = ClaimId::from_stored("0123456789abcdef0123456789abcdef");
        assert_eq!(id.fingerprint(), id.fingerprint());
        assert_eq!(id.fingerprint().as_str().len(), 4);
        assert_ne!(id.fingerprint(), ClaimId::from_stored("another").fingerprint());
    }
}
