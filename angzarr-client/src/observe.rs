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
