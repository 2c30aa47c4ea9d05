//! Runs the Gherkin contracts in `features/` against angzarr-local and the
//! player example over loopback. A failed, skipped or undefined step, or a
//! feature that does not parse, fails the run.
//!
//! ```sh
//! cargo test -p tests --test contracts
//! cargo test -p tests --test contracts -- --name 'Unix socket'   # one scenario by name
//! ```

mod domains;
mod steps;
mod world;

use std::path::Path;

use cucumber::cli::{self, Parser as _};
use cucumber::World as _;

use world::Contracts;

/// Scenarios in flight at once: each starts its own servers, and the
/// machine this runs on may have two cores.
const CONCURRENT_SCENARIOS: usize = 8;

#[tokio::main]
async fn main() {
    // `cargo test` may pass libtest's flags (`--nocapture`, a name filter);
    // the runner's own flags work, anything else runs every scenario.
    let cli = match cli::Opts::<_, _, _, cli::Empty>::try_parse() {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            if std::env::args().any(|arg| arg == "--list") {
                // What `cargo nextest` asks a test binary first.
                println!("contracts: test");
                return;
            }
            cli::Opts::default()
        }
        Err(help) => {
            let _ = help.print();
            return;
        }
    };
    let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("../features");
    Contracts::cucumber()
        .max_concurrent_scenarios(CONCURRENT_SCENARIOS)
        .fail_on_skipped()
        .with_cli(cli)
        .run_and_exit(features)
        .await;
}
