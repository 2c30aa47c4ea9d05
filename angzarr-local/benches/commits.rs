//! The ceiling under angzarr-local's writes: how many transactions one
//! SQLite connection with the store's settings commits per second, each the
//! shape of one command's write (one event page, its outbox entry and its
//! outcome), with `synchronous=NORMAL` (the default) and `FULL`, in
//! alternating rounds of one run. Writes go through [`SqliteStore`] itself,
//! one at a time, each to its own aggregate.
//!
//! Run with `cargo bench -p angzarr-local --bench commits -- --bench`;
//! without `--bench` it makes a short run.

use std::time::Instant;

use angzarr_local::store::{Append, Outcome, Publication};
use angzarr_local::{AggregateKey, EventStore, SqliteStore, Synchronous};
use angzarr_proto::{AnyExt, EventPage, NoOp};
use prost::Message;

/// Commits `count` appends to `store`, from root `first` on; answers commits/s.
fn commit(store: &SqliteStore, first: u128, count: u128) -> f64 {
    let page = EventPage::new(
        0,
        prost_types::Any::pack(&NoOp {
            reason: "a command's event".repeat(4),
            ..Default::default()
        }),
    );
    let book = angzarr_proto::EventBook {
        pages: vec![page.clone()],
        ..Default::default()
    }
    .encode_to_vec();
    let outcome = Outcome {
        code: 0,
        message: String::new(),
        body: book.clone(),
    };
    let started = Instant::now();
    for root in first..first + count {
        let key = AggregateKey {
            domain: "player".to_owned(),
            edition: angzarr_proto::DEFAULT_EDITION.to_owned(),
            root: uuid::Uuid::from_u128(root),
        };
        let outcome_key = format!("command:{root}");
        store
            .append(&Append {
                key: &key,
                at: 0,
                pages: std::slice::from_ref(&page),
                snapshot: None,
                correlation_id: "bench",
                fact: None,
                publish: Some(Publication {
                    domain: "player",
                    book: &book,
                    claim: None,
                }),
                outcome: Some((&outcome_key, &outcome)),
            })
            .expect("every append commits");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let (rounds, count) = if quick { (1, 200) } else { (5, 2_000) };
    let dir = std::env::temp_dir().join(format!("angzarr-commits-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stores: Vec<(Synchronous, SqliteStore)> = [Synchronous::Normal, Synchronous::Full]
        .into_iter()
        .map(|setting| {
            let path = dir.join(format!("{setting}.db"));
            (setting, SqliteStore::open_with(path, setting).expect("db"))
        })
        .collect();
    let mut rates = vec![Vec::new(); stores.len()];
    let mut next = 0;
    for round in 0..rounds {
        // Who goes first alternates, so that drift hits both.
        let order: Vec<usize> = if round % 2 == 0 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for index in order {
            rates[index].push(commit(&stores[index].1, next, count));
            next += count;
        }
    }
    println!("| synchronous | transactions | commits/s (median of {rounds}) | rounds |");
    println!("|---|---:|---:|---|");
    for ((setting, _), rates) in stores.iter().zip(&mut rates) {
        let shown: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
        println!(
            "| {setting} | {count} | {:.0} | {} |",
            median(rates),
            shown.join(", ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
