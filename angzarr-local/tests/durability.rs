//! A command's events commit together: a coordinator process that dies at
//! any point of an append (each statement of its transaction in turn) leaves
//! the whole command or none of it, and one that dies at any point of a
//! batch of appends leaves the whole batch or none of it. And the binary
//! serves, stops and prints.

// The binary runs as a child process, waited on from the test's own thread;
// blocking there is harmless (the crate's own code may not: clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::SnapshotPolicy;
use angzarr_local::store::{Append, Publication};
use angzarr_local::{AggregateKey, EventStore, LocalCoordinator, SqliteStore};
use angzarr_proto::{
    AnyExt, CommandBook, CommandPage, CommandRequest, Cover, EventPage, MergeStrategy,
};
use examples::player::{chips, Player};
use examples::player_router::player_router;
use examples::proto::{DepositFunds, RegisterPlayer};
use prost::Message;
use prost_types::Any;

const CHILD: &str = "ANGZARR_DURABILITY_CHILD_DB";
const CRASH_POINT: &str = "ANGZARR_DURABILITY_CRASH_POINT";
const DEPOSITS_PER_COMMAND: usize = 5;

fn root() -> uuid::Uuid {
    uuid::Uuid::from_u128(0xd00d)
}

fn book(pages: Vec<Any>) -> CommandRequest {
    let pages = pages
        .into_iter()
        .map(|command| {
            let mut page = CommandPage::new(0, command);
            page.merge_strategy = MergeStrategy::MergeAggregateHandles.into();
            page
        })
        .collect();
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover::new("player", root())),
            pages,
        }),
        ..Default::default()
    }
}

/// Records nothing: it makes the player domain consumed, so that appends
/// also queue a book in the outbox.
struct Nobody;

#[tonic::async_trait]
impl angzarr_local::component::ProjectorLogic for Nobody {
    async fn handle(
        &self,
        book: angzarr_proto::EventBook,
    ) -> Result<angzarr_proto::Projection, tonic::Status> {
        Ok(angzarr_proto::Projection {
            cover: book.cover,
            ..Default::default()
        })
    }

    async fn handle_speculative(
        &self,
        book: angzarr_proto::EventBook,
    ) -> Result<angzarr_proto::Projection, tonic::Status> {
        self.handle(book).await
    }

    fn describe(&self) -> String {
        "nobody".into()
    }
}

fn key() -> AggregateKey {
    AggregateKey {
        domain: "player".into(),
        edition: "angzarr".into(),
        root: root(),
    }
}

/// The child: registers the player, then aborts before the given
/// statement of the next command's append (five deposits, a snapshot and
/// an outbox entry in one transaction).
fn crash_at(db: &str, statement: usize) {
    let store = Arc::new(SqliteStore::open(db).expect("open the database"));
    let coordinator = LocalCoordinator::builder()
        .store(Arc::clone(&store))
        // A snapshot with every command, so that each append writes one.
        .domain_aggregate(player_router().with_snapshot_policy(SnapshotPolicy::every(1)))
        .projector_logic(
            "nobody",
            Ok(vec![angzarr_local::Subscription::domain("player")]),
            Nobody,
        )
        .build();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let register = Any::pack(&RegisterPlayer {
            display_name: "Crash".into(),
            email: "crash@example.com".into(),
            ..Default::default()
        });
        coordinator
            .coordinator()
            .handle_command(book(vec![register]))
            .await
            .unwrap();
        store.crash_before_statement(statement);
        let deposits = (0..DEPOSITS_PER_COMMAND)
            .map(|_| {
                Any::pack(&DepositFunds {
                    amount: Some(chips(1)),
                })
            })
            .collect();
        coordinator
            .coordinator()
            .handle_command(book(deposits))
            .await
            .unwrap();
    });
}

