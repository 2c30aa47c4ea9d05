//! Runs the seed SDK's own Gherkin contracts (`shared/seed-contracts/`, 14
//! features, 250 scenarios) against our SDK: clients and builders against
//! angzarr-local over loopback gRPC, routers and state building through our
//! runtimes, connections over TCP and Unix sockets. A failed, skipped or
//! undefined step fails the run; its last line says how many of the 250
//! scenarios ran and passed.
//!
//! ```sh
//! cargo test -p tests --test seed_contracts
//! cargo test -p tests --test seed_contracts -- --name 'Unix socket'
//! ```
//!
//! The features are read from `$ANGZARR_SEED_CONTRACTS_DIR`, else from
//! `shared/seed-contracts` beside the repository. Where they are missing
//! the run says so and passes, unless `ANGZARR_WIRE_REQUIRED=1` (as CI sets
//! it) demands them.

#[path = "../contracts/features.rs"]
mod features;

mod domains;
mod poker;
mod steps;
mod world;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use cucumber::event::ScenarioFinished;
use cucumber::writer::Stats as _;
use cucumber::World as _;

use world::Seed;

/// Scenarios in flight at once: each starts its own angzarr-local, and the
/// machine this runs on may have two cores.
const CONCURRENT_SCENARIOS: usize = 8;

/// How many scenarios the seed's contracts hold. (Their README says 251:
/// it counts the comment `# Cross-Strategy Scenarios` as one.)
const SEED_SCENARIOS: usize = 250;

static FINISHED: AtomicUsize = AtomicUsize::new(0);
static PASSED: AtomicUsize = AtomicUsize::new(0);

fn contracts_dir() -> PathBuf {
    match std::env::var_os("ANGZARR_SEED_CONTRACTS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seed-contracts"),
    }
}

#[tokio::main]
async fn main() {
    let Some(cli) = features::options() else {
        return;
    };
    let dir = contracts_dir();
    if !dir.is_dir() {
        let required = std::env::var_os("ANGZARR_WIRE_REQUIRED").is_some_and(|v| v == "1");
        let message = format!("the seed's contracts are not at {}", dir.display());
        if required {
            eprintln!("{message}, and ANGZARR_WIRE_REQUIRED=1 demands them");
            std::process::exit(1);
        }
        println!("{message}: nothing to run (set ANGZARR_SEED_CONTRACTS_DIR)");
        return;
    }
    let scenarios = match features::count_scenarios(&dir) {
        Ok(count) => count,
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(1);
        }
    };
    let filtered = cli.re_filter.is_some() || cli.tags_filter.is_some();
    let writer = Seed::cucumber()
        .max_concurrent_scenarios(CONCURRENT_SCENARIOS)
        .after(|_, _, _, finished, _| {
            FINISHED.fetch_add(1, Ordering::Relaxed);
            if matches!(finished, ScenarioFinished::StepPassed) {
                PASSED.fetch_add(1, Ordering::Relaxed);
            }
            Box::pin(std::future::ready(()))
        })
        .fail_on_skipped()
        .with_cli(cli)
        .run(&dir)
        .await;
    let (ran, passed) = (
        FINISHED.load(Ordering::Relaxed),
        PASSED.load(Ordering::Relaxed),
    );
    println!(
        "seed contracts: {scenarios} of {SEED_SCENARIOS} scenarios in {}; {ran} runs (an outline runs once per example), {passed} passed",
        dir.display()
    );
    let mut failed = writer.execution_has_failed() || passed != ran;
    if !filtered && scenarios != SEED_SCENARIOS {
        eprintln!("expected the seed's {SEED_SCENARIOS} scenarios, found {scenarios}");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
