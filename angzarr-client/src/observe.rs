//! Logging and tracing set-up for servers.

use tracing_subscriber::EnvFilter;

/// Installs a `tracing` subscriber printing to stderr, filtered by `RUST_LOG`
/// (default `info`), as JSON lines when `ANGZARR_LOG_FORMAT=json`.
///
/// Returns `false`, changing nothing, if a subscriber was already installed,
/// so calling it twice is harmless.
pub fn init_tracing() -> bool {
    let json =
        std::env::var("ANGZARR_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    init_tracing_with(json)
}

/// [`init_tracing`] with the output format chosen by the caller.
pub fn init_tracing_with(json: bool) -> bool {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().try_init().is_ok()
    } else {
        builder.try_init().is_ok()
    }
}

/// Longest text a span or log line carries from a request (roots, correlation
/// ids): the wire bounds neither, and one huge value must not flood the logs.
pub(crate) const MAX_LOGGED_CHARS: usize = 128;

/// `text` cut to [`MAX_LOGGED_CHARS`] characters, marked with `…` when cut.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_LOGGED_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// The hex of a root for spans and logs, cut like [`clip`] without hexing
/// more than it shows.
pub(crate) fn root_hex(root: Option<&angzarr_proto::Uuid>) -> String {
    let Some(root) = root else {
        return String::new();
    };
    let shown = &root.value[..root.value.len().min(MAX_LOGGED_CHARS / 2)];
    let mut hex = angzarr_proto::identity::hex(shown);
    if shown.len() < root.value.len() {
        hex.push('…');
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(500);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_LOGGED_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn long_roots_are_cut_before_hexing() {
        let normal = angzarr_proto::Uuid {
            value: vec![0xab; 16],
        };
        assert_eq!(root_hex(Some(&normal)), "ab".repeat(16));
        let huge = angzarr_proto::Uuid {
            value: vec![1; 1 << 20],
        };
        let shown = root_hex(Some(&huge));
        assert_eq!(shown.chars().count(), MAX_LOGGED_CHARS + 1);
        assert_eq!(root_hex(None), "");
    }
}
