//! Rate limits per (tenant, user), as qlik.dev describes them: tier 1 for reads (default 1000
//! a minute), tier 2 for writes (default 100 a minute), both evaluated over a 5-minute window;
//! and the "Special" limits Qlik publishes per endpoint, each its own budget counted per
//! minute: `POST /users/actions/filter` and `POST /groups/actions/filter` 200 a minute, the
//! audits API (`/audits...`) 1000 a minute. Over a limit the router answers 429 `HTTP-429`
//! with `retry-after` in whole seconds, and a 429 holds back only its own tier. The server
//! counts logins and token grants with the same [`Limit`].
//!
//! Each tier is a `governor` keyed limiter (GCRA, the generic cell rate algorithm): a quota
//! of N a minute is a bucket of N requests (the burst) that refills one request every 60/N
//! seconds. This differs from the sliding window it replaced (this minute's count plus the
//! previous minute's, weighted by how much of it still overlapped):
//! - a caller who spent the whole burst may send again after 60/N seconds, one request at a
//!   time, rather than when enough of the window has slid by; `retry-after` is the time until
//!   one more request conforms (0.6 s rounded up to 1 s at 100 a minute), not until the window
//!   frees;
//! - in any span of `t` seconds a caller gets at most N + N·t/60 requests (the full bucket,
//!   then the refill), so at most 2N in a minute that starts with a full bucket, where the
//!   window estimated about N; over longer spans both average N a minute;
//! - the state per key is one timestamp, exact, with no estimate.
//!
//! The span tiers 1 and 2 are counted over is [`RateLimitConfig::window`] (five minutes by
//! default, [`TIER_WINDOW`], as qlik.dev counts them): over a window of `w` minutes the bucket
//! holds `w`·N, the rate staying N a minute, so a burst of up to 5,000 reads passes and then
//! one read every 60 ms. The Special limits are counted per minute ([`QUOTA_WINDOW`]). Keys whose bucket is full again are dropped every
//! [`PRUNE_EVERY`] checks once there are more than [`PRUNE_ABOVE`] of them, so the map stays
//! bounded by the callers of the last window. The clock is a parameter, so tests run on
//! `governor`'s fake clock and are deterministic.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter as Gcra};

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Reads (`GET`, `HEAD`).
    One,
    /// Writes.
    Two,
    /// Special: `POST /users/actions/filter` and `POST /groups/actions/filter`.
    Filter,
    /// Special: the audits API.
    Audits,
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

    /// The tier of a request under the API's mount: the Special endpoints by path (a
    /// `.../actions/filter` action; anything under `/audits`), else by method.
    pub fn of_request(method: &str, path: &str) -> Tier {
        let path = path.trim_end_matches('/');
        if path.ends_with("/actions/filter") && method.eq_ignore_ascii_case("POST") {
            Tier::Filter
        } else if path.split('/').any(|segment| segment == "audits") {
            Tier::Audits
        } else {
            Tier::of_method(method)
        }
    }
}

/// The span a quota is counted over when nothing else is said: one minute.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(60);

/// The span tiers 1 and 2 are counted over: five minutes, as qlik.dev says.
pub const TIER_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Limits per minute; 0 turns a tier's limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Reads per minute per user.
    pub tier1_per_minute: u32,
    /// Writes per minute per user.
    pub tier2_per_minute: u32,
    /// The span tiers 1 and 2 are counted over: the burst is the rate times this (see the module).
    pub window: Duration,
    /// `actions/filter` calls per minute per user (Special; counted per minute).
    pub filter_per_minute: u32,
    /// Audits API calls per minute per user (Special; counted per minute).
    pub audits_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            tier1_per_minute: 1000,
            tier2_per_minute: 100,
            window: TIER_WINDOW,
            filter_per_minute: 200,
            audits_per_minute: 1000,
        }
    }
}

impl RateLimitConfig {
    /// No limits.
    pub const OFF: RateLimitConfig = RateLimitConfig {
        tier1_per_minute: 0,
        tier2_per_minute: 0,
        window: TIER_WINDOW,
        filter_per_minute: 0,
        audits_per_minute: 0,
    };
}

/// How many keys a limiter holds before it drops those whose bucket is full again.
pub const PRUNE_ABOVE: usize = 10_000;
/// How often (in checks) a limiter over [`PRUNE_ABOVE`] keys prunes.
pub const PRUNE_EVERY: u64 = 1024;

