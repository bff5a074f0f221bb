//! Abuse limits of the HTTP transport: token buckets keyed by client address or user, and
//! tallies that turn a flood of refusals into one audit event per window.
//!
//! Both tables are bounded ([`TABLE_CAP`] keys): an attacker cycling through addresses costs
//! us a fixed amount of memory, and at worst resets the state of the oldest keys.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Keys remembered per table. A bucket is a few dozen bytes, so this is well under a MiB per
/// table, and more distinct clients than this within one refill period is already an attack.
pub const TABLE_CAP: usize = 10_000;

/// Where a request comes from, for per-client limits: the peer's IPv4 address, or the /64
/// prefix of an IPv6 one (one host routinely owns a whole /64, so per-address IPv6 limits
/// would cost an attacker nothing to evade). IPv4-mapped IPv6 addresses count as IPv4.
///
/// Only the TCP peer counts: `X-Forwarded-For` and friends are whatever the client says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of a request whose peer address is unknown (the router served without our
    /// accept loop, as in-process tests do).
    pub const UNKNOWN: Self = Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => Self(IpAddr::V6(Ipv6Addr::from(
                    u128::from(v6) & !u128::from(u64::MAX),
                ))),
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A token bucket's shape: `per_minute` tokens come back per minute, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    fn per_second(self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// How long until a bucket holding `tokens` holds one whole token again.
    fn wait_for_one(self, tokens: f64) -> Duration {
        let missing = (1.0 - tokens).max(0.0);
        if self.per_minute == 0 {
            return Duration::from_secs(60);
        }
        Duration::from_secs_f64(missing / self.per_second())
    }
}

/// Whole seconds to put in `Retry-After` for a wait of `wait` (at least 1: `0` would invite an
/// immediate retry that is refused again).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key, bounded to [`TABLE_CAP`] keys. A key absent from the table has a full
/// bucket, so forgetting full buckets loses nothing.
pub struct Buckets<K> {
    rate: Rate,
    cap: usize,
    entries: Mutex<HashMap<K, Bucket>>,
}

impl<K: Clone + Eq + Hash> Buckets<K> {
    pub fn new(rate: Rate) -> Self {
        Self::with_cap(rate, TABLE_CAP)
    }

    fn with_cap(rate: Rate, cap: usize) -> Self {
        Self {
            rate,
            cap: cap.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        // Only plain numbers inside: a panic elsewhere cannot leave them inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        Bucket {
            tokens: (bucket.tokens + elapsed * self.rate.per_second())
                .min(f64::from(self.rate.burst)),
            at: now,
        }
    }

    /// `Ok` when `key` has a token now (none is taken), else how long until it has one.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let entries = self.lock();
        match entries.get(key) {
            None => Ok(()),
            Some(bucket) => {
                let bucket = self.refilled(*bucket, now);
                if bucket.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(self.rate.wait_for_one(bucket.tokens))
                }
            }
        }
    }

    /// Takes a token from `key`'s bucket; when it has none, takes none and says how long until
    /// it has one.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.spend(key, now, false)
    }

    /// Takes a token from `key`'s bucket even when it is empty (never below zero): for
    /// failures that happened anyway, after a [`Buckets::check`] that raced with others.
    pub fn charge(&self, key: &K, now: Instant) {
        let _ = self.spend(key, now, true);
    }

    fn spend(&self, key: &K, now: Instant, anyway: bool) -> Result<(), Duration> {
        let full = Bucket {
            tokens: f64::from(self.rate.burst),
            at: now,
        };
        let mut entries = self.lock();
        let bucket = match entries.get(key) {
            Some(bucket) => self.refilled(*bucket, now),
            None => full,
        };
        let result = if bucket.tokens >= 1.0 {
            Ok(())
        } else {
            Err(self.rate.wait_for_one(bucket.tokens))
        };
        let tokens = if result.is_ok() || anyway {
            (bucket.tokens - 1.0).max(0.0)
        } else {
            bucket.tokens
        };
        if !entries.contains_key(key) && entries.len() >= self.cap {
            self.make_room(&mut entries, now);
        }
        entries.insert(key.clone(), Bucket { tokens, at: now });
        result
    }

    /// Gives a token back to `key` (a reservation that was not used).
    pub fn refund(&self, key: &K, now: Instant) {
        let mut entries = self.lock();
        if let Some(bucket) = entries.get(key).copied() {
            let mut bucket = self.refilled(bucket, now);
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(self.rate.burst));
            entries.insert(key.clone(), bucket);
        }
    }

    /// Forgets the full buckets, and if that frees nothing, the least recently used one.
    fn make_room(&self, entries: &mut HashMap<K, Bucket>, now: Instant) {
        let burst = f64::from(self.rate.burst);
        entries.retain(|_, bucket| self.refilled(*bucket, now).tokens < burst);
        if entries.len() >= self.cap
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, bucket)| bucket.at)
                .map(|(key, _)| key.clone())
        {
            entries.remove(&oldest);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    /// Refusals counted since the last report.
    pending: u64,
    /// When the last report was made.
    reported: Instant,
}

/// Refusals counted per key and reported at most once per window: the first refusal after a
/// quiet window is reported at once (so the log shows the flood begin), the rest of the window
/// as one count (by [`Tally::due`], which a timer calls). Bounded like [`Buckets`]: keys past
/// the cap are counted under one overflow count.
pub struct Tally<K> {
    window: Duration,
    cap: usize,
    inner: Mutex<TallyInner<K>>,
}

struct TallyInner<K> {
    counts: HashMap<K, Count>,
    overflow: u64,
}

/// A count [`Tally::due`] hands over: refusals under `key` (`None`: keys past the table cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<K> {
    pub key: Option<K>,
    pub refused: u64,
}

