//! `angzarr-local`: an embedded Angzarr coordinator on SQLite.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use angzarr_client::{init_tracing, ListenAddress};
use angzarr_local::config::{self, Storage, Topology, Transport};
use angzarr_local::supervisor::{Supervisor, SupervisorOptions};
use angzarr_local::{
    AggregateKey, EventStore, LocalCoordinator, LocalCoordinatorBuilder, MemoryStore, SqliteStore,
    Subscription, Synchronous, DEFAULT_LISTEN,
};
use angzarr_proto::{time, AnyExt, EventPage, DEFAULT_EDITION};
use clap::{Args, Parser, Subcommand};

/// An embedded Angzarr coordinator: stores events in SQLite, checks
/// optimistic concurrency, calls each domain's aggregate, and delivers every
/// stored book to the sagas, process managers and projectors that consume
/// its domain (through a durable outbox: in order, at least once, resumed
/// after a restart).
///
/// Components are given by flags, by a topology file, or both. Endpoints are
/// `host:port`, `http://host:port`, `unix:/path` or a socket path.
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
    /// Print one aggregate's events, or a whole workflow by correlation id.
    Events(Events),
    /// List the books consumers kept failing and moved on from; replay or
    /// discard one.
    DeadLetters(DeadLetters),
}

#[derive(Args)]
struct Serve {
    /// SQLite database file, created if missing [default: the topology
    /// file's storage, else angzarr-local.db].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Keep events in memory only (gone at exit).
    #[arg(long, conflicts_with = "db")]
    memory: bool,
    /// How far an acknowledged write survives: `normal` (WAL synced at
    /// checkpoints: survives a killed process, not a power loss) or `full`
    /// (synced at every commit: survives a power loss) [default: the
    /// topology file's, else normal].
    #[arg(long, value_name = "normal|full", conflicts_with = "memory")]
    synchronous: Option<Synchronous>,
    /// Address to serve the coordinator on: host:port or unix:/path.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    /// A domain and its aggregate: `player=http://127.0.0.1:50303`.
    #[arg(long = "domain", value_name = "DOMAIN=ENDPOINT")]
    domains: Vec<String>,
    /// A saga, the domain it listens to, and where it is served:
    /// `saga-table-player:table=unix:/tmp/angzarr/saga-saga-table-player.sock`.
    #[arg(long = "saga", value_name = "NAME:DOMAIN=ENDPOINT")]
    sagas: Vec<String>,
    /// A process manager, what it subscribes to, and where it is served:
    /// `buy-in:player,table=127.0.0.1:50500`. Subscriptions are domains
    /// separated by `,`, or Angzarr's `;`-separated list in which a domain
    /// may name event types: `'buy-in:player;table:PlayerSeated,SeatingRejected=...'`.
    #[arg(long = "process-manager", value_name = "NAME:SUBSCRIPTIONS=ENDPOINT")]
    process_managers: Vec<String>,
    /// A projector, what it subscribes to (as for process managers), and
    /// where it is served: `table-seating:table,player=127.0.0.1:50600`.
    #[arg(long = "projector", value_name = "NAME:SUBSCRIPTIONS=ENDPOINT")]
    projectors: Vec<String>,
    /// An upcaster for a domain's history: `player=http://127.0.0.1:50303`
    /// (often the aggregate's own address).
    #[arg(long = "upcaster", value_name = "DOMAIN=ENDPOINT")]
    upcasters: Vec<String>,
    /// A topology file in Angzarr's standalone format (storage, transport,
    /// standalone.aggregates / sagas / process_managers / projectors).
    /// Components with a `command` are started, awaited until healthy, and
    /// stopped at shutdown.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where started components write their output.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The deadline of every call to a component (`30s`, `500ms`): a call
    /// past it fails, and delivery retries the book later [default: the
    /// topology file's, else 30s].
    #[arg(long, value_name = "DURATION", value_parser = angzarr_client::settings::parse_duration)]
    call_timeout: Option<Duration>,
    /// Failed attempts after which a book a consumer keeps failing becomes
    /// a dead letter and the consumer moves on (calls that reach nothing do
    /// not count) [default: the topology file's, else 10].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: Option<u32>,
    /// Seconds a started component may take to answer health.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    start_timeout: u64,
}

