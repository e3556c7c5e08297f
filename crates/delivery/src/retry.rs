//! Retry policy: exponential backoff from `initial`, doubling, capped at `max`, giving up after
//! `give_up` since the message was accepted.

use std::time::Duration;

/// When to try again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub give_up: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(300),
            max: Duration::from_secs(3600),
            give_up: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt, after `attempts` failed ones (0 = first failure).
    pub fn delay(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.clamp(0, 30) as u32);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// True when a recipient accepted at `accepted_at` (ms) should no longer be retried at `now`.
    pub fn expired(&self, accepted_at: i64, now: i64) -> bool {
        now.saturating_sub(accepted_at) >= self.give_up.as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps_then_expires() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0), Duration::from_secs(300));
        assert_eq!(p.delay(1), Duration::from_secs(600));
        assert_eq!(p.delay(3), Duration::from_secs(2400));
        assert_eq!(p.delay(4), Duration::from_secs(3600));
        assert_eq!(p.delay(1000), Duration::from_secs(3600));
        assert!(!p.expired(0, 5 * 24 * 3600 * 1000 - 1));
        assert!(p.expired(0, 5 * 24 * 3600 * 1000));
    }
}
