//! `angzarr-local`: an embedded Angzarr coordinator on SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use angzarr_client::init_tracing;
use angzarr_local::{AggregateKey, EventStore, LocalCoordinator, SqliteStore, DEFAULT_LISTEN};
use angzarr_proto::{time, AnyExt, DEFAULT_EDITION};
use clap::{Args, Parser, Subcommand};

/// An embedded Angzarr coordinator: stores events in SQLite, checks
/// optimistic concurrency and calls each domain's aggregate over gRPC.
#[derive(Parser)]
#[command(name = "angzarr-local", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Subcommand)]
enum Command {
    /// Print one aggregate's events as a table.
    Events(Events),
}

#[derive(Args)]
struct Serve {
    /// SQLite database file (created if missing).
    #[arg(long, default_value = "angzarr-local.db")]
    db: PathBuf,
    /// Address to serve the coordinator on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// A domain and its aggregate's endpoint, e.g. `player=http://127.0.0.1:50303`
    /// (repeat for each domain).
    #[arg(long = "domain", value_name = "NAME=URL", value_parser = parse_domain)]
    domains: Vec<(String, String)>,
}

#[derive(Args)]
struct Events {
    /// SQLite database file.
    #[arg(long, default_value = "angzarr-local.db")]
    db: PathBuf,
    /// The aggregate's domain.
    #[arg(long)]
    domain: String,
    /// The aggregate's root UUID.
    #[arg(long)]
    root: uuid::Uuid,
    /// The edition (timeline).
    #[arg(long, default_value = DEFAULT_EDITION)]
    edition: String,
}

fn parse_domain(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => {
            Ok((name.to_owned(), url.to_owned()))
        }
        _ => Err(format!(
            "expected NAME=URL, e.g. player=http://127.0.0.1:50303; got {text:?}"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Events(events)) => print_events(&events),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("angzarr-local: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Serve) -> Result<(), String> {
    init_tracing();
    let store = SqliteStore::open(&args.db).map_err(|e| format!("{}: {e}", args.db.display()))?;
    let mut builder = LocalCoordinator::builder().store(store);
    for (domain, endpoint) in &args.domains {
        builder = builder
            .domain_endpoint(domain, endpoint)
            .map_err(|e| e.to_string())?;
    }
    let coordinator = builder.try_build().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    tracing::info!(
        listen = %args.listen,
        db = %args.db.display(),
        domains = ?coordinator.domains().collect::<Vec<_>>(),
        "angzarr-local serving"
    );
    runtime
        .block_on(coordinator.serve(args.listen))
        .map_err(|e| e.to_string())
}

fn print_events(args: &Events) -> Result<(), String> {
    let store = SqliteStore::open(&args.db).map_err(|e| format!("{}: {e}", args.db.display()))?;
    let key = AggregateKey {
        domain: args.domain.clone(),
        edition: args.edition.clone(),
        root: args.root,
    };
    let pages = store.pages(&key, None).map_err(|e| e.to_string())?;
    if pages.is_empty() {
        println!(
            "no events for {}/{} ({})",
            args.domain, args.root, args.edition
        );
        return Ok(());
    }
    println!(
        "{:>8}  {:<24}  {:<36}  {:>6}",
        "sequence", "created at", "event", "bytes"
    );
    for page in pages {
        let sequence = page
            .sequence()
            .map_or_else(|| "-".to_owned(), |s| s.to_string());
        let created = page
            .created_at
            .as_ref()
            .map_or_else(|| "-".to_owned(), time::to_rfc3339);
        let (event, size) = page.event().map_or(("(external payload)", 0), |event| {
            (event.type_name(), event.value.len())
        });
        println!("{sequence:>8}  {created:<24}  {event:<36}  {size:>6}");
    }
    Ok(())
}
