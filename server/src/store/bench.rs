//! The per-call cost of authentication, measured for the benchmark (never asserted); the audit
//! append's is `audit::bench`.
//!
//! Each function runs an operation `n` times one after another and returns every sample, so the
//! caller can report medians and spread (as hyperfine does).

use std::time::{Duration, Instant};

use super::{Error, Store};

/// Raw durations of repeated runs of one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    /// The median (zero when empty).
    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The `q` quantile, `q` in `0.0..=1.0` (nearest rank; zero when empty).
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let Some(max_index) = sorted.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        // Rounding a rank in 0..=len-1 to an index cannot go out of range.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((max_index as f64) * q.clamp(0.0, 1.0)).round() as usize;
        sorted[index.min(max_index)]
    }
}

/// Times `n` calls of [`Store::authenticate_token`] with `token` (issue one first).
pub async fn bench_authenticate(store: &Store, token: &str, n: usize) -> Result<Samples, Error> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let user = store.authenticate_token(token).await?;
        samples.push(start.elapsed());
        std::hint::black_box(user);
    }
    Ok(Samples(samples))
}
