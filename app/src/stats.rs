//! Latency statistics for the speed test and the transport lab: percentiles and histograms,
//! shared by the browser pages and the `wallsocket-tools bench` command.

use serde::{Deserialize, Serialize};

/// Summary of a set of latencies, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The `q`-quantile (0..=1) of sorted samples, nearest-rank: the smallest sample with at
/// least `q` of all samples at or below it.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises samples (in any order). `None` for no samples.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        count: sorted.len(),
        mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        p50: percentile(&sorted, 0.50),
        p90: percentile(&sorted, 0.90),
        p99: percentile(&sorted, 0.99),
        max: sorted[sorted.len() - 1],
    })
}

/// Counts of samples in `buckets` equal-width bins from 0 to `top` (the last bin also takes
/// everything above `top`).
pub fn histogram(samples: &[f64], top: f64, buckets: usize) -> Vec<usize> {
    let mut counts = vec![0; buckets.max(1)];
    let width = if top > 0.0 { top / counts.len() as f64 } else { 1.0 };
    for &s in samples {
        let i = ((s.max(0.0) / width) as usize).min(counts.len() - 1);
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_on_known_inputs() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&samples).unwrap();
        assert_eq!((s.count, s.p50, s.p90, s.p99, s.max), (100, 50.0, 90.0, 99.0, 100.0));
        assert_eq!(s.mean, 50.5);
        // Order does not matter; a single sample is every percentile.
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.p50, s.p99, s.max), (2.0, 3.0, 3.0));
        assert_eq!(summarize(&[7.5]).unwrap().p50, 7.5);
        assert_eq!(summarize(&[]), None);
        assert_eq!(percentile(&[1.0, 2.0], 0.0), 1.0);
    }

    #[test]
    fn histogram_bins_and_overflow() {
        assert_eq!(histogram(&[0.0, 0.5, 1.0, 1.9, 2.5, 99.0], 4.0, 4), vec![2, 2, 1, 1]);
        assert_eq!(histogram(&[], 1.0, 3), vec![0, 0, 0]);
    }
}
