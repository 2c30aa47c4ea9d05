//! Long histories through angzarr-local, end to end: a client sends
//! `DepositFunds` to the coordinator over loopback gRPC; the coordinator
//! loads the player's history from SQLite and asks the in-process player
//! aggregate to decide. Compares a player with 10,000 prior events to fresh
//! players (one prior event each), with the aggregate returning a snapshot
//! every 1, 10, 100 and 1,000 events and on the default schedule (the
//! coordinator loads the latest snapshot and the pages above it), and
//! without snapshots (the coordinator loads every page).
//!
//! Run with `cargo bench -p angzarr-local --bench history`; run directly
//! without `--bench`, it takes 200 prior events and short rounds. Every
//! command is checked to succeed.

mod support;

use std::time::Instant;

use angzarr_client::{AggregateService, SnapshotPolicy, DEFAULT_SNAPSHOT_INTERVAL};
use angzarr_local::component::AggregateLogic;
use angzarr_local::{LocalCoordinator, SqliteStore};
use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::{
    business_response, BusinessResponse, ContextualCommand, EventBook, FactRequest, SyncMode,
};
use examples::player::Player;
use examples::player_router::player_router;
use support::{coordinator, request};
use tonic::transport::Channel;
use tonic::Status;

/// The player aggregate with its snapshots dropped from every answer, so
/// the coordinator stores none and loads whole histories.
struct WithoutSnapshots(AggregateService<Player>);

#[tonic::async_trait]
impl AggregateLogic for WithoutSnapshots {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        let mut response = self.0.handle(command).await?;
        if let Some(business_response::Result::Events(book)) = &mut response.result {
            book.snapshot = None;
        }
        Ok(response)
    }

    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        self.0.handle_fact(facts).await
    }

    fn describe(&self) -> String {
        "player without snapshots".to_owned()
    }
}

/// Sends the commands of `root` from `from` up to (not including) `to`;
/// returns the commands per second.
async fn drive(
    client: &mut CommandHandlerCoordinatorServiceClient<Channel>,
    root: uuid::Uuid,
    from: u32,
    to: u32,
) -> f64 {
    let started = Instant::now();
    for sequence in from..to {
        client
            .handle_command(request(root, sequence, SyncMode::Async))
            .await
            .expect("every command succeeds");
    }
    f64::from(to - from) / started.elapsed().as_secs_f64()
}

/// Commands per second of one `DepositFunds` to each of `count` players
/// registered beforehand (one prior event each).
async fn fresh(
    client: &mut CommandHandlerCoordinatorServiceClient<Channel>,
    round: u128,
    count: u32,
) -> f64 {
    let roots: Vec<_> = (0..count)
        .map(|index| uuid::Uuid::from_u128((round << 32) | u128::from(index) | 1 << 101))
        .collect();
    for root in &roots {
        drive(client, *root, 0, 1).await;
    }
    let started = Instant::now();
    for root in &roots {
        client
            .handle_command(request(*root, 1, SyncMode::Async))
            .await
            .expect("every command succeeds");
    }
    f64::from(count) / started.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let (prior, rounds, per_round) = if quick {
        (200, 1, 20)
    } else {
        (10_000, 5, 200)
    };
    let dir = std::env::temp_dir().join(format!("angzarr-history-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!(
            "| snapshots | fresh commands/s | {prior} prior events commands/s | fresh / long |"
        );
        println!("|---|---:|---:|---:|");
        let every = |n: u32| {
            (
                format!("every {n}"),
                LocalCoordinator::builder()
                    .store(SqliteStore::open(dir.join(format!("every-{n}.db"))).expect("db"))
                    .domain_aggregate(
                        player_router().with_snapshot_policy(SnapshotPolicy::every(n)),
                    ),
            )
        };
        for (label, builder) in [
            every(1),
            every(10),
            every(100),
            every(1_000),
            (
                format!("default (every {DEFAULT_SNAPSHOT_INTERVAL})"),
                LocalCoordinator::builder()
                    .store(SqliteStore::open(dir.join("default.db")).expect("db"))
                    .domain_aggregate(player_router().with_snapshots()),
            ),
            (
                "none".to_owned(),
                LocalCoordinator::builder()
                    .store(SqliteStore::open(dir.join("none.db")).expect("db"))
                    .domain_logic("player", WithoutSnapshots(AggregateService::new(Player))),
            ),
        ] {
            let (_, mut client) = coordinator(builder).await;
            let long = uuid::Uuid::from_u128(7 | 1 << 102);
            drive(&mut client, long, 0, prior).await;
            let mut next = prior;
            let (mut fresh_rates, mut long_rates, mut ratios) =
                (Vec::new(), Vec::new(), Vec::new());
            // Alternating rounds, so drift hits both sides alike.
            for round in 0..rounds {
                let a = fresh(&mut client, round, per_round).await;
                let b = drive(&mut client, long, next, next + per_round).await;
                next += per_round;
                fresh_rates.push(a);
                long_rates.push(b);
                ratios.push(a / b);
            }
            println!(
                "| {label} | {:.0} | {:.0} | {:.2}x |",
                median(&mut fresh_rates),
                median(&mut long_rates),
                median(&mut ratios),
            );
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