#[derive(Args)]
struct Events {
    /// SQLite database file.
    #[arg(long, default_value = "angzarr-local.db")]
    db: PathBuf,
    /// The aggregate's domain.
    #[arg(long, requires = "root", conflicts_with = "correlation")]
    domain: Option<String>,
    /// The aggregate's root UUID.
    #[arg(long, requires = "domain")]
    root: Option<uuid::Uuid>,
    /// The edition (timeline).
    #[arg(long, default_value = DEFAULT_EDITION)]
    edition: String,
    /// Every event of this correlation id, across domains, in the order
    /// they were stored.
    #[arg(long, required_unless_present = "domain")]
    correlation: Option<String>,
}

#[derive(Args)]
struct DeadLetters {
    /// SQLite database file.
    #[arg(long, default_value = "angzarr-local.db")]
    db: PathBuf,
    /// Queue this dead letter again, for its consumer alone: a running
    /// angzarr-local on this database delivers it within a second, else the
    /// next run does.
    #[arg(long, value_name = "ID", conflicts_with = "discard")]
    replay: Option<u64>,
    /// Remove this dead letter for good.
    #[arg(long, value_name = "ID")]
    discard: Option<u64>,
}

/// `NAME=ENDPOINT`.
fn split_endpoint<'a>(text: &'a str, shape: &str) -> Result<(&'a str, &'a str), String> {
    match text.split_once('=') {
        Some((name, endpoint)) if !name.is_empty() && !endpoint.is_empty() => Ok((name, endpoint)),
        _ => Err(format!("expected {shape}; got {text:?}")),
    }
}

/// `NAME:SUBSCRIPTIONS=ENDPOINT`.
fn split_consumer<'a>(
    text: &'a str,
    shape: &str,
) -> Result<(&'a str, Vec<Subscription>, &'a str), String> {
    let (head, endpoint) = split_endpoint(text, shape)?;
    let Some((name, listened)) = head.split_once(':') else {
        return Err(format!("expected {shape}; got {text:?}"));
    };
    let subscriptions =
        Subscription::parse_listed(listened).map_err(|reason| format!("{text:?}: {reason}"))?;
    Ok((name, subscriptions, endpoint))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Events(events)) => print_events(&events),
        Some(Command::DeadLetters(letters)) => dead_letters(&letters),
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

/// Adds every component of the flags and of the topology file.
fn register(
    mut builder: LocalCoordinatorBuilder,
    args: &Serve,
    topology: Option<&Topology>,
) -> Result<LocalCoordinatorBuilder, String> {
    let e = |error: angzarr_local::LocalError| error.to_string();
    if let Some(topology) = topology {
        builder = builder.topology(topology).map_err(e)?;
    }
    for text in &args.domains {
        let (domain, endpoint) =
            split_endpoint(text, "DOMAIN=ENDPOINT, e.g. player=http://127.0.0.1:50303")?;
        builder = builder.domain_endpoint(domain, endpoint).map_err(e)?;
    }
    for text in &args.sagas {
        let (name, subscriptions, endpoint) = split_consumer(
            text,
            "NAME:DOMAIN=ENDPOINT, e.g. saga-table-player:table=127.0.0.1:50400",
        )?;
        let [source] = subscriptions.as_slice() else {
            return Err(format!("{text:?}: a saga listens to one domain"));
        };
        builder = builder
            .saga_endpoint(name, &source.to_string(), endpoint)
            .map_err(e)?;
    }
    for text in &args.process_managers {
        let (name, subscriptions, endpoint) = split_consumer(
            text,
            "NAME:SUBSCRIPTIONS=ENDPOINT, e.g. buy-in:player,table=127.0.0.1:50500",
        )?;
        builder = builder
            .process_manager_endpoint(name, &subscriptions, endpoint)
            .map_err(e)?;
    }
    for text in &args.projectors {
        let (name, subscriptions, endpoint) = split_consumer(
            text,
            "NAME:SUBSCRIPTIONS=ENDPOINT, e.g. seating:table=127.0.0.1:50600",
        )?;
        builder = builder
            .projector_endpoint(name, &subscriptions, endpoint)
            .map_err(e)?;
    }
    for text in &args.upcasters {
        let (domain, endpoint) =
            split_endpoint(text, "DOMAIN=ENDPOINT, e.g. player=http://127.0.0.1:50303")?;
        builder = builder.upcaster_endpoint(domain, endpoint).map_err(e)?;
    }
    Ok(builder)
}

