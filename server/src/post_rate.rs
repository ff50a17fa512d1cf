//! Posts per person, not only per connection: each claim (a person's name) has an allowance
//! of posts, `--posts-per-claim-burst` at once, then `--posts-per-claim-per-min`, shared by
//! all of its connections on this node, so opening more connections posts no faster.
//! Past it a post is refused `rate_limited` and the client sends it again later.

use crate::claims::ClaimId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Claims tracked before the ones idle long enough to be full again are dropped (and then
/// not again until twice as many are tracked: each drop scans them all).
const TRACKED_MAX: usize = 10_000;

/// Each claim's post allowance; cloneable.
#[derive(Clone)]
pub struct PostRate {
    limiter: Arc<DefaultKeyedRateLimiter<ClaimId>>,
    per_min: NonZeroU32,
    /// How many were tracked after the last drop.
    kept: Arc<AtomicUsize>,
}

impl std::fmt::Debug for PostRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostRate").field("per_min", &self.per_min).finish_non_exhaustive()
    }
}

impl PostRate {
    pub fn new(per_min: NonZeroU32, burst: NonZeroU32) -> Self {
        let limiter = RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(burst));
        Self { limiter: Arc::new(limiter), per_min, kept: Arc::default() }
    }

    pub fn per_min(&self) -> NonZeroU32 {
        self.per_min
    }

    /// Takes one post from `claim`'s allowance: false when it is spent for now.
    pub fn take(&self, claim: &ClaimId) -> bool {
        let allowed = self.limiter.check_key(claim).is_ok();
        let tracked = self.limiter.len();
        if tracked > TRACKED_MAX.max(2 * self.kept.load(Ordering::Relaxed)) {
            self.limiter.retain_recent();
            self.kept.store(self.limiter.len(), Ordering::Relaxed);
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claims_allowance_is_its_own_and_refills() {
        let rate = PostRate::new(NonZeroU32::new(60).unwrap(), NonZeroU32::new(2).unwrap());
        let (alice, bob) = (ClaimId::from_stored("a"), ClaimId::from_stored("b"));
        assert!(rate.take(&alice) && rate.take(&alice), "the burst");
        assert!(!rate.take(&alice), "spent");
        assert!(rate.take(&bob), "another person's allowance is untouched");
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        assert!(rate.take(&alice), "one a second at 60 a minute");
    }
}
