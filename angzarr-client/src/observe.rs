//! Logging and tracing set-up for servers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Installs a `tracing` subscriber printing to stderr, filtered by `RUST_LOG`
/// (default `info`), as JSON lines when `ANGZARR_LOG_FORMAT=json`, coloured
/// only when stderr is a terminal.
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
    // Colours only for a person at a terminal: escape codes in a pipe or a
    // log collector are noise around every field.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().try_init().is_ok()
    } else {
        builder.try_init().is_ok()
    }
}

/// How long a call may take before it is logged at WARN as slow, by
/// default.
pub const DEFAULT_SLOW_CALL: Duration = Duration::from_secs(1);

/// The slow-call threshold in nanoseconds, process-wide: the components'
/// services are built before any server holds them.
static SLOW_CALL_NANOS: AtomicU64 = AtomicU64::new(DEFAULT_SLOW_CALL.as_nanos() as u64);

/// Sets how long a call may take before it is logged as slow; the last
/// server bound in a process sets it for every component in it.
pub(crate) fn set_slow_call(threshold: Duration) {
    let nanos = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
    SLOW_CALL_NANOS.store(nanos, Ordering::Relaxed);
}

/// The current slow-call threshold.
pub(crate) fn slow_call() -> Duration {
    Duration::from_nanos(SLOW_CALL_NANOS.load(Ordering::Relaxed))
}

/// Which span of a call to make: its per-call detail, at DEBUG, made on
/// every call and free unless DEBUG is on; or, at INFO, what identifies the
/// call, made only when a line about it is written (it was refused, failed
/// or was slow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallSpan {
    Detail,
    Identify,
}

/// `call_span!(which, "name", field = value, ...)`: the span of a call at
/// the level [`CallSpan`] `which` gives; field values are computed only when
/// the span is enabled.
macro_rules! call_span {
    ($which:expr, $($span:tt)*) => {
        match $which {
            $crate::observe::CallSpan::Detail => ::tracing::debug_span!($($span)*),
            $crate::observe::CallSpan::Identify => ::tracing::info_span!($($span)*),
        }
    };
}
pub(crate) use call_span;

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
