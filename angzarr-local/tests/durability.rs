//! A command's events commit together: a coordinator process that dies at
//! any point of an append (each statement of its transaction in turn) leaves
//! the whole command or none of it. And the binary serves, stops and prints.

// The binary runs as a child process, waited on from the test's own thread;
// blocking there is harmless (the crate's own code may not: clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_local::{AggregateKey, EventStore, LocalCoordinator, SqliteStore};
use angzarr_proto::{AnyExt, CommandBook, CommandPage, CommandRequest, Cover, MergeStrategy};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, RegisterPlayer};
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
        .domain_aggregate(Player)
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

#[test]
fn a_crash_at_any_point_of_an_append_leaves_all_of_it_or_nothing() {
    if let (Ok(db), Ok(point)) = (std::env::var(CHILD), std::env::var(CRASH_POINT)) {
        crash_at(&db, point.parse().expect("a statement number"));
        return;
    }
    let dir = std::env::temp_dir().join(format!("angzarr-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut crashes = 0;
    for point in 0.. {
        assert!(point < 64, "an append has fewer statements than that");
        let db = dir.join(format!("events-{point}.db"));
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_crash_at_any_point_of_an_append_leaves_all_of_it_or_nothing",
                "--nocapture",
            ])
            .env(CHILD, &db)
            .env(CRASH_POINT, point.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the writer");
        let store = SqliteStore::open(&db).expect("the database reopens");
        let pages = store.pages(&key(), None).unwrap();
        let outbox = store.outbox_after(0, 100).unwrap();
        if status.success() {
            // Past the last statement: the whole command is there.
            assert_eq!(pages.len(), 1 + DEPOSITS_PER_COMMAND);
            assert_eq!(outbox.len(), 2, "one outbox entry per command");
            assert!(store
                .snapshot(&key())
                .unwrap()
                .is_some_and(|s| s.sequence == 5));
            break;
        }
        crashes += 1;
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
    }
    // BEGIN, the sequence check, five inserts, the snapshot, the outbox
    // entry and COMMIT: each was a crash point.
    assert_eq!(crashes, 10);
    let _ = std::fs::remove_dir_all(&dir);
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
