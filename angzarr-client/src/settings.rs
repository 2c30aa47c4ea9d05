//! Settings read from text: durations and sizes as operators write them in
//! environment variables and manifests (`5s`, `250ms`, `64MiB`).

use std::time::Duration;

/// The largest message servers accept and send, and clients send and
/// accept, by default: 64 MiB, what angzarr-local sends. One number for
/// every side, so that a history one side can send the other can read.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Parses a duration: a whole number with a unit (`ms`, `s`, `m`, `h`), or
/// a bare number of seconds. `0` is allowed.
///
/// ```
/// use std::time::Duration;
/// use angzarr_client::settings::parse_duration;
///
/// assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = split_number(text);
    let value: u64 = number.parse().map_err(|_| {
        format!("expected a whole number with ms, s, m or h (e.g. 5s, 250ms), got {text:?}")
    })?;
    let millis = match unit.trim() {
        "ms" => Some(value),
        "" | "s" => value.checked_mul(1_000),
        "m" => value.checked_mul(60_000),
        "h" => value.checked_mul(3_600_000),
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// Parses a size in bytes: a whole number, optionally with `KiB`, `MiB` or
/// `GiB` (`K`, `M`, `G` and `KB`, `MB`, `GB` mean the same powers of 1024).
///
/// ```
/// use angzarr_client::settings::parse_size;
///
/// assert_eq!(parse_size("4096"), Ok(4096));
/// assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
/// assert_eq!(parse_size("2 K"), Ok(2048));
/// assert!(parse_size("-1").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (number, unit) = split_number(text);
    let value: usize = number.parse().map_err(|_| {
        format!("expected a whole number of bytes, optionally with KiB, MiB or GiB, got {text:?}")
    })?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown unit {other:?}: use KiB, MiB or GiB")),
    };
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} does not fit in memory"))
}

fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// The variable `name` parsed by `parse`, `None` when unset or blank, or the
/// variable, its value and the reason it cannot be used.
pub(crate) fn from_env<T>(
    name: &'static str,
    lookup: &dyn Fn(&str) -> Option<String>,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, (&'static str, String, String)> {
    match lookup(name) {
        Some(value) if !value.trim().is_empty() => match parse(&value) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(reason) => Err((name, value, reason)),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("10 s"), Ok(Duration::from_secs(10)));
        for bad in ["", "s", "1.5s", "-1s", "5 minutes", "99999999999999999999"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_duration("3d").unwrap_err(),
            "unknown unit \"d\": use ms, s, m or h"
        );
        assert!(parse_duration("18446744073709551615h")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("3kb"), Ok(3072));
        assert_eq!(parse_size("7b"), Ok(7));
        for bad in ["", "MiB", "1.5MiB", "12 bytes", "-4"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size("18446744073709551615GiB")
            .unwrap_err()
            .contains("does not fit"));
    }

    #[test]
    fn environment_values_are_named_when_wrong() {
        let lookup = |name: &str| match name {
            "GOOD" => Some("2s".to_owned()),
            "BLANK" => Some("  ".to_owned()),
            "BAD" => Some("later".to_owned()),
            _ => None,
        };
        assert_eq!(
            from_env("GOOD", &lookup, parse_duration),
            Ok(Some(Duration::from_secs(2)))
        );
        assert_eq!(from_env("BLANK", &lookup, parse_duration), Ok(None));
        assert_eq!(from_env("UNSET", &lookup, parse_duration), Ok(None));
        let (name, value, reason) = from_env("BAD", &lookup, parse_duration).unwrap_err();
        assert_eq!((name, value.as_str()), ("BAD", "later"));
        assert!(reason.contains("whole number"), "{reason}");
    }
}
