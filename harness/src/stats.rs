//! Order statistics over raw samples (kept, as hyperfine does, so any figure can be recomputed).

use std::time::Duration;

/// Summary of one series of timings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50_us: f64,
    pub p95_us: f64,
    pub min_us: f64,
    pub max_us: f64,
}

/// The `q`-quantile (0..=1) by the nearest-rank method on sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises durations in microseconds.
pub fn summarize(samples: &[Duration]) -> Summary {
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    Summary {
        n: us.len(),
        p50_us: quantile(&us, 0.5),
        p95_us: quantile(&us, 0.95),
        min_us: us.first().copied().unwrap_or(f64::NAN),
        max_us: us.last().copied().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(samples: &[f64], q: f64, expected: f64) {
        assert_eq!(quantile(samples, q), expected, "q={q} of {samples:?}");
    }

    #[test]
    fn nearest_rank() {
        let s: Vec<f64> = (1..=20).map(f64::from).collect();
        check(&s, 0.5, 10.0);
        check(&s, 0.95, 19.0);
        check(&s, 1.0, 20.0);
        check(&s, 0.0, 1.0);
        check(&[7.0], 0.5, 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn summary_in_microseconds() {
        let d: Vec<Duration> = [3u64, 1, 2, 4]
            .iter()
            .map(|&x| Duration::from_micros(x))
            .collect();
        let s = summarize(&d);
        assert_eq!(
            (s.n, s.p50_us, s.p95_us, s.min_us, s.max_us),
            (4, 2.0, 4.0, 1.0, 4.0)
        );
    }
}
