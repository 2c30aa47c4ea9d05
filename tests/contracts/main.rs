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
mod poker;
mod serving;
mod steps;
mod system;
mod world;

use std::path::Path;

use cucumber::cli::{self, Parser as _};
use cucumber::{gherkin, World as _};

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
    if let Err(problem) = every_feature_has_scenarios(&features) {
        eprintln!("{problem}");
        std::process::exit(1);
    }
    Contracts::cucumber()
        .max_concurrent_scenarios(CONCURRENT_SCENARIOS)
        .fail_on_skipped()
        .with_cli(cli)
        .run_and_exit(features)
        .await;
}

/// Gherkin reads a misspelt keyword as free text, so a feature whose
/// scenarios are all misspelt would pass with nothing run; refuse it.
fn every_feature_has_scenarios(dir: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = 0;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path
            .extension()
            .is_none_or(|extension| extension != "feature")
        {
            continue;
        }
        found += 1;
        let feature = gherkin::Feature::parse_path(&path, gherkin::GherkinEnv::default())
            .map_err(|e| format!("{} does not parse: {e}", path.display()))?;
        let scenarios = feature.scenarios.len()
            + feature
                .rules
                .iter()
                .map(|r| r.scenarios.len())
                .sum::<usize>();
        if scenarios == 0 {
            return Err(format!(
                "{} has no scenarios: is a `Scenario:` keyword misspelt?",
                path.display()
            ));
        }
    }
    if found == 0 {
        return Err(format!("no .feature files in {}", dir.display()));
    }
    Ok(())
}
