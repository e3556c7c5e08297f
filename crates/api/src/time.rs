//! Time formatting and parsing for the API: RFC 3339 in UTC, or Unix seconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the epoch as RFC 3339 (`2026-11-23T16:00:00.123Z`).
pub fn rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 or Unix seconds into milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Some((secs * 1000.0) as i64);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips() {
        let t = 1_795_000_000_123;
        assert_eq!(parse(&rfc3339(t)), Some(t));
        assert_eq!(parse("1795000000"), Some(1_795_000_000_000));
        assert_eq!(parse("yesterday"), None);
    }
}
