//! The server's own post → written latency: `wallsocket_post_to_written_seconds` read from
//! `/metrics` before and after a run, and its quantiles over the run's posts. It times each
//! post from the connection handing it over to its frame flushed to the last member's socket,
//! so the load generator's own queueing is not in it.

use serde::Serialize;

const BUCKET: &str = "wallsocket_post_to_written_seconds_bucket{le=\"";

/// The histogram's cumulative bucket counts, by upper bound in seconds (`+Inf` last).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Vec<(f64, f64)>);

/// What the server measured over one run, in ms.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub posts: u64,
    pub p50: f64,
    pub p99: f64,
}

/// Reads the histogram from the server at `base` (`http://host:port`); `None` if the server
/// has none (a peer, or an older server).
pub async fn scrape(base: &str) -> Option<Buckets> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().ok()?;
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    parse(&text)
}

fn parse(metrics: &str) -> Option<Buckets> {
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|line| {
            let (le, count) = line.strip_prefix(BUCKET)?.split_once("\"} ")?;
            Some((le.parse().ok()?, count.trim().parse().ok()?))
        })
        .collect();
    (!buckets.is_empty()).then_some(Buckets(buckets))
}

/// The quantiles of the posts timed between `before` and `after`; `None` if none was.
pub fn between(before: &Buckets, after: &Buckets) -> Option<Written> {
    let delta: Vec<(f64, f64)> =
        after.0.iter().zip(&before.0).map(|(&(le, a), &(_, b))| (le, (a - b).max(0.0))).collect();
    let total = delta.last()?.1;
    (total > 0.0).then(|| Written {
        posts: total as u64,
        p50: quantile(&delta, 0.5) * 1000.0,
        p99: quantile(&delta, 0.99) * 1000.0,
    })
}

/// The `q` quantile of cumulative buckets, interpolated linearly within its bucket (as
/// Prometheus' `histogram_quantile` does); in the `+Inf` bucket, the last finite bound.
fn quantile(cumulative: &[(f64, f64)], q: f64) -> f64 {
    let rank = q * cumulative.last().map_or(0.0, |b| b.1);
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in cumulative {
        if count >= rank {
            if le.is_infinite() {
                return lower;
            }
            let within = count - below;
            return if within > 0.0 { lower + (le - lower) * (rank - below) / within } else { le };
        }
        (lower, below) = (le, count);
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::{between, parse};

    const BEFORE: &str = "# HELP …\n\
        wallsocket_post_to_written_seconds_bucket{le=\"0.001\"} 10\n\
        wallsocket_post_to_written_seconds_bucket{le=\"0.002\"} 10\n\
        wallsocket_post_to_written_seconds_bucket{le=\"0.004\"} 10\n\
        wallsocket_post_to_written_seconds_bucket{le=\"+Inf\"} 10\n\
        wallsocket_post_to_written_seconds_count 10\n";

    const AFTER: &str = "wallsocket_post_to_written_seconds_bucket{le=\"0.001\"} 10\n\
        wallsocket_post_to_written_seconds_bucket{le=\"0.002\"} 60\n\
        wallsocket_post_to_written_seconds_bucket{le=\"0.004\"} 110\n\
        wallsocket_post_to_written_seconds_bucket{le=\"+Inf\"} 110\n";

    #[test]
    fn the_run_counts_only_its_own_posts_and_interpolates_within_a_bucket() {
        let written = between(&parse(BEFORE).unwrap(), &parse(AFTER).unwrap()).unwrap();
        assert_eq!(written.posts, 100);
        // 50 of the run's 100 posts took 1–2 ms, 50 took 2–4 ms.
        assert!((written.p50 - 2.0).abs() < 1e-9, "{written:?}");
        assert!((written.p99 - 3.96).abs() < 1e-9, "{written:?}");
    }

    #[test]
    fn a_run_without_posts_or_a_server_without_the_histogram_has_none() {
        let before = parse(BEFORE).unwrap();
        assert!(between(&before, &before).is_none());
        assert!(parse("wallsocket_posts_total 3\n").is_none());
    }
}
