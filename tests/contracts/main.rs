//! Runs the Gherkin contracts in `features/` against angzarr-local and the
//! player example over loopback. A failed, skipped or undefined step, or a
//! feature that does not parse, fails the run.
//!
//! ```sh
//! cargo test -p tests --test contracts
//! cargo test -p tests --test contracts -- --name 'Unix socket'   # one scenario by name
//! ```

#[path = "../support/bank.rs"]
mod bank;
mod domains;
mod features;
mod poker;
mod serving;
mod steps;
mod system;
mod world;

use std::path::Path;

use cucumber::World as _;

use world::Contracts;

/// Scenarios in flight at once: each starts its own servers, and the
/// machine this runs on may have two cores.
const CONCURRENT_SCENARIOS: usize = 8;

#[tokio::main]
async fn main() {
    let Some(cli) = features::options() else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../features");
    if let Err(problem) = features::count_scenarios(&dir) {
        eprintln!("{problem}");
        std::process::exit(1);
    }
    Contracts::cucumber()
        .max_concurrent_scenarios(CONCURRENT_SCENARIOS)
        .fail_on_skipped()
        .with_cli(cli)
        .run_and_exit(dir)
        .await;
}
