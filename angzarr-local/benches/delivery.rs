//! What delivery costs: commands/s through angzarr-local (loopback gRPC,
//! player in process, SQLite) with no consumer, and with one saga and one
//! projector subscribed to the player, ASYNC and CASCADE; then how fast the
//! outbox delivers a backlog (books/s).
//!
//! Run with `cargo bench -p angzarr-local --bench delivery`. Every command
//! is checked to succeed, and every book to be delivered.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use angzarr_client::proto::NoOp;
use angzarr_client::{ProjectorRouter, SagaRouter};
use angzarr_local::{LocalCoordinator, LocalCoordinatorBuilder, SqliteStore};
use angzarr_proto::SyncMode;
use examples::player::Player;
use examples::proto::{FundsDeposited, PlayerRegistered};
use support::{commands_for, coordinator, run};

/// A saga that reads each deposit and sends nothing, and a projector that
/// counts the books it is given.
fn consumers(
    builder: LocalCoordinatorBuilder,
    counted: &Arc<AtomicUsize>,
) -> LocalCoordinatorBuilder {
    let counter = Arc::clone(counted);
    let registered = Arc::clone(counted);
    builder
        .saga(
            SagaRouter::new("watch", "player")
                .target("player")
                .on(|_: FundsDeposited| ()),
        )
        .projector(
            ProjectorRouter::new("count", ["player"])
                .on(move |_: FundsDeposited| -> Option<NoOp> {
                    counter.fetch_add(1, Ordering::Relaxed);
                    None
                })
                .on(move |_: PlayerRegistered| -> Option<NoOp> {
                    registered.fetch_add(1, Ordering::Relaxed);
                    None
                }),
        )
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let dir = std::env::temp_dir().join(format!("angzarr-delivery-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!("| consumers | sync mode | clients | commands | commands/s | p50 | p99 |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        let mut round = 0;
        for (label, subscribed, mode) in [
            ("none", false, SyncMode::Async),
            ("saga + projector", true, SyncMode::Async),
            ("saga + projector", true, SyncMode::Cascade),
        ] {
            let counted = Arc::new(AtomicUsize::new(0));
            let db = dir.join(format!("commands-{round}.db"));
            let mut builder = LocalCoordinator::builder()
                .store(SqliteStore::open(&db).expect("db"))
                .domain_aggregate(Player);
            if subscribed {
                builder = consumers(builder, &counted);
            }
            let (local, client) = coordinator(builder).await;
            round += 1;
            run(&client, 4, 64, round, mode).await;
            let mut written = 64;
            for clients in [1_usize, 32] {
                let commands = commands_for(quick, clients);
                round += 1;
                let (rate, p50, p99) = run(&client, clients, commands, round, mode).await;
                written += commands;
                println!(
                    "| {label} | {mode:?} | {clients} | {commands} | {rate:.0} | {:.0} µs | {:.0} µs |",
                    p50.as_secs_f64() * 1e6,
                    p99.as_secs_f64() * 1e6
                );
            }
            if subscribed {
                local.settled().await.expect("delivery settles");
                assert_eq!(counted.load(Ordering::Relaxed), written, "every book projected once");
            }
        }

        // A backlog: books written while delivery is stopped, then delivered.
        let books = if quick { 500 } else { 20_000 };
        let counted = Arc::new(AtomicUsize::new(0));
        let db = dir.join("backlog.db");
        let local = consumers(
            LocalCoordinator::builder()
                .store(SqliteStore::open(&db).expect("db"))
                .domain_aggregate(Player),
            &counted,
        )
        .try_build()
        .expect("coordinator");
        let coordinator = Arc::clone(local.coordinator());
        for n in 0..books as u128 {
            coordinator
                .handle_command(support::request(uuid::Uuid::from_u128(n | 1 << 90), 0, SyncMode::Async))
                .await
                .expect("written");
        }
        let started = Instant::now();
        local.start_delivery();
        local.settled().await.expect("delivery settles");
        let elapsed = started.elapsed();
        assert_eq!(counted.load(Ordering::Relaxed), books);
        println!();
        println!(
            "outbox backlog: {books} books to a saga and a projector in {:.2} s: {:.0} books/s per consumer",
            elapsed.as_secs_f64(),
            books as f64 / elapsed.as_secs_f64()
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
