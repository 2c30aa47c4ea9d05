//! The poker system, end to end: two aggregates (player, table), the
//! buy-in process manager, two sagas, a SQLite read model, a CloudEvents
//! projector and an upcaster, all behind angzarr-local.
//!
//! ```sh
//! cargo run -p examples --example poker                  # the scripted session
//! cargo run -p examples --example poker -- --list        # the components
//! cargo run -p examples --example poker -- serve table   # one component alone
//! cargo run -p examples --example poker -- --mermaid     # the system as a diagram
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use angzarr_client::cloudevents::{to_json, DescriptorPool};
use angzarr_client::proto::{
    AnyExt, CloudEventsResponse, CommandResponse, EventPage, FactInjectionResponse, Projection,
    SyncMode,
};
use angzarr_client::{DomainClient, ListenAddress};
use angzarr_local::store::{Append, EventStore};
use angzarr_local::{AggregateKey, LocalCoordinator, SqliteStore};
use examples::buy_in::BuyIn;
use examples::feed::PokerEvents;
use examples::player::{chips, Player, PlayerView};
use examples::poker::{buy_in_request, serve, sitting_out, COMPONENTS};
use examples::proto::{
    v1, CreateTable, DepositFunds, EndHand, GameVariant, LeaveTable, PlayerState, PotResult,
    RegisterPlayer, StartHand, TableState,
};
use examples::sagas::{PlayerTableSaga, TablePlayerSaga};
use examples::seating::Seating;
use examples::table::{hand_root, Table};
use examples::upcaster::PlayerUpcaster;
use prost::Name;

/// Why the example stopped.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

#[allow(dead_code)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("poker: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The scripted session, or what the arguments ask for.
pub fn run(args: &[String]) -> Result<(), Failure> {
    let runtime = tokio::runtime::Runtime::new()?;
    match args {
        [] => runtime.block_on(session()),
        [flag] if flag == "--list" => {
            for (name, kind) in COMPONENTS {
                println!("{name:<20} {kind}");
            }
            Ok(())
        }
        [flag] if flag == "--mermaid" => {
            println!("{}", angzarr_client::topology().to_mermaid());
            Ok(())
        }
        [command, name] if command == "serve" => {
            angzarr_client::init_tracing();
            runtime.block_on(serve(name)).map_err(Into::into)
        }
        _ => Err("usage: poker [--list | --mermaid | serve NAME]".into()),
    }
}

/// The system, everything in this process, on SQLite in `dir`.
fn system(dir: &std::path::Path, store: Arc<SqliteStore>) -> Result<LocalCoordinator, Failure> {
    Ok(LocalCoordinator::builder()
        .store(store)
        .domain_aggregate(Player)
        .domain_aggregate(Table)
        .upcaster(PlayerUpcaster)
        .process_manager(BuyIn)
        .saga(TablePlayerSaga)
        .saga(PlayerTableSaga)
        .projector(Seating::open(dir.join("seating.db"))?)
        .projector(PokerEvents)
        .try_build()?)
}

/// What the session's commands answered: every projection of the
/// synchronous ones (the CloudEvents among them).
#[derive(Default)]
struct Collected {
    projections: Vec<Projection>,
}

impl Collected {
    /// Sends `command` to `domain`'s aggregate `root` at its next sequence,
    /// waiting for the cascade it causes (CASCADE).
    async fn send(
        &mut self,
        client: &DomainClient,
        domain: &str,
        root: uuid::Uuid,
        command: &impl Name,
    ) -> Result<CommandResponse, Failure> {
        // The next sequence alone: no page of the history is read.
        let next = client.next_sequence(domain, root).await?;
        let response = client
            .command(domain, root)
            .with_command(command)
            .with_sequence(next)
            .with_sync_mode(SyncMode::Cascade)
            .execute()
            .await?;
        self.projections
            .extend(response.projections.iter().cloned());
        Ok(response)
    }

    fn fact(&mut self, response: FactInjectionResponse) {
        self.projections.extend(response.projections);
    }
}

