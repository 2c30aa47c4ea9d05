//! Reading a directory of Gherkin features before cucumber runs them.

use std::path::Path;

use cucumber::cli::{self, Parser};
use cucumber::gherkin;

/// How many scenarios the `.feature` files of `dir` hold (a Scenario
/// Outline counts once). Gherkin reads a misspelt keyword as free text, so
/// a feature whose scenarios are all misspelt would pass with nothing run:
/// a file without scenarios, one that does not parse, or a directory
/// without features is an error.
pub fn count_scenarios(dir: &Path) -> Result<usize, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let (mut features, mut total) = (0, 0);
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path
            .extension()
            .is_none_or(|extension| extension != "feature")
        {
            continue;
        }
        features += 1;
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
        total += scenarios;
    }
    if features == 0 {
        return Err(format!("no .feature files in {}", dir.display()));
    }
    Ok(total)
}

/// The runner's own command line. `cargo test` may pass libtest's flags
/// (`--nocapture`, a name filter): the runner's own flags work, anything
/// else runs every scenario. `None` when the run is to end at once (help
/// was printed, or `cargo nextest` asked for the list of tests).
pub fn options<P: cli::Args, R: cli::Args, W: cli::Args>() -> Option<cli::Opts<P, R, W, cli::Empty>>
where
    cli::Opts<P, R, W, cli::Empty>: Parser + Default,
{
    match cli::Opts::<P, R, W, cli::Empty>::try_parse() {
        Ok(cli) => Some(cli),
        Err(error) if error.use_stderr() => {
            if std::env::args().any(|arg| arg == "--list") {
                // What `cargo nextest` asks a test binary first.
                let name = std::env::args()
                    .next()
                    .and_then(|path| {
                        let stem = Path::new(&path).file_stem()?.to_str()?.to_owned();
                        Some(stem.split('-').next().unwrap_or(&stem).to_owned())
                    })
                    .unwrap_or_else(|| "contracts".to_owned());
                println!("{name}: test");
                return None;
            }
            Some(cli::Opts::default())
        }
        Err(help) => {
            let _ = help.print();
            None
        }
    }
}