/// `per_minute` over `window` as a GCRA quota: one request every 60/`per_minute` seconds,
/// a burst of `per_minute` times the window in minutes (at least `per_minute`); `None` for 0.
fn quota(per_minute: u32, window: Duration) -> Option<Quota> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = (u128::from(per_minute) * window.as_millis() / 60_000).clamp(u128::from(per_minute), u128::from(u32::MAX));
    let burst = NonZeroU32::new(u32::try_from(burst).unwrap_or(u32::MAX)).unwrap_or(rate);
    Some(Quota::per_minute(rate).allow_burst(burst))
}

/// A (scope, key) pair, such as (tenant, user).
type Key = (String, String);

/// `governor`'s keyed limiter over a `DashMap`, on clock `C`.
type Keyed<C> = Gcra<Key, DashMapStateStore<Key>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One keyed quota: requests per minute for each (scope, key) pair, such as (tenant, user).
pub struct Limit<C: Clock + Clone = MonotonicClock> {
    /// `None`: the limit is off.
    gcra: Option<Keyed<C>>,
    clock: C,
    checks: AtomicU64,
}

impl<C: Clock + Clone> std::fmt::Debug for Limit<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limit")
            .field("on", &self.gcra.is_some())
            .field("keys", &self.keys())
            .finish()
    }
}

impl Limit {
    /// `per_minute` for each key over `window` (0 = off), on the monotonic clock.
    pub fn new(per_minute: u32, window: Duration) -> Limit {
        Limit::with_clock(per_minute, window, MonotonicClock)
    }
}

