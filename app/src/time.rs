//! Relative times ("3 min ago"), computed from an explicit `now` so the server and the
//! hydrating browser render the same text.

/// Formats how long before `now_ms` the moment `ts_ms` was.
pub fn relative(ts_ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - ts_ms).max(0) / 1000;
    match secs {
        0..=44 => "just now".to_owned(),
        45..=3_599 => format!("{} min ago", (secs + 30) / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn buckets() {
        let now = 1_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now + 5_000, now), "just now", "clock skew is not negative time");
        assert_eq!(relative(now - 60_000, now), "1 min ago");
        assert_eq!(relative(now - 7_200_000, now), "2 h ago");
        assert_eq!(relative(now - 3 * 86_400_000, now), "3 d ago");
    }
}
