//! A command's events commit together: a coordinator process killed at any
//! moment leaves whole commands only. And the `events` command reads them back.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_local::{AggregateKey, EventStore, LocalCoordinator, SqliteStore};
use angzarr_proto::{AnyExt, CommandBook, CommandPage, CommandRequest, Cover, MergeStrategy};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, RegisterPlayer};
use prost_types::Any;

const CHILD: &str = "ANGZARR_DURABILITY_CHILD_DB";
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

/// The child: commands of several deposits each, as fast as it can, until killed.
fn write_until_killed(db: &str) {
    let store = SqliteStore::open(db).expect("open the database");
    let coordinator = LocalCoordinator::builder()
        .store(store)
        .domain_aggregate(Player)
        .build();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let register = Any::pack(&RegisterPlayer {
            display_name: "Crash".into(),
            email: "crash@example.com".into(),
            ..Default::default()
        });
        // Rejected with "Player already exists" after the first round.
        let _ = coordinator
            .coordinator()
            .handle_command(book(vec![register]))
            .await;
        loop {
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
        }
    });
}

#[test]
fn a_killed_process_leaves_no_partial_command() {
    if let Ok(db) = std::env::var(CHILD) {
        write_until_killed(&db);
        return;
    }
    let dir = std::env::temp_dir().join(format!("angzarr-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("events.db");

    let mut before = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_killed_process_leaves_no_partial_command",
                "--nocapture",
            ])
            .env(CHILD, &db)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the writer");
        // Let it write for a varying while, then kill it without warning.
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();

        let store = SqliteStore::open(&db).expect("the database reopens");
        let key = AggregateKey {
            domain: "player".into(),
            edition: "angzarr".into(),
            root: root(),
        };
        let pages = store.pages(&key, None).unwrap();
        assert!(
            pages.len() > before,
            "round {round}: the writer wrote something"
        );
        before = pages.len();
        let sequences: Vec<_> = pages.iter().map(|p| p.sequence().unwrap()).collect();
        assert_eq!(
            sequences,
            (0..pages.len() as u32).collect::<Vec<_>>(),
            "no gaps"
        );
        // One registration per round (later ones are rejected: the player
        // exists, so those commands store nothing), then whole commands.
        let deposits = pages
            .iter()
            .filter(|p| {
                p.event()
                    .is_some_and(|e| e.type_name() == "examples.FundsDeposited")
            })
            .count();
        assert_eq!(
            deposits % DEPOSITS_PER_COMMAND,
            0,
            "round {round}: {deposits} deposits is not a whole number of commands"
        );
    }
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
