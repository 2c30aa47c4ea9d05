//! A long run over many aggregates: 1,000,000 commands on 100,000 players
//! (ten rounds of one command each), in process on SQLite, 32 at a time.
//! Resident memory at the start and the end should be flat: nothing per
//! aggregate is kept once its command is done (lock entries are pruned).
//!
//! Run with `cargo bench -p angzarr-local --bench soak` (without `--bench`,
//! as `cargo test` runs it, a small version).

mod support;

use std::sync::Arc;
use std::time::Instant;

use angzarr_local::{LocalCoordinator, SqliteStore};
use angzarr_proto::SyncMode;
use examples::player::Player;
use support::resident_kib;

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let (players, rounds) = if quick { (1_000, 2) } else { (100_000, 10) };
    let workers = 32;
    let dir = std::env::temp_dir().join(format!("angzarr-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let local = LocalCoordinator::builder()
            .store(SqliteStore::open(dir.join("soak.db")).expect("db"))
            .domain_aggregate(Player)
            .try_build()
            .expect("coordinator");
        let coordinator = Arc::clone(local.coordinator());
        let started = Instant::now();
        let mut first = 0;
        println!("| commands | resident | lock entries | commands/s so far |");
        println!("|---:|---:|---:|---:|");
        for round in 0..rounds as u32 {
            let tasks: Vec<_> = (0..workers)
                .map(|worker| {
                    let coordinator = Arc::clone(&coordinator);
                    tokio::spawn(async move {
                        for player in (worker..players).step_by(workers) {
                            let root = uuid::Uuid::from_u128(player as u128 | 1 << 80);
                            coordinator
                                .handle_command(support::request(root, round, SyncMode::Async))
                                .await
                                .expect("every command succeeds");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("worker");
            }
            let done = (round as usize + 1) * players;
            let resident = resident_kib();
            if round == 0 {
                first = resident;
            }
            println!(
                "| {done} | {:.1} MiB | {} | {:.0} |",
                resident as f64 / 1024.0,
                coordinator.lock_entries(),
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
        let last = resident_kib();
        println!();
        println!(
            "resident after the first round {:.1} MiB, at the end {:.1} MiB; lock entries {}",
            first as f64 / 1024.0,
            last as f64 / 1024.0,
            coordinator.lock_entries()
        );
        assert_eq!(coordinator.lock_entries(), 0);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