impl<K: Clone + Eq + Hash> Tally<K> {
    pub fn new(window: Duration) -> Self {
        Self::with_cap(window, TABLE_CAP)
    }

    fn with_cap(window: Duration, cap: usize) -> Self {
        Self {
            window,
            cap: cap.max(1),
            inner: Mutex::new(TallyInner {
                counts: HashMap::new(),
                overflow: 0,
            }),
        }
    }

    /// The reporting window.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> MutexGuard<'_, TallyInner<K>> {
        // Only plain numbers inside: a panic elsewhere cannot leave them inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one refusal under `key`. `Some(n)` when a report is due now, covering `n`
    /// refusals (this one included); `None` when it waits for the window to close.
    pub fn count(&self, key: &K, now: Instant) -> Option<u64> {
        let mut inner = self.lock();
        if let Some(count) = inner.counts.get_mut(key) {
            count.pending += 1;
            if now.saturating_duration_since(count.reported) < self.window {
                return None;
            }
            let refused = count.pending;
            *count = Count {
                pending: 0,
                reported: now,
            };
            return Some(refused);
        }
        if inner.counts.len() >= self.cap {
            let window = self.window;
            inner
                .counts
                .retain(|_, c| c.pending > 0 || now.saturating_duration_since(c.reported) < window);
            if inner.counts.len() >= self.cap {
                inner.overflow += 1;
                return None;
            }
        }
        inner.counts.insert(
            key.clone(),
            Count {
                pending: 0,
                reported: now,
            },
        );
        Some(1)
    }

    /// The counts whose window has closed, reset; keys quiet for a whole window are forgotten.
    pub fn due(&self, now: Instant) -> Vec<Due<K>> {
        let window = self.window;
        let mut inner = self.lock();
        let mut due = Vec::new();
        inner.counts.retain(|key, count| {
            if now.saturating_duration_since(count.reported) < window {
                return true;
            }
            if count.pending == 0 {
                return false;
            }
            due.push(Due {
                key: Some(key.clone()),
                refused: count.pending,
            });
            *count = Count {
                pending: 0,
                reported: now,
            };
            true
        });
        if inner.overflow > 0 {
            due.push(Due {
                key: None,
                refused: std::mem::take(&mut inner.overflow),
            });
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_minute: 60,
        burst: 3,
    };

    #[test]
    fn client_keys() {
        let check = |ip: &str, expected: &str| {
            let key = ClientKey::of(ip.parse().expect("ip"));
            assert_eq!(key.to_string(), expected, "{ip}");
        };
        check("192.0.2.7", "192.0.2.7");
        check("::ffff:192.0.2.7", "192.0.2.7");
        check("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64");
        check("2001:db8:1:2::1", "2001:db8:1:2::/64");
        check("2001:db8:1:3::1", "2001:db8:1:3::/64");
    }

    #[test]
    fn buckets_refill_and_refuse() {
        let t0 = Instant::now();
        let buckets = Buckets::new(RATE);
        for _ in 0..3 {
            assert_eq!(buckets.check(&"a", t0), Ok(()));
            buckets.charge(&"a", t0);
        }
        let wait = buckets.check(&"a", t0).expect_err("empty");
        assert_eq!(retry_after_secs(wait), 1);
        assert_eq!(buckets.check(&"b", t0), Ok(()), "another key is untouched");
        assert_eq!(buckets.check(&"a", t0 + Duration::from_secs(1)), Ok(()));
        assert!(buckets.take(&"a", t0).is_err());
        assert_eq!(buckets.take(&"a", t0 + Duration::from_secs(1)), Ok(()));
        buckets.refund(&"a", t0 + Duration::from_secs(1));
        assert_eq!(buckets.take(&"a", t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up() {
        let check = |ms: u64, secs: u64| {
            assert_eq!(retry_after_secs(Duration::from_millis(ms)), secs, "{ms}");
        };
        check(0, 1);
        check(1, 1);
        check(1000, 1);
        check(1001, 2);
        check(2999, 3);
    }

    #[test]
    fn bucket_table_is_bounded() {
        let t0 = Instant::now();
        let buckets = Buckets::with_cap(RATE, 4);
        for key in 0..100 {
            buckets.charge(&key, t0 + Duration::from_millis(key));
        }
        assert!(buckets.lock().len() <= 4);
        // The newest keys are the ones kept.
        assert!(buckets.lock().contains_key(&99));
    }

    #[test]
    fn tallies_report_once_per_window() {
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        let tally = Tally::new(window);
        assert_eq!(
            tally.count(&"a", t0),
            Some(1),
            "the first is reported at once"
        );
        for _ in 0..50 {
            assert_eq!(tally.count(&"a", t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(tally.count(&"b", t0), Some(1));
        assert!(tally.due(t0 + Duration::from_secs(30)).is_empty());
        let due = tally.due(t0 + window);
        assert_eq!(
            due,
            vec![Due {
                key: Some("a"),
                refused: 50
            }]
        );
        // A refusal right after a report waits; one a window later is reported with the rest.
        assert_eq!(tally.count(&"a", t0 + window), None);
        assert_eq!(tally.count(&"a", t0 + window * 2), Some(2));
        // Quiet keys are forgotten.
        assert!(tally.due(t0 + window * 4).is_empty());
        assert!(tally.lock().counts.is_empty());
    }

    #[test]
    fn tally_table_is_bounded() {
        let t0 = Instant::now();
        let tally = Tally::with_cap(Duration::from_secs(60), 3);
        let reported: usize = (0..10).filter(|key| tally.count(key, t0).is_some()).count();
        assert_eq!(reported, 3);
        let due = tally.due(t0 + Duration::from_secs(60));
        assert_eq!(
            due,
            vec![Due {
                key: None,
                refused: 7
            }]
        );
    }
}
