//! Timestamps: from now, from a [`SystemTime`], and from RFC 3339 text.
//!
//! ```
//! use angzarr_proto::time;
//!
//! let at = time::parse_rfc3339("2026-01-02T03:04:05.5+01:00").unwrap();
//! assert_eq!(time::to_rfc3339(&at), "2026-01-02T02:04:05.500Z");
//!
//! let err = time::parse_rfc3339("yesterday").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid timestamp \"yesterday\": not a date and time \
//!      (expected RFC 3339, e.g. 2026-01-02T03:04:05Z)"
//! );
//! ```

use std::time::SystemTime;

use prost_types::Timestamp;

/// Why text or a timestamp could not be read as a point in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason} (expected RFC 3339, e.g. 2026-01-02T03:04:05Z)")]
pub struct InvalidTimestamp {
    input: String,
    reason: &'static str,
}

impl InvalidTimestamp {
    /// The text (or timestamp, rendered) that was rejected.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

/// The current time.
pub fn now() -> Timestamp {
    SystemTime::now().into()
}

/// The timestamp of a [`SystemTime`] (before the epoch too).
pub fn from_system_time(at: SystemTime) -> Timestamp {
    at.into()
}

/// The [`SystemTime`] of a timestamp, if the platform can represent it.
pub fn to_system_time(at: &Timestamp) -> Result<SystemTime, InvalidTimestamp> {
    SystemTime::try_from(*at).map_err(|_| InvalidTimestamp {
        input: format!("{}s {}ns", at.seconds, at.nanos),
        reason: "outside the range this system can represent",
    })
}

/// Parses RFC 3339 text such as `2026-01-02T03:04:05Z` or
/// `2026-01-02T03:04:05.123+02:00`.
///
/// The date, the time of day and the UTC offset are all required; a date alone
/// or a time without an offset is rejected rather than guessed at.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, InvalidTimestamp> {
    let reject = |reason| InvalidTimestamp {
        input: text.to_owned(),
        reason,
    };
    let bytes = text.as_bytes();
    if text.is_empty() {
        return Err(reject("empty text"));
    }
    if !text.is_ascii() {
        return Err(reject("contains non-ASCII characters"));
    }
    let shaped_like_a_date = bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-';
    if !shaped_like_a_date {
        return Err(reject("not a date and time"));
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return Err(reject("missing the time of day"));
    }
    if !has_utc_offset(bytes) {
        return Err(reject("missing the UTC offset (Z or ±HH:MM)"));
    }
    text.parse::<Timestamp>()
        .map_err(|_| reject("not a valid date and time"))
}

/// Renders a timestamp as RFC 3339 text in UTC.
pub fn to_rfc3339(at: &Timestamp) -> String {
    at.to_string()
}

fn has_utc_offset(bytes: &[u8]) -> bool {
    match bytes {
        [.., b'Z' | b'z'] => true,
        [.., sign, h1, h2, b':', m1, m2] => {
            matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_utc_offsets_and_fractions() {
        let at = parse_rfc3339("1970-01-01T00:00:10Z").unwrap();
        assert_eq!((at.seconds, at.nanos), (10, 0));
        let at = parse_rfc3339("1970-01-01T01:00:10.25+01:00").unwrap();
        assert_eq!((at.seconds, at.nanos), (10, 250_000_000));
        let at = parse_rfc3339("1970-01-01t00:00:00-00:30").unwrap();
        assert_eq!(at.seconds, 1800);
    }

    #[test]
    fn rejects_bad_text_naming_the_problem() {
        for (text, reason) in [
            ("", "empty text"),
            ("yesterday", "not a date and time"),
            ("2026-01-02", "missing the time of day"),
            (
                "2026-01-02T03:04:05",
                "missing the UTC offset (Z or ±HH:MM)",
            ),
            (
                "2026-01-02T03:04:05+0100",
                "missing the UTC offset (Z or ±HH:MM)",
            ),
            ("2026-13-02T03:04:05Z", "not a valid date and time"),
            ("2026-01-02T25:04:05Z", "not a valid date and time"),
            ("2026-01-02T03:04:05.Z", "not a valid date and time"),
            ("2026-01-02T03:04:05Zé", "contains non-ASCII characters"),
        ] {
            let err = parse_rfc3339(text).unwrap_err();
            assert_eq!(err.reason(), reason, "for {text:?}");
            assert_eq!(err.input(), text);
        }
    }

    #[test]
    fn converts_system_time_both_ways() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1500);
        let ts = from_system_time(at);
        assert_eq!((ts.seconds, ts.nanos), (1, 500_000_000));
        assert_eq!(to_system_time(&ts), Ok(at));
        assert!(now().seconds > 1_700_000_000);
    }

    #[test]
    fn renders_rfc3339() {
        let ts = Timestamp {
            seconds: 0,
            nanos: 0,
        };
        assert_eq!(to_rfc3339(&ts), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339(&to_rfc3339(&ts)), Ok(ts));
    }

    #[test]
    fn out_of_range_timestamps_are_errors() {
        let ts = Timestamp {
            seconds: i64::MIN,
            nanos: 0,
        };
        let err = to_system_time(&ts).unwrap_err();
        assert_eq!(err.reason(), "outside the range this system can represent");
    }
}