impl<C: Clock + Clone> Limit<C> {
    /// The same limit on another clock (tests use `governor`'s fake clock).
    pub fn with_clock(per_minute: u32, window: Duration, clock: C) -> Limit<C> {
        Limit {
            gcra: quota(per_minute, window).map(|quota| Gcra::dashmap_with_clock(quota, clock.clone())),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request of `key` in `scope`; `Err(seconds)` (at least 1) until one more
    /// would conform, when it is over the limit (a refused request is not counted).
    pub fn check(&self, scope: &str, key: &str) -> Result<(), u64> {
        let Some(gcra) = &self.gcra else { return Ok(()) };
        let verdict = gcra.check_key(&(scope.to_owned(), key.to_owned()));
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 && gcra.len() > PRUNE_ABOVE {
            gcra.retain_recent();
            gcra.shrink_to_fit();
        }
        verdict.map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// How many keys the limiter holds now.
    pub fn keys(&self) -> usize {
        self.gcra.as_ref().map_or(0, |gcra| gcra.len())
    }
}

/// The management API's limiter: one [`Limit`] per tier.
#[derive(Debug)]
pub struct RateLimiter<C: Clock + Clone = MonotonicClock> {
    reads: Limit<C>,
    writes: Limit<C>,
    filters: Limit<C>,
    audits: Limit<C>,
}

impl RateLimiter {
    /// A limiter with these limits, on the monotonic clock.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter::with_clock(config, MonotonicClock)
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// A limiter with these limits on another clock.
    pub fn with_clock(config: RateLimitConfig, clock: C) -> RateLimiter<C> {
        RateLimiter {
            reads: Limit::with_clock(config.tier1_per_minute, config.window, clock.clone()),
            writes: Limit::with_clock(config.tier2_per_minute, config.window, clock.clone()),
            filters: Limit::with_clock(config.filter_per_minute, QUOTA_WINDOW, clock.clone()),
            audits: Limit::with_clock(config.audits_per_minute, QUOTA_WINDOW, clock),
        }
    }

    /// Counts one request; `Err(seconds)` when it is over the limit (the request is not counted).
    pub fn check(&self, tenant: &str, user: &str, tier: Tier) -> Result<(), u64> {
        match tier {
            Tier::One => self.reads.check(tenant, user),
            Tier::Two => self.writes.check(tenant, user),
            Tier::Filter => self.filters.check(tenant, user),
            Tier::Audits => self.audits.check(tenant, user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn refuses_over_the_limit_per_user_and_tier_then_refills_one_at_a_time() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            RateLimitConfig {
                tier1_per_minute: 3,
                tier2_per_minute: 1,
                window: QUOTA_WINDOW,
                ..RateLimitConfig::OFF
            },
            clock.clone(),
        );
        for _ in 0..3 {
            assert_eq!(limiter.check("t", "ann", Tier::One), Ok(()));
        }
        // A burst of 3 spent: the next cell comes in 60/3 = 20 s.
        assert_eq!(limiter.check("t", "ann", Tier::One), Err(20));
        assert_eq!(limiter.check("t", "bob", Tier::One), Ok(()), "another user has their own budget");
        assert_eq!(limiter.check("u", "ann", Tier::One), Ok(()), "and so has the same user in another tenant");
        assert_eq!(limiter.check("t", "ann", Tier::Two), Ok(()), "writes count apart");
        assert_eq!(limiter.check("t", "ann", Tier::Two), Err(60));
        clock.advance(Duration::from_millis(19_500));
        assert_eq!(limiter.check("t", "ann", Tier::One), Err(1), "half a second left is one second to wait");
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.check("t", "ann", Tier::One), Ok(()), "one request back after 20 s");
        assert_eq!(limiter.check("t", "ann", Tier::One), Err(20), "only one");
        // After a whole minute the bucket is full again.
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limiter.check("t", "ann", Tier::One), Ok(()));
        }
        assert!(limiter.check("t", "ann", Tier::One).is_err());
    }

    #[test]
    fn zero_turns_a_tier_off_and_the_window_sets_the_burst() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            RateLimitConfig {
                tier1_per_minute: 2,
                tier2_per_minute: 0,
                window: Duration::from_secs(5 * 60),
                ..RateLimitConfig::OFF
            },
            clock.clone(),
        );
        for _ in 0..1000 {
            assert_eq!(limiter.check("t", "u", Tier::Two), Ok(()), "0 turns a tier off");
        }
        // Two a minute over five minutes: a burst of ten, then one every 30 s.
        for _ in 0..10 {
            assert_eq!(limiter.check("t", "u", Tier::One), Ok(()));
        }
        assert_eq!(limiter.check("t", "u", Tier::One), Err(30));
        clock.advance(Duration::from_secs(30));
        assert_eq!(limiter.check("t", "u", Tier::One), Ok(()));
    }

    #[test]
    fn qliks_tiers_five_minutes_and_the_special_limits_count_apart() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(RateLimitConfig::default(), clock.clone());
        // Tier 2: 100 a minute over five minutes, so a burst of 500 writes, then one every 0.6 s.
        for _ in 0..500 {
            assert_eq!(limiter.check("t", "u", Tier::Two), Ok(()));
        }
        assert_eq!(limiter.check("t", "u", Tier::Two), Err(1));
        // actions/filter: 200 a minute, counted per minute, whatever tier 2 has left.
        for _ in 0..200 {
            assert_eq!(limiter.check("t", "u", Tier::Filter), Ok(()));
        }
        assert_eq!(limiter.check("t", "u", Tier::Filter), Err(1));
        // The audits: 1000 a minute of their own, apart from tier 1.
        for _ in 0..1000 {
            assert_eq!(limiter.check("t", "u", Tier::Audits), Ok(()));
        }
        assert!(limiter.check("t", "u", Tier::Audits).is_err());
        assert_eq!(limiter.check("t", "u", Tier::One), Ok(()), "reads keep their budget");
        clock.advance(Duration::from_secs(60));
        assert_eq!(limiter.check("t", "u", Tier::Filter), Ok(()), "a minute later the filter budget is back");
    }

    #[test]
    fn the_special_endpoints_are_told_by_their_path() {
        assert_eq!(Tier::of_request("POST", "/users/actions/filter"), Tier::Filter);
        assert_eq!(Tier::of_request("POST", "/api/v1/groups/actions/filter/"), Tier::Filter);
        assert_eq!(Tier::of_request("GET", "/audits"), Tier::Audits);
        assert_eq!(Tier::of_request("GET", "/api/v1/audits/archive"), Tier::Audits);
        assert_eq!(Tier::of_request("PUT", "/audits/settings"), Tier::Audits);
        assert_eq!(Tier::of_request("POST", "/users/actions/invite"), Tier::Two);
        assert_eq!(Tier::of_request("GET", "/users"), Tier::One);
        assert_eq!(Tier::of_request("HEAD", "/items"), Tier::One);
    }

    #[test]
    fn keys_whose_bucket_is_full_again_are_dropped() {
        let clock = FakeRelativeClock::default();
        let limit = Limit::with_clock(10, QUOTA_WINDOW, clock.clone());
        for _ in 0..10 {
            limit.check("t", "busy").unwrap();
        }
        for n in 0..PRUNE_ABOVE + 10 {
            limit.check("t", &format!("user{n}")).unwrap();
        }
        assert_eq!(limit.keys(), PRUNE_ABOVE + 11);
        // 30 s later one request's cell (6 s) is long refilled, the busy user's burst is not:
        // the next pruning check keeps only what still waits.
        clock.advance(Duration::from_secs(30));
        for _ in 0..PRUNE_EVERY {
            // Refused past its burst: still a check, which is what pruning counts.
            let _ = limit.check("t", "other");
        }
        assert_eq!(limit.keys(), 2, "the busy user and the one still checking");
        assert!(limit.check("t", "busy").is_ok(), "half of its burst came back in 30 s");
        assert_eq!(Limit::with_clock(0, QUOTA_WINDOW, clock).keys(), 0, "an off limit holds nothing");
    }
}
