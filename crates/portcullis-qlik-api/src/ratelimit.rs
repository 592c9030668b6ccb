//! Rate limits per (tenant, user), as Qlik applies them: tier 1 for reads (default 1000 a
//! minute), tier 2 for writes (default 100 a minute). A sliding-window counter (this and the
//! previous minute, the previous one weighted by how much of it still overlaps) keeps two
//! numbers per key. Over the limit the router answers 429 with `retry-after` in seconds.
//!
//! Time is passed in (milliseconds), so the limiter is deterministic under test.

use std::collections::HashMap;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Reads (`GET`, `HEAD`).
    One,
    /// Writes.
    Two,
}

impl Tier {
    /// The tier of an HTTP method.
    pub fn of_method(method: &str) -> Tier {
        if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            Tier::One
        } else {
            Tier::Two
        }
    }
}

/// Limits per minute; 0 turns a tier's limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Reads per minute per user.
    pub tier1_per_minute: u32,
    /// Writes per minute per user.
    pub tier2_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            tier1_per_minute: 1000,
            tier2_per_minute: 100,
        }
    }
}

impl RateLimitConfig {
    /// No limits.
    pub const OFF: RateLimitConfig = RateLimitConfig {
        tier1_per_minute: 0,
        tier2_per_minute: 0,
    };

    fn limit(&self, tier: Tier) -> u32 {
        match tier {
            Tier::One => self.tier1_per_minute,
            Tier::Two => self.tier2_per_minute,
        }
    }
}

const WINDOW_MS: u64 = 60_000;
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    current: u32,
    previous: u32,
}

/// The limiter's state.
#[derive(Debug, Default)]
pub struct RateLimiter {
    config: RateLimitConfig,
    windows: HashMap<(String, String, Tier), Window>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            windows: HashMap::new(),
        }
    }

    /// Counts one request; `Err(seconds)` when it is over the limit (the request is not counted).
    pub fn check(&mut self, tenant: &str, user: &str, tier: Tier, now_ms: u64) -> Result<(), u64> {
        let limit = self.config.limit(tier);
        if limit == 0 {
            return Ok(());
        }
        if self.windows.len() > PRUNE_ABOVE {
            self.windows.retain(|_, w| now_ms < w.start_ms.saturating_add(2 * WINDOW_MS));
        }
        let aligned = now_ms - now_ms % WINDOW_MS;
        let window = self.windows.entry((tenant.to_owned(), user.to_owned(), tier)).or_insert(Window {
            start_ms: aligned,
            current: 0,
            previous: 0,
        });
        if now_ms >= window.start_ms.saturating_add(2 * WINDOW_MS) {
            *window = Window {
                start_ms: aligned,
                current: 0,
                previous: 0,
            };
        } else if now_ms >= window.start_ms.saturating_add(WINDOW_MS) {
            *window = Window {
                start_ms: window.start_ms + WINDOW_MS,
                current: 0,
                previous: window.current,
            };
        }
        let elapsed = now_ms.saturating_sub(window.start_ms);
        let overlap = (WINDOW_MS - elapsed.min(WINDOW_MS)) as f64 / WINDOW_MS as f64;
        let estimate = f64::from(window.previous) * overlap + f64::from(window.current);
        if estimate + 1.0 > f64::from(limit) {
            let remaining_ms = window.start_ms + WINDOW_MS - now_ms;
            return Err(remaining_ms.div_ceil(1000).max(1));
        }
        window.current += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_per_user_and_tier_then_recovers() {
        let mut limiter = RateLimiter::new(RateLimitConfig {
            tier1_per_minute: 3,
            tier2_per_minute: 1,
        });
        for _ in 0..3 {
            assert_eq!(limiter.check("t", "ann", Tier::One, 1_000), Ok(()));
        }
        let retry = limiter.check("t", "ann", Tier::One, 1_000).unwrap_err();
        assert_eq!(retry, 59);
        assert_eq!(limiter.check("t", "bob", Tier::One, 1_000), Ok(()), "another user has their own budget");
        assert_eq!(limiter.check("t", "ann", Tier::Two, 1_000), Ok(()), "writes count apart");
        assert!(limiter.check("t", "ann", Tier::Two, 2_000).is_err());
        // Two minutes later the window is empty again.
        assert_eq!(limiter.check("t", "ann", Tier::One, 121_000), Ok(()));
    }

    #[test]
    fn the_previous_minute_still_weighs() {
        let mut limiter = RateLimiter::new(RateLimitConfig {
            tier1_per_minute: 2,
            tier2_per_minute: 0,
        });
        limiter.check("t", "u", Tier::One, 59_000).unwrap();
        limiter.check("t", "u", Tier::One, 59_500).unwrap();
        // Just after the minute turns, nearly all of the previous minute still overlaps.
        assert!(limiter.check("t", "u", Tier::One, 60_100).is_err());
        assert!(limiter.check("t", "u", Tier::One, 110_000).is_ok());
        assert_eq!(limiter.check("t", "u", Tier::Two, 0), Ok(()), "0 turns a tier off");
    }
}
