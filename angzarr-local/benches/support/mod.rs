//! What the end-to-end benches share: player commands, a loopback
//! coordinator, and a driver measuring commands/s and latency.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use angzarr_client::ListenAddress;
use angzarr_local::LocalCoordinatorBuilder;
use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::{AnyExt, CommandBook, CommandPage, CommandRequest, Cover, SyncMode};
use examples::player::chips;
use examples::proto::{DepositFunds, RegisterPlayer};
use prost_types::Any;
use tonic::transport::Channel;

/// The `sequence`-th command of a player: its registration, then deposits.
pub fn request(root: uuid::Uuid, sequence: u32, mode: SyncMode) -> CommandRequest {
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
        sync_mode: mode.into(),
        ..Default::default()
    }
}

/// Commands per measured round: 64 for a quick run, else 2,000 for one
/// client and 6,400 for more.
pub fn commands_for(quick: bool, clients: usize) -> usize {
    match (quick, clients) {
        (true, _) => 64,
        (false, 1) => 2_000,
        (false, _) => 6_400,
    }
}

/// Commands/s, p50 and p99 of `commands` commands from `clients` concurrent
/// clients, each on a player of its own (fresh for each `round`).
pub async fn run(
    client: &CommandHandlerCoordinatorServiceClient<Channel>,
    clients: usize,
    commands: usize,
    round: u128,
    mode: SyncMode,
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
                        .handle_command(request(root, sequence, mode))
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

/// Serves the coordinator `builder` makes on a loopback port; returns its
/// coordinator and a client.
pub async fn coordinator(
    builder: LocalCoordinatorBuilder,
) -> (
    std::sync::Arc<angzarr_local::Coordinator>,
    CommandHandlerCoordinatorServiceClient<Channel>,
) {
    let local = builder.try_build().expect("coordinator");
    let coordinator = std::sync::Arc::clone(local.coordinator());
    let bound = local
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
    (
        coordinator,
        CommandHandlerCoordinatorServiceClient::new(channel),
    )
}

/// Resident memory of this process, in KiB (Linux).
pub fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or_default()
}
