//! End to end through angzarr-local: client -> coordinator -> player
//! aggregate -> SQLite, over loopback gRPC. Commands per second and p50/p99
//! latency with 1 and 32 concurrent clients (each on its own player), the
//! aggregate in-process and over gRPC.
//!
//! Run with `cargo bench -p angzarr-local --bench local`. Every command is
//! checked to succeed; loops are bounded by a command count.

use std::time::{Duration, Instant};

use angzarr_client::{ListenAddress, Server};
use angzarr_local::{LocalCoordinator, LocalCoordinatorBuilder, SqliteStore};
use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::{AnyExt, CommandBook, CommandPage, CommandRequest, Cover};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, RegisterPlayer};
use prost_types::Any;
use tonic::transport::Channel;

fn request(root: uuid::Uuid, sequence: u32) -> CommandRequest {
    let command = if sequence == 0 {
        Any::pack(&RegisterPlayer {
            display_name: "Bench".into(),
            email: format!("{root}@example.com"),
            ..Default::default()
        })
    } else {
        Any::pack(&DepositFunds {
            amount: Some(chips(1)),
        })
    };
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover::new("player", root)),
            pages: vec![CommandPage::new(sequence, command)],
        }),
        ..Default::default()
    }
}

async fn run(
    client: &CommandHandlerCoordinatorServiceClient<Channel>,
    clients: usize,
    commands: usize,
    round: u128,
) -> (f64, Duration, Duration) {
    let per_client = commands / clients;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|index| {
            let mut client = client.clone();
            let root = uuid::Uuid::from_u128((round << 32) | index as u128 | 1 << 100);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for sequence in 0..per_client as u32 {
                    let began = Instant::now();
                    client
                        .handle_command(request(root, sequence))
                        .await
                        .expect("every command succeeds");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
    )
}

async fn coordinator(
    builder: LocalCoordinatorBuilder,
) -> CommandHandlerCoordinatorServiceClient<Channel> {
    let coordinator = builder.try_build().expect("coordinator");
    let bound = coordinator
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await
        .expect("bind");
    let address = bound.local_address().tcp().expect("a TCP address");
    tokio::spawn(bound.serve());
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    CommandHandlerCoordinatorServiceClient::new(channel)
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let dir = std::env::temp_dir().join(format!("angzarr-local-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let bound = Server::new()
            .aggregate(Player)
            .listen(ListenAddress::Tcp("127.0.0.1:0".parse().expect("address")))
            .shutdown_signal(std::future::pending())
            .bind()
            .await
            .expect("bind the aggregate");
        let endpoint = format!("http://{}", bound.local_address());
        tokio::spawn(bound.serve());

        println!("| aggregate | clients | commands | commands/s | p50 | p99 |");
        println!("|---|---:|---:|---:|---:|---:|");
        let mut round = 0;
        for (mode, builder) in [
            (
                "in-process",
                LocalCoordinator::builder()
                    .store(SqliteStore::open(dir.join("in-process.db")).expect("db"))
                    .domain_aggregate(Player),
            ),
            (
                "gRPC",
                LocalCoordinator::builder()
                    .store(SqliteStore::open(dir.join("grpc.db")).expect("db"))
                    .domain_endpoint("player", &endpoint)
                    .expect("endpoint"),
            ),
        ] {
            let client = coordinator(builder).await;
            round += 1;
            run(&client, 4, 64, round).await;
            for clients in [1_usize, 32] {
                let commands = if quick {
                    64
                } else if clients == 1 {
                    2_000
                } else {
                    6_400
                };
                round += 1;
                let (rate, p50, p99) = run(&client, clients, commands, round).await;
                println!(
                    "| {mode} | {clients} | {commands} | {rate:.0} | {:.0} µs | {:.0} µs |",
                    p50.as_secs_f64() * 1e6,
                    p99.as_secs_f64() * 1e6
                );
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
