//! The poker example as people run it: the scripted session, every
//! component served alone by `serve NAME` under the environment
//! conventions, the topology file starting them all behind angzarr-local,
//! and the README's diagram of the system.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_client::proto::{AnyExt, SyncMode};
use angzarr_client::{connect, ConnectOptions, DomainClient, ListenAddress, Target};
use angzarr_local::config;
use angzarr_local::supervisor::{Supervisor, SupervisorOptions};
use angzarr_local::{LocalCoordinator, MemoryStore};
use examples::player::chips;
use examples::poker::{buy_in_request, COMPONENTS};
use examples::proto::{CreateTable, DepositFunds, RegisterPlayer};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[path = "../examples/poker.rs"]
mod poker;

/// The example's binary, which `cargo test` builds beside this test.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples")
        .join("poker")
}

#[test]
fn the_scripted_session_runs_end_to_end() {
    poker::run(&[]).expect("the session succeeds");
}

#[test]
fn the_readme_shows_the_systems_diagram() {
    let diagram = angzarr_client::topology().to_mermaid();
    for name in COMPONENTS.map(|(name, _)| name) {
        if name != "player-upcaster" {
            assert!(
                diagram.contains(name),
                "{name} is in the diagram:\n{diagram}"
            );
        }
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    assert!(
        readme.contains(diagram.trim_end()),
        "the README's poker diagram is the system's (`cargo run -p examples --example poker -- --mermaid`):\n{diagram}"
    );
}

async fn healthy(endpoint: &str, child: &mut Child, name: &str) {
    let target = Target::parse(endpoint).expect("an endpoint");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("the child") {
            panic!("{name} exited: {status}");
        }
        if let Ok(channel) = connect(&target, &ConnectOptions::default()).await {
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if answer.is_ok_and(|a| a.get_ref().status == ServingStatus::Serving as i32) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} never answered health at {endpoint}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_component_serves_alone_where_the_environment_says() {
    let base = std::env::temp_dir().join(format!("azl-poker-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let listed = Command::new(binary())
        .arg("--list")
        .output()
        .expect("--list runs");
    let listed = String::from_utf8(listed.stdout).unwrap();
    for (name, kind) in COMPONENTS {
        assert!(listed.contains(name), "--list names {name}:\n{listed}");
        let service = kind.default_service_name();
        let mut child = Command::new(binary())
            .args(["serve", name])
            .env("TRANSPORT_TYPE", "uds")
            .env("UDS_BASE_PATH", &base)
            .env("SERVICE_NAME", service)
            .env(
                "DOMAIN",
                if name == "player-upcaster" {
                    "player"
                } else {
                    name
                },
            )
            .env(examples::poker::SEATING_DB, base.join("seating.db"))
            .env("RUST_LOG", "warn")
            // The test stops each one itself; nothing routes to it by health.
            .env("SHUTDOWN_DRAIN", "0")
            .stdin(Stdio::null())
            .spawn()
            .expect("serve starts");
        let qualifier = if name == "player-upcaster" {
            "player"
        } else {
            name
        };
        let socket = base.join(format!("{service}-{qualifier}.sock"));
        healthy(&format!("unix:{}", socket.display()), &mut child, name).await;
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "{name} stops cleanly on SIGTERM"
        );
    }
    let unknown = Command::new(binary())
        .args(["serve", "dealer"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no component called \"dealer\""));
    let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_topology_file_runs_the_system_as_separate_processes() {
    let base = std::env::temp_dir().join(format!("azl-poker-yaml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    // The file as shipped, with the built binary in place of `cargo run`
    // and the sockets in a directory of the test's own.
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/poker.yaml"))
        .expect("examples/poker.yaml");
    let text = shipped
        .replace(
            "[cargo, run, -q, -p, examples, --example, poker, --,",
            &format!("[{:?},", binary().display().to_string()),
        )
        .replace("/tmp/angzarr-poker", &base.display().to_string())
        .replace(
            "table-seating.db",
            &base.join("seating.db").display().to_string(),
        );
    let topology = config::parse(&text).expect("the topology file reads");
    assert_eq!(topology.components.len(), 7);
    let mut supervisor = Supervisor::start(
        &topology.components,
        &topology.transport,
        &SupervisorOptions {
            log_dir: base.join("logs"),
            ..SupervisorOptions::default()
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let local = LocalCoordinator::builder()
        .store(MemoryStore::new())
        .topology(&topology)
        .expect("every component registers")
        .try_build()
        .expect("the system builds");
    let coordinator = std::sync::Arc::clone(local.coordinator());
    let bound = local
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await
        .expect("binds");
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let client = DomainClient::connect(&address).await.unwrap();

    let player = uuid::Uuid::new_v4();
    let table = uuid::Uuid::new_v4();
    client
        .command("player", player)
        .with_command(&RegisterPlayer {
            display_name: "Ada".into(),
            email: "ada@example.com".into(),
            ..Default::default()
        })
        .execute()
        .await
        .unwrap();
    client
        .command("player", player)
        .with_command(&DepositFunds {
            amount: Some(chips(800)),
        })
        .with_sequence(1)
        .execute()
        .await
        .unwrap();
    client
        .command("table", table)
        .with_command(&CreateTable {
            table_name: "Main".into(),
            small_blind: 5,
            big_blind: 10,
            max_players: 6,
            ..Default::default()
        })
        .execute()
        .await
        .unwrap();
    let answer = client
        .aggregate()
        .handle_event(buy_in_request(
            player,
            table,
            0,
            500,
            "buy-in-ada",
            SyncMode::Cascade,
        ))
        .await
        .unwrap();
    assert!(
        answer
            .projections
            .iter()
            .any(|p| p.projector == "table-seating"),
        "the read model ran before the answer"
    );
    coordinator.settled().await.unwrap();
    let workflow = client
        .queries()
        .get_events_collected(
            client
                .query_domain("buy-in")
                .by_correlation_id("buy-in-ada")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let buy_in: Vec<String> = workflow
        .iter()
        .filter(|book| book.domain() == "buy-in")
        .flat_map(|book| book.pages.iter())
        .filter_map(|page| page.event().map(|e| e.type_name().to_owned()))
        .collect();
    assert_eq!(
        buy_in.last().map(String::as_str),
        Some("examples.BuyInCompleted"),
        "{buy_in:?}"
    );
    let seating = examples::seating::Seating::open(base.join("seating.db")).unwrap();
    let tables = seating.tables().unwrap();
    assert_eq!(tables[0].seats.len(), 1, "{tables:?}");
    coordinator.stop_delivery();
    supervisor.stop().await;
    let _ = std::fs::remove_dir_all(&base);
}
