//! The whole system on one machine: angzarr-local (SQLite in a temporary
//! directory) in front of the player aggregate's gRPC server, both on free
//! loopback ports, driven through `DomainClient`.
//!
//! ```sh
//! cargo run -p examples --example quickstart
//! ```

use std::error::Error;

use angzarr_client::proto::{time, AnyExt, EventPage, MergeStrategy};
use angzarr_client::{DomainClient, ListenAddress, PointInTime, Server};
use angzarr_local::{LocalCoordinator, SqliteStore};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, FundsWithdrawn, RegisterPlayer, ReserveFunds, WithdrawFunds};

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn Error>> {
    // 1. The player aggregate, served over gRPC as Angzarr would run it.
    let aggregate = Server::new()
        .aggregate(Player)
        .listen(ListenAddress::loopback(0))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(std::future::pending())
        .bind()
        .await?;
    let aggregate_address = aggregate.local_address().to_string();
    tokio::spawn(aggregate.serve());

    // 2. The embedded coordinator, storing events in SQLite.
    let dir = std::env::temp_dir().join(format!("angzarr-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let coordinator = LocalCoordinator::builder()
        .store(SqliteStore::open(dir.join("events.db"))?)
        .domain_endpoint("player", &format!("http://{aggregate_address}"))?
        .try_build()?;
    let bound = coordinator
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await?;
    let coordinator_address = bound.local_address().clone();
    tokio::spawn(bound.serve());
    println!("player aggregate on {aggregate_address}, angzarr-local on {coordinator_address}");
    println!("events in {}\n", dir.join("events.db").display());

    // 3. A client, as an application would use it.
    let client = DomainClient::connect(&coordinator_address.to_string()).await?;
    let player = uuid::Uuid::new_v4();
    let table = uuid::Uuid::new_v4();

    client
        .command("player", player)
        .with_command(&RegisterPlayer {
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
            ..Default::default()
        })
        .execute()
        .await?;
    println!("registered player {player}");

    client
        .command("player", player)
        .with_command(&DepositFunds {
            amount: Some(chips(1_000)),
        })
        .with_sequence(1)
        .execute()
        .await?;
    println!("deposited 1000 chips");

    client
        .command("player", player)
        .with_command(&ReserveFunds {
            amount: Some(chips(300)),
            table_root: table.as_bytes().to_vec(),
        })
        .with_sequence(2)
        .execute()
        .await?;
    println!("reserved 300 chips for table {table}");

    let withdrawn = client
        .command("player", player)
        .with_command(&WithdrawFunds {
            amount: Some(chips(200)),
        })
        .with_sequence(3)
        .execute()
        .await?;
    let event: FundsWithdrawn = withdrawn.events.unwrap_or_default().pages[0].event_as()?;
    println!(
        "withdrew 200 chips; bankroll now {}",
        event.new_balance.map_or(0, |c| c.amount)
    );

    // A business rule refuses: 800 in the bankroll, 300 of it reserved.
    let refused = client
        .command("player", player)
        .with_command(&WithdrawFunds {
            amount: Some(chips(600)),
        })
        .with_sequence(4)
        .execute()
        .await
        .expect_err("only 500 chips are available");
    println!(
        "withdrawing 600 is rejected ({:?}): {:?}; rejection: {}",
        refused.code().unwrap_or(tonic::Code::Unknown),
        refused.message(),
        refused.is_rejection()
    );

    // A stale expected sequence conflicts; the retry helper rebuilds the
    // command at the sequence the conflict reports.
    let stale = client
        .command("player", player)
        .with_command(&DepositFunds {
            amount: Some(chips(50)),
        })
        .with_sequence(1)
        .with_merge_strategy(MergeStrategy::MergeStrict);
    let conflict = stale
        .clone()
        .execute()
        .await
        .expect_err("the player is at 4, not 1");
    println!(
        "a command expecting sequence 1 conflicts: {:?} (aggregate at {})",
        conflict.message(),
        conflict
            .current_event_book()
            .map_or(0, |book| book.next_sequence)
    );
    // Deciding again on the fresh history: here the same deposit still holds.
    let recovered = stale
        .execute_retrying(3, |_history| {
            Ok(DepositFunds {
                amount: Some(chips(50)),
            })
        })
        .await?;
    println!(
        "decided again on the fresh history: stored as event {}",
        recovered.events.unwrap_or_default().pages[0]
            .sequence()
            .unwrap_or_default()
    );

    // A dry run against history as of sequence 1: nothing is stored.
    let before = client.query("player", player).get_pages().await?.len();
    let preview = client
        .command("player", player)
        .with_command(&WithdrawFunds {
            amount: Some(chips(900)),
        })
        .with_sequence(2)
        .speculate(PointInTime::AsOfSequence(1))
        .await?;
    let would: FundsWithdrawn = preview.events.unwrap_or_default().pages[0].event_as()?;
    let after = client.query("player", player).get_pages().await?.len();
    println!(
        "speculatively, withdrawing 900 right after the deposit would leave {} chips; events stored: {before} before, {after} after\n",
        would.new_balance.map_or(0, |c| c.amount)
    );

    print_history(&client.query("player", player).get_pages().await?);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn print_history(pages: &[EventPage]) {
    println!(
        "{:>3}  {:<30}  {:<28}  {:>9}",
        "seq", "created at", "event", "bankroll"
    );
    for page in pages {
        let event = page.event();
        let name = event.map_or("(external)", |event| event.type_name());
        let bankroll = event
            .and_then(|event| {
                event
                    .unpack::<examples::proto::FundsDeposited>()
                    .ok()
                    .and_then(|e| e.new_balance)
                    .or_else(|| {
                        event
                            .unpack::<FundsWithdrawn>()
                            .ok()
                            .and_then(|e| e.new_balance)
                    })
            })
            .map_or_else(String::new, |currency| currency.amount.to_string());
        println!(
            "{:>3}  {:<30}  {:<28}  {:>9}",
            page.sequence()
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            page.created_at
                .as_ref()
                .map_or_else(String::new, time::to_rfc3339),
            name,
            bankroll
        );
    }
}
