//! A command round trip through `DomainClient` (builder, correlation id,
//! error mapping) against the same call through the raw generated tonic
//! stub, on the same angzarr-local server with the player in-process.
//!
//! Run with `cargo bench -p angzarr-local --bench client`.

use std::hint::black_box;

use angzarr_client::DomainClient;
use angzarr_local::LocalCoordinator;
use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::{AnyExt, CommandBook, CommandPage, CommandRequest, Cover, MergeStrategy};
use criterion::{criterion_group, criterion_main, Criterion};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, RegisterPlayer};
use prost_types::Any;
use tonic::transport::Channel;

fn round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (domain_client, mut raw) = runtime.block_on(async {
        let coordinator = LocalCoordinator::builder().domain_aggregate(Player).build();
        let bound = coordinator
            .bind(
                angzarr_client::ListenAddress::loopback(0),
                std::future::pending(),
            )
            .await
            .expect("bind");
        let address = bound.local_address().tcp().expect("a TCP address");
        tokio::spawn(bound.serve());
        let domain_client = DomainClient::connect(&address.to_string())
            .await
            .expect("connect");
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("endpoint")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        (
            domain_client,
            CommandHandlerCoordinatorServiceClient::new(channel),
        )
    });
    let root = uuid::Uuid::from_u128(0xbe7c4);
    runtime
        .block_on(
            domain_client
                .command("player", root)
                .with_command(&RegisterPlayer {
                    display_name: "Bench".into(),
                    email: "bench@example.com".into(),
                    ..Default::default()
                })
                .execute(),
        )
        .expect("registered");
    let deposit = DepositFunds {
        amount: Some(chips(1)),
    };

    // Warm the connection, the allocator and the store before either is measured;
    // without this the first benchmark in the group pays for it.
    for _ in 0..2_000 {
        runtime
            .block_on(
                domain_client
                    .command("player", root)
                    .with_command(&deposit)
                    .with_merge_strategy(MergeStrategy::MergeAggregateHandles)
                    .execute(),
            )
            .expect("deposited");
    }

    let mut group = c.benchmark_group("command_round_trip");
    group.bench_function("raw_tonic_stub", |b| {
        b.iter(|| {
            let mut page = CommandPage::new(0, Any::pack(black_box(&deposit)));
            page.merge_strategy = MergeStrategy::MergeAggregateHandles.into();
            let request = CommandRequest {
                command: Some(CommandBook {
                    cover: Some(
                        Cover::new("player", root)
                            .with_correlation_id(uuid::Uuid::new_v4().to_string()),
                    ),
                    pages: vec![page],
                }),
                ..Default::default()
            };
            runtime
                .block_on(raw.handle_command(request))
                .expect("deposited")
        })
    });
    group.bench_function("domain_client", |b| {
        b.iter(|| {
            runtime
                .block_on(
                    domain_client
                        .command("player", root)
                        .with_command(black_box(&deposit))
                        .with_merge_strategy(MergeStrategy::MergeAggregateHandles)
                        .execute(),
                )
                .expect("deposited")
        })
    });
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
