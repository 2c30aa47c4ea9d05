//! The `main` of the example servers.

use std::process::ExitCode;

use angzarr_client::{init_tracing, run_aggregate_server, Aggregate};

/// Serves `aggregate` until SIGINT or SIGTERM: on the address given as the
/// first command-line argument, else where the environment says (`PORT`,
/// default 50303, or a Unix socket with `TRANSPORT_TYPE=uds`).
pub fn run<A: Aggregate>(aggregate: A) -> ExitCode {
    init_tracing();
    let address = std::env::args().nth(1).unwrap_or_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_aggregate_server(aggregate, &address)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error}", std::env::args().next().unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}