/// Runs the test `name` as a child process once per crash point, from the
/// first statement on, until a child gets through without crashing; hands
/// each database to `check` with whether its child succeeded. Returns how
/// many crashes there were.
fn crash_at_every_statement(name: &str, check: impl Fn(&SqliteStore, usize, bool)) -> usize {
    let dir = std::env::temp_dir().join(format!("angzarr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut crashes = 0;
    for point in 0.. {
        assert!(
            point < 64,
            "a transaction here has fewer statements than that"
        );
        let db = dir.join(format!("events-{point}.db"));
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture"])
            .env(CHILD, &db)
            .env(CRASH_POINT, point.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the writer");
        let store = SqliteStore::open(&db).expect("the database reopens");
        check(&store, point, status.success());
        if status.success() {
            break;
        }
        crashes += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    crashes
}

/// The child's database and crash point, when this process is a child.
fn child() -> Option<(String, usize)> {
    let db = std::env::var(CHILD).ok()?;
    let point = std::env::var(CRASH_POINT).ok()?;
    Some((db, point.parse().expect("a statement number")))
}

#[test]
fn a_crash_at_any_point_of_an_append_leaves_all_of_it_or_nothing() {
    if let Some((db, point)) = child() {
        crash_at(&db, point);
        return;
    }
    let crashes = crash_at_every_statement(
        "a_crash_at_any_point_of_an_append_leaves_all_of_it_or_nothing",
        |store, point, success| {
            let pages = store.pages(&key(), None).unwrap();
            let outbox = store.outbox_after(0, 100).unwrap();
            if success {
                // Past the last statement: the whole command is there.
                assert_eq!(pages.len(), 1 + DEPOSITS_PER_COMMAND);
                assert_eq!(outbox.len(), 2, "one outbox entry per command");
                assert!(store
                    .snapshot(&key())
                    .unwrap()
                    .is_some_and(|s| s.sequence == 5));
                return;
            }
            assert_eq!(
                pages.len(),
                1,
                "a crash before statement {point} left a partial command: {} events",
                pages.len()
            );
            assert_eq!(outbox.len(), 1, "crash before statement {point}: outbox");
            assert_eq!(
                store.snapshot(&key()).unwrap().map(|s| s.sequence),
                Some(0),
                "crash before statement {point}: snapshot"
            );
        },
    );
    // BEGIN, the sequence check, five inserts, the snapshot, the outbox
    // entry and COMMIT: each was a crash point.
    assert_eq!(crashes, 10);
}

const BATCH: u128 = 3;

fn batch_key(n: u128) -> AggregateKey {
    AggregateKey {
        root: uuid::Uuid::from_u128(0xba7c4 + n),
        ..key()
    }
}

/// The child: one transaction of three appends (two events and an outbox
/// entry each, on three timelines), aborted before the given statement.
fn crash_batch_at(db: &str, statement: usize) {
    let store = SqliteStore::open(db).expect("open the database");
    let keys: Vec<AggregateKey> = (0..BATCH).map(batch_key).collect();
    let pages: Vec<EventPage> = (0..2)
        .map(|sequence| {
            EventPage::new(
                sequence,
                Any::pack(&DepositFunds {
                    amount: Some(chips(1)),
                }),
            )
        })
        .collect();
    let book = angzarr_proto::EventBook::default().encode_to_vec();
    let appends: Vec<Append<'_>> = keys
        .iter()
        .map(|key| Append {
            key,
            at: 0,
            pages: &pages,
            snapshot: None,
            correlation_id: "batch",
            fact: None,
            publish: Some(Publication {
                domain: "player",
                book: &book,
                claim: None,
            }),
            outcome: None,
        })
        .collect();
    store.crash_before_statement(statement);
    for result in store.append_all(&appends) {
        result.expect("every append of the batch is stored");
    }
}

#[test]
fn a_crash_at_any_point_of_a_batch_leaves_all_of_it_or_nothing() {
    if let Some((db, point)) = child() {
        crash_batch_at(&db, point);
        return;
    }
    let crashes = crash_at_every_statement(
        "a_crash_at_any_point_of_a_batch_leaves_all_of_it_or_nothing",
        |store, point, success| {
            let stored: Vec<usize> = (0..BATCH)
                .map(|n| store.pages(&batch_key(n), None).unwrap().len())
                .collect();
            let outbox = store.outbox_after(0, 100).unwrap().len();
            if success {
                assert_eq!(stored, [2, 2, 2]);
                assert_eq!(outbox, 3);
            } else {
                assert_eq!(
                    (stored.as_slice(), outbox),
                    ([0, 0, 0].as_slice(), 0),
                    "a crash before statement {point} left part of the batch"
                );
            }
        },
    );
    // BEGIN, then for each append SAVEPOINT, the sequence check, two
    // inserts, the outbox entry and RELEASE, then COMMIT.
    assert_eq!(crashes, 2 + 3 * 6);
}

#[test]
fn the_events_command_prints_a_table() {
    let dir = std::env::temp_dir().join(format!("angzarr-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("events.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let coordinator = LocalCoordinator::builder()
            .store(store)
            .domain_aggregate(Player)
            .build();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let register = Any::pack(&RegisterPlayer {
                display_name: "Table".into(),
                email: "table@example.com".into(),
                ..Default::default()
            });
            coordinator
                .coordinator()
                .handle_command(book(vec![register]))
                .await
                .unwrap();
        });
    }
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .args(["events", "--db"])
        .arg(&db)
        .args(["--domain", "player", "--root", &root().to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert!(
        lines[0].contains("sequence") && lines[0].contains("event"),
        "{text}"
    );
    assert!(
        lines[1].trim_start().starts_with('0') && lines[1].contains("examples.PlayerRegistered"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    let help = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in ["--db", "--listen", "--domain", "events"] {
        assert!(help.contains(flag), "--help documents {flag}:\n{help}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_binary_serves_and_stops_on_sigint() {
    let dir = std::env::temp_dir().join(format!("angzarr-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_angzarr-local"))
        .arg("--db")
        .arg(dir.join("events.db"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--domain", "player=http://127.0.0.1:9"])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let channel = loop {
            match tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
            {
                Ok(channel) => break channel,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("angzarr-local never listened: {error}"),
            }
        };
        let mut client =
            angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient::new(channel);
        let register = Any::pack(&RegisterPlayer::default());
        client.handle_command(book(vec![register])).await.unwrap_err()
    });
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("http://127.0.0.1:9"),
        "{}",
        status.message()
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");
    let _ = std::fs::remove_dir_all(&dir);
}
