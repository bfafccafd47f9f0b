//! A latency histogram many tasks record into at once: fixed 10 µs buckets up to 10 s (plus
//! the exact maximum), so a million samples a second cost one atomic add each and no memory
//! grows with the run's length.

use std::sync::atomic::{AtomicU64, Ordering};

/// Width of one bucket.
const BUCKET_US: u64 = 10;
/// Buckets; samples above the last one land in it and still count in `max`.
const BUCKETS: usize = 1_000_000;

/// Latencies in microseconds.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }

    pub fn record(&self, us: u64) {
        let bucket = usize::try_from(us / BUCKET_US).map_or(BUCKETS - 1, |b| b.min(BUCKETS - 1));
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `q` quantile (0–1) in milliseconds: the upper edge of its bucket (the exact maximum
    /// for `q = 1`); `NaN` when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let count = self.count();
        if count == 0 {
            return f64::NAN;
        }
        if q >= 1.0 {
            return self.max_us.load(Ordering::Relaxed) as f64 / 1_000.0;
        }
        // The smallest value with at least `rank` samples at or below it.
        let rank = ((count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                let edge = (i as u64 + 1) * BUCKET_US;
                return edge.min(self.max_us.load(Ordering::Relaxed)) as f64 / 1_000.0;
            }
        }
        self.max_us.load(Ordering::Relaxed) as f64 / 1_000.0
    }

    /// `p50 … max` in milliseconds, on one line.
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            self.quantile_ms(0.5),
            self.quantile_ms(0.9),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.quantile_ms(1.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_edges_and_max_is_exact() {
        let h = Histogram::new();
        assert!(h.quantile_ms(0.5).is_nan());
        for us in [5, 1_000, 2_000, 3_000, 15_000_000] {
            h.record(us);
        }
        assert_eq!(h.count(), 5);
        assert_eq!(h.quantile_ms(0.2), 0.01);
        assert_eq!(h.quantile_ms(0.5), 2.01);
        assert_eq!(h.quantile_ms(0.8), 3.01);
        assert_eq!(
            h.quantile_ms(1.0),
            15_000.0,
            "beyond the last bucket, max still exact"
        );
    }
}