fn serve(args: Serve) -> Result<(), String> {
    init_tracing();
    let topology = args
        .config
        .as_deref()
        .map(config::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(topology) = &topology {
        for warning in &topology.warnings {
            tracing::warn!(
                "{}: {warning}",
                args.config
                    .as_deref()
                    .unwrap_or_else(|| std::path::Path::new(""))
                    .display()
            );
        }
    }
    let storage = match (&args.db, args.memory, topology.as_ref().map(|t| &t.storage)) {
        (Some(db), _, _) => Storage::Sqlite(db.clone()),
        (None, true, _) => Storage::Memory,
        (None, false, Some(Storage::Sqlite(path))) => Storage::Sqlite(path.clone()),
        (None, false, Some(Storage::Memory)) => Storage::Memory,
        _ => Storage::Sqlite("angzarr-local.db".into()),
    };
    let mut builder = LocalCoordinator::builder();
    let described = match &storage {
        Storage::Sqlite(path) => {
            let synchronous = args
                .synchronous
                .or(topology.as_ref().and_then(|t| t.synchronous))
                .unwrap_or_default();
            let store = SqliteStore::open_with(path, synchronous)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            builder = builder.store(store);
            format!("{} (synchronous={synchronous})", path.display())
        }
        _ => {
            builder = builder.store(MemoryStore::new());
            "memory".to_owned()
        }
    };
    let listen = ListenAddress::parse(&args.listen).map_err(|e| e.to_string())?;
    if let Some(timeout) = args
        .call_timeout
        .or(topology.as_ref().and_then(|t| t.call_timeout))
    {
        builder = builder.call_timeout(timeout);
    }
    if let Some(attempts) = args
        .max_attempts
        .or(topology.as_ref().and_then(|t| t.max_attempts))
    {
        builder = builder.max_attempts(attempts);
    }
    let builder = register(builder, &args, topology.as_ref())?;
    let coordinator = builder.try_build().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut supervisor = match &topology {
            Some(topology) => {
                let options = SupervisorOptions {
                    log_dir: args
                        .log_dir
                        .clone()
                        .unwrap_or_else(|| SupervisorOptions::default().log_dir),
                    start_timeout: Duration::from_secs(args.start_timeout),
                    ..SupervisorOptions::default()
                };
                let transport = &topology.transport;
                if let Transport::Uds { base_path } = transport {
                    tracing::info!(base_path = %base_path.display(), "components on Unix sockets");
                }
                Some(
                    Supervisor::start(&topology.components, transport, &options)
                        .await
                        .map_err(|e| e.to_string())?,
                )
            }
            None => None,
        };
        tracing::info!(
            listen = %listen,
            db = %described,
            domains = ?coordinator.domains().collect::<Vec<_>>(),
            "angzarr-local serving"
        );
        let served = coordinator.serve(listen).await.map_err(|e| e.to_string());
        if let Some(supervisor) = &mut supervisor {
            supervisor.stop().await;
        }
        served
    })
}

/// Opens an existing database: opening a missing file would create and
/// migrate an empty one, and a typo would answer "nothing there" instead of
/// saying what is wrong.
fn existing_database(db: &std::path::Path) -> Result<SqliteStore, String> {
    if !db.is_file() {
        return Err(format!(
            "{}: no such database (angzarr-local creates one when it serves, not when it reads)",
            db.display()
        ));
    }
    SqliteStore::open(db).map_err(|e| format!("{}: {e}", db.display()))
}