async fn session() -> Result<(), Failure> {
    let dir = std::env::temp_dir().join(format!("angzarr-poker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(dir.join("poker.db"))?);
    let local = system(&dir, Arc::clone(&store))?;
    let coordinator = Arc::clone(local.coordinator());
    let bound = local
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await?;
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let client = DomainClient::connect(&address).await?;
    let mut seen = Collected::default();
    println!("angzarr-local on {address}, SQLite in {}", dir.display());

    // Players, funded. Every command waits for its cascade (CASCADE), so
    // its answer carries what the projectors made of it.
    let names = ["Alice", "Bob", "Carol", "Dave"];
    let players: Vec<uuid::Uuid> = names.iter().map(|_| uuid::Uuid::new_v4()).collect();
    for (name, player) in names.iter().zip(&players) {
        let registration = RegisterPlayer {
            display_name: (*name).into(),
            email: format!("{}@example.com", name.to_lowercase()),
            ..Default::default()
        };
        seen.send(&client, "player", *player, &registration).await?;
        let funds = DepositFunds {
            amount: Some(chips(1_000)),
        };
        seen.send(&client, "player", *player, &funds).await?;
    }
    println!("registered and funded {}", names.join(", "));

    // A player an older version registered: stored as examples.v1, read
    // through the upcaster.
    let eve = uuid::Uuid::new_v4();
    let old = v1::PlayerRegistered {
        display_name: "Eve".into(),
        email: "eve@example.com".into(),
        registered_at: None,
    };
    store.append(&Append {
        key: &AggregateKey {
            domain: "player".into(),
            edition: "angzarr".into(),
            root: eve,
        },
        at: 0,
        pages: &[EventPage::new(0, angzarr_client::proto::Any::pack(&old))],
        snapshot: None,
        correlation_id: "",
        fact: None,
        publish: None,
        outcome: None,
    })?;
    let deposit = client
        .command("player", eve)
        .with_command(&DepositFunds {
            amount: Some(chips(250)),
        })
        .with_sequence(1)
        .execute()
        .await?;
    println!(
        "Eve, stored as {} by an older version, is a player to the aggregate: deposit stored at sequence {}",
        v1::PlayerRegistered::full_name(),
        deposit.events.unwrap_or_default().pages[0].sequence().unwrap_or_default()
    );

    // A table for three.
    let table = uuid::Uuid::new_v4();
    let create = CreateTable {
        table_name: "Main".into(),
        game_variant: GameVariant::TexasHoldem.into(),
        small_blind: 5,
        big_blind: 10,
        min_buy_in: 200,
        max_buy_in: 1_000,
        max_players: 3,
        action_timeout_seconds: 0,
    };
    seen.send(&client, "table", table, &create).await?;

    // Buy-ins: three fit, the fourth finds the table full and is compensated.
    let stakes = [500, 400, 300, 500];
    for ((name, player), amount) in names.iter().zip(&players).zip(stakes) {
        let workflow = format!("buy-in-{}", name.to_lowercase());
        let answer = client
            .aggregate()
            .handle_event(buy_in_request(
                *player,
                table,
                0,
                amount,
                &workflow,
                SyncMode::Cascade,
            ))
            .await?;
        seen.fact(answer);
        println!("{name} asked to buy in for {amount} ({workflow})");
    }

    // A hand: Alice wins 30.
    seen.send(&client, "table", table, &StartHand {}).await?;
    let end = EndHand {
        hand_root: hand_root("table_Main", 1),
        results: vec![PotResult {
            winner_root: players[0].as_bytes().to_vec(),
            amount: 30,
            pot_type: "main".into(),
            winning_hand: None,
        }],
    };
    seen.send(&client, "table", table, &end).await?;
    println!("hand 1 dealt; Alice won 30");

    // Bob leaves; Carol is reported sitting out, and so leaves too.
    let leave = LeaveTable {
        player_root: players[1].as_bytes().to_vec(),
    };
    seen.send(&client, "table", table, &leave).await?;
    println!("Bob left the table");
    seen.fact(
        client
            .aggregate()
            .handle_event(sitting_out(
                players[2],
                table,
                "carol-away",
                SyncMode::Cascade,
            ))
            .await?,
    );
    println!("Carol was reported sitting out");
    coordinator.settled().await?;

    println!();
    println!("== the read model (table-seating, SQLite) ==");
    for row in Seating::open(dir.join("seating.db"))?.tables()? {
        println!(
            "table {} ({}/{}), {}, {} hand(s) dealt",
            row.name, row.blinds.0, row.blinds.1, row.status, row.hands
        );
        for (seat, player, stack) in row.seats {
            let name = players
                .iter()
                .position(|p| p.simple().to_string() == player)
                .map_or("?", |index| names[index]);
            println!("  seat {seat}: {name:<6} {stack:>5} chips");
        }
    }

    println!();
    println!("== the players ==");
    for (name, player) in names.iter().zip(&players) {
        let book = client.query("player", *player).get_event_book().await?;
        let (state, _): (PlayerState, u32) =
            angzarr_client::aggregate::runtime::rebuild(&Player, Some(&book))?;
        println!(
            "  {name:<6} bankroll {:>5}, reserved {:>4}, available {:>5}",
            state.bankroll(),
            state.reserved(),
            state.available()?
        );
    }
    let book = client.query("table", table).get_event_book().await?;
    let (state, _): (TableState, u32) =
        angzarr_client::aggregate::runtime::rebuild(&Table, Some(&book))?;
    println!("  the table has {} seat(s) taken", state.seats.len());

    println!();
    println!("== CloudEvents (poker-events), structured JSON ==");
    let pool = DescriptorPool::decode(examples::FILE_DESCRIPTOR_SET)?;
    for projection in seen
        .projections
        .iter()
        .filter(|projection| projection.projector == "poker-events")
    {
        let Some(events) = projection
            .projection
            .as_ref()
            .and_then(|any| any.unpack::<CloudEventsResponse>().ok())
        else {
            continue;
        };
        for event in &events.events {
            println!("{}", to_json(event, &pool)?);
        }
    }

    println!();
    println!("== the workflow buy-in-dave, across domains, in order ==");
    let books = client
        .queries()
        .get_events_collected(
            client
                .query_domain("player")
                .by_correlation_id("buy-in-dave")
                .build()?,
        )
        .await?;
    for book in books {
        for page in &book.pages {
            println!(
                "  {:<12} {:>3}  {}",
                book.domain(),
                page.sequence().unwrap_or_default(),
                page.event().map_or("(external)", |event| event.type_name())
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
