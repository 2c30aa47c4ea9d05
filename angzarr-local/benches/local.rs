//! End to end through angzarr-local: client -> coordinator -> player
//! aggregate -> SQLite, over loopback gRPC. Commands per second and p50/p99
//! latency with 1 and 32 concurrent clients (each on its own player), the
//! aggregate in-process (with SQLite's `synchronous` at NORMAL, the
//! default, and at FULL) and over gRPC.
//!
//! Run with `cargo bench -p angzarr-local --bench local`. Every command is
//! checked to succeed; loops are bounded by a command count.

mod support;

use angzarr_client::{ListenAddress, Server};
use angzarr_local::{LocalCoordinator, SqliteStore, Synchronous};
use angzarr_proto::SyncMode;
use examples::player::Player;
use support::{commands_for, coordinator, run};

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
            .shutdown_drain(std::time::Duration::ZERO)
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
                "in-process, synchronous=full",
                LocalCoordinator::builder()
                    .store(
                        SqliteStore::open_with(dir.join("in-process-full.db"), Synchronous::Full)
                            .expect("db"),
                    )
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
            let (_, client) = coordinator(builder).await;
            round += 1;
            run(&client, 4, 64, round, SyncMode::Async).await;
            for clients in [1_usize, 32] {
                let commands = commands_for(quick, clients);
                round += 1;
                let (rate, p50, p99) =
                    run(&client, clients, commands, round, SyncMode::Async).await;
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