fn dead_letters(args: &DeadLetters) -> Result<(), String> {
    let store = existing_database(&args.db)?;
    if let Some(id) = args.replay {
        let letters = store.dead_letters().map_err(|e| e.to_string())?;
        let consumer = letters
            .iter()
            .find(|letter| letter.id == id)
            .map(|letter| letter.consumer.clone());
        return match store.replay_dead_letter(id).map_err(|e| e.to_string())? {
            Some(entry) => {
                println!(
                    "dead letter {id} queued again for {} as outbox entry {entry}",
                    consumer.as_deref().unwrap_or("its consumer")
                );
                Ok(())
            }
            None => Err(format!("no dead letter {id} in {}", args.db.display())),
        };
    }
    if let Some(id) = args.discard {
        return match store.discard_dead_letter(id).map_err(|e| e.to_string())? {
            Some(letter) => {
                println!(
                    "dead letter {id} ({} failed {} entry {}) discarded",
                    letter.consumer, letter.domain, letter.entry
                );
                Ok(())
            }
            None => Err(format!("no dead letter {id} in {}", args.db.display())),
        };
    }
    let letters = store.dead_letters().map_err(|e| e.to_string())?;
    if letters.is_empty() {
        println!("no dead letters");
        return Ok(());
    }
    println!(
        "{:>4}  {:<28}  {:<12}  {:<32}  {:<9}  {:>8}  {:<24}  error",
        "id", "consumer", "domain", "root", "sequences", "attempts", "recorded at"
    );
    for letter in letters {
        let root = letter
            .book
            .root_uuid()
            .map_or_else(|_| "-".to_owned(), |root| root.simple().to_string());
        let sequences: Vec<u32> = letter
            .book
            .pages
            .iter()
            .filter_map(EventPage::sequence)
            .collect();
        let sequences = match (sequences.first(), sequences.last()) {
            (Some(first), Some(last)) if first == last => first.to_string(),
            (Some(first), Some(last)) => format!("{first}..{last}"),
            _ => "-".to_owned(),
        };
        let recorded = time::to_rfc3339(&time::from_system_time(letter.recorded_at));
        println!(
            "{:>4}  {:<28}  {:<12}  {root:<32}  {sequences:<9}  {:>8}  {recorded:<24}  {:?}: {}",
            letter.id,
            letter.consumer,
            letter.domain,
            letter.attempts,
            letter.code(),
            letter.message
        );
    }
    Ok(())
}

fn print_events(args: &Events) -> Result<(), String> {
    let store = existing_database(&args.db)?;
    if let Some(correlation_id) = &args.correlation {
        let located = store
            .correlated(correlation_id)
            .map_err(|e| e.to_string())?;
        if located.is_empty() {
            println!("no events with correlation id {correlation_id}");
            return Ok(());
        }
        println!(
            "{:<16}  {:<32}  {:>8}  {:<24}  {:<36}",
            "domain", "root", "sequence", "created at", "event"
        );
        for item in located {
            let (sequence, created, event, _) = columns(&item.page);
            let domain = if item.key.edition == DEFAULT_EDITION {
                item.key.domain.clone()
            } else {
                format!("{} ({})", item.key.domain, item.key.edition)
            };
            println!(
                "{domain:<16}  {:<32}  {sequence:>8}  {created:<24}  {event:<36}",
                item.key.root.simple().to_string()
            );
        }
        return Ok(());
    }
    let (Some(domain), Some(root)) = (&args.domain, args.root) else {
        return Err("give --domain and --root, or --correlation".to_owned());
    };
    let key = AggregateKey {
        domain: domain.clone(),
        edition: args.edition.clone(),
        root,
    };
    let pages = store.pages(&key, None).map_err(|e| e.to_string())?;
    if pages.is_empty() {
        println!("no events for {domain}/{root} ({})", args.edition);
        return Ok(());
    }
    println!(
        "{:>8}  {:<24}  {:<36}  {:>6}",
        "sequence", "created at", "event", "bytes"
    );
    for page in pages {
        let (sequence, created, event, size) = columns(&page);
        println!("{sequence:>8}  {created:<24}  {event:<36}  {size:>6}");
    }
    Ok(())
}

fn columns(page: &EventPage) -> (String, String, String, usize) {
    let sequence = page
        .sequence()
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    let created = page
        .created_at
        .as_ref()
        .map_or_else(|| "-".to_owned(), time::to_rfc3339);
    let (event, size) = page
        .event()
        .map_or(("(external payload)".to_owned(), 0), |event| {
            (event.type_name().to_owned(), event.value.len())
        });
    (sequence, created, event, size)
}
