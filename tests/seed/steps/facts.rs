//! `fact_flow.feature`: facts sagas record on other aggregates, through
//! angzarr-local with the poker player and table and a hand whose turns
//! pass (`tests/seed/poker.rs`).

use angzarr_client::aggregate::runtime::rebuild;
use angzarr_client::proto::{page_header, AnyExt, EventBook, EventPage, SyncMode};
use angzarr_client::testing::SagaTest;
use cucumber::{given, then, when};
use examples::player::chips;
use examples::proto::{
    CreateTable, DepositFunds, JoinTable, PlayerReturningToPlay, PlayerSatIn, PlayerSatOut,
    PlayerSittingOut, RegisterPlayer,
};
use examples::table::Table;
use prost_types::Any;

use super::{send, stored};
use crate::poker::{action_id, ActionRequested, HandPlayer, PassTurn, TurnChanged};
use crate::world::Seed;

/// The root of the player the scenario is about.
fn player_root(world: &mut Seed) -> uuid::Uuid {
    let name = world.note("player").to_owned();
    world.root(&name)
}

fn facts(world: &mut Seed) {
    world.with_components(|components| components.facts = true);
}

async fn register(world: &mut Seed, name: &str) {
    let root = world.root(name);
    let client = world.client().await;
    let command = Any::pack(&RegisterPlayer {
        display_name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        ..Default::default()
    });
    send(&client, "player", root, 0, command)
        .await
        .expect("registered");
}

#[given(expr = "a registered player {string}")]
async fn registered(world: &mut Seed, name: String) {
    facts(world);
    register(world, &name).await;
    world.notes.insert("player", name);
}

#[given(expr = "a hand in progress where it becomes {word} turn")]
fn hand_in_progress(world: &mut Seed, _whose: String) {
    world.root("H1");
}

#[when("the hand-player saga processes the turn change")]
async fn turn_changes(world: &mut Seed) {
    let (hand, player) = (world.root("H1"), player_root(world));
    let client = world.client().await;
    let response = client
        .command("hand", hand)
        .with_any(Any::pack(&PassTurn {
            player_root: player.as_bytes().to_vec(),
        }))
        .with_sync_mode(SyncMode::Cascade)
        .execute()
        .await
        .expect("the turn passes");
    assert!(
        response.cascade_errors.is_empty(),
        "{:?}",
        response.cascade_errors
    );
}

async fn player_pages(world: &mut Seed) -> Vec<EventPage> {
    let name = world.note("player").to_owned();
    stored(world, "player", &name).await
}

#[then(regex = r"^an ActionRequested fact is injected into \w+'s player aggregate$")]
async fn injected(world: &mut Seed) {
    let pages = player_pages(world).await;
    let fact: ActionRequested = pages
        .last()
        .expect("a page")
        .event_as()
        .expect("ActionRequested");
    assert_eq!(
        (fact.hand_root, fact.turn),
        (world.root("H1").as_bytes().to_vec(), 1)
    );
}

#[then("the fact is persisted with the next sequence number")]
async fn next_number(world: &mut Seed) {
    let pages = player_pages(world).await;
    assert_eq!(
        pages.last().and_then(EventPage::sequence),
        Some(1),
        "after the registration at 0"
    );
}

#[then("the player aggregate contains an ActionRequested event")]
async fn contains(world: &mut Seed) {
    let pages = player_pages(world).await;
    assert_eq!(
        pages
            .iter()
            .filter(|p| p.event_as::<ActionRequested>().is_ok())
            .count(),
        1
    );
}

#[given(expr = "a player aggregate with {int} existing events")]
async fn with_events(world: &mut Seed, count: u32) {
    facts(world);
    register(world, "Dana").await;
    world.notes.insert("player", "Dana".into());
    let root = world.root("Dana");
    let client = world.client().await;
    for sequence in 1..count {
        send(
            &client,
            "player",
            root,
            sequence,
            Any::pack(&DepositFunds {
                amount: Some(chips(10)),
            }),
        )
        .await
        .expect("deposited");
    }
    world.counts.insert("existing", count as usize);
}

#[when("an ActionRequested fact is injected")]
async fn inject(world: &mut Seed) {
    let root = player_root(world);
    let client = world.client().await;
    let response = client
        .fact("player", root)
        .with_event(&ActionRequested {
            hand_root: vec![1; 16],
            turn: 3,
        })
        .external_id("action-H9-dana-turn-3")
        .execute()
        .await
        .expect("recorded");
    world.pages = response.events.map(|book| book.pages).unwrap_or_default();
}

/// The seed counts sequences from 1; the protocol's start at 0, so its
/// "sequence 4" after three events is our 3.
#[then(expr = "the fact is persisted with sequence number {int}")]
fn persisted_at(world: &mut Seed, counted_from_one: u32) {
    assert_eq!(world.counts["existing"] as u32 + 1, counted_from_one);
    assert_eq!(
        world.pages.first().and_then(EventPage::sequence),
        Some(counted_from_one - 1)
    );
}

#[then(expr = "subsequent events continue from sequence {int}")]
async fn continue_from(world: &mut Seed, counted_from_one: u32) {
    let root = player_root(world);
    let client = world.client().await;
    let next = client.next_sequence("player", root).await.expect("read");
    assert_eq!(next, counted_from_one - 1);
    let response = send(
        &client,
        "player",
        root,
        next,
        Any::pack(&DepositFunds {
            amount: Some(chips(5)),
        }),
    )
    .await
    .expect("deposited");
    assert_eq!(response.pages()[0].sequence(), Some(counted_from_one - 1));
}

async fn seat(world: &mut Seed, player: &str, table: &str) {
    facts(world);
    register(world, player).await;
    let (player_root, table_root) = (world.root(player), world.root(table));
    let client = world.client().await;
    let create = CreateTable {
        table_name: table.into(),
        small_blind: 5,
        big_blind: 10,
        min_buy_in: 100,
        max_buy_in: 1000,
        max_players: 6,
        ..Default::default()
    };
    send(&client, "table", table_root, 0, Any::pack(&create))
        .await
        .expect("table created");
    let join = JoinTable {
        player_root: player_root.as_bytes().to_vec(),
        preferred_seat: 0,
        buy_in_amount: 500,
    };
    send(&client, "table", table_root, 1, Any::pack(&join))
        .await
        .expect("seated");
    world.notes.insert("player", player.into());
    world.notes.insert("table", table.into());
}

#[given(expr = "player {string} is seated at table {string}")]
async fn seated(world: &mut Seed, player: String, table: String) {
    seat(world, &player, &table).await;
}

async fn report(world: &mut Seed, event: Any, external_id: &str) {
    let root = player_root(world);
    let client = world.client().await;
    client
        .fact("player", root)
        .with_any(event)
        .external_id(external_id)
        .execute()
        .await
        .expect("the front end's report is recorded");
    world.backend().await.settled().await;
}

fn table_root(world: &mut Seed) -> Vec<u8> {
    let table = world.note("table").to_owned();
    world.root(&table).as_bytes().to_vec()
}

#[given(expr = "player {string} is sitting out at table {string}")]
async fn sitting_out(world: &mut Seed, player: String, table: String) {
    seat(world, &player, &table).await;
    let event = Any::pack(&PlayerSittingOut {
        table_root: table_root(world),
        sat_out_at: None,
    });
    report(world, event, "sit-out-1").await;
    assert!(seat_state(world).await, "sitting out");
}

#[when(regex = r"^\w+'s player aggregate emits (PlayerSittingOut|PlayerReturning)$")]
async fn emits(world: &mut Seed, which: String) {
    let table = table_root(world);
    let event = if which == "PlayerSittingOut" {
        Any::pack(&PlayerSittingOut {
            table_root: table,
            sat_out_at: None,
        })
    } else {
        Any::pack(&PlayerReturningToPlay {
            table_root: table,
            sat_in_at: None,
        })
    };
    report(world, event, &format!("{which}-2")).await;
}

async fn table_pages(world: &mut Seed) -> Vec<EventPage> {
    let table = world.note("table").to_owned();
    stored(world, "table", &table).await
}

/// Whether the table has the player's seat sitting out.
async fn seat_state(world: &mut Seed) -> bool {
    let pages = table_pages(world).await;
    let (state, _) = rebuild(
        &Table,
        Some(&EventBook {
            pages,
            ..Default::default()
        }),
    )
    .expect("rebuilds");
    let player = player_root(world);
    state
        .seats
        .iter()
        .find(|seat| seat.player_root == player.as_bytes())
        .expect("the player's seat")
        .is_sitting_out
}

#[then(regex = r"^a (PlayerSatOut|PlayerSatIn) fact is injected into the table aggregate$")]
async fn table_fact(world: &mut Seed, which: String) {
    let pages = table_pages(world).await;
    let last = pages.last().expect("a page");
    let player = player_root(world).as_bytes().to_vec();
    let recorded = if which == "PlayerSatOut" {
        last.event_as::<PlayerSatOut>().map(|e| e.player_root)
    } else {
        last.event_as::<PlayerSatIn>().map(|e| e.player_root)
    };
    assert_eq!(recorded.expect("the fact"), player);
}

#[then(regex = r"^the table records \w+ as (sitting out|active)$")]
async fn records(world: &mut Seed, how: String) {
    assert_eq!(seat_state(world).await, how == "sitting out");
}

#[then("the fact has a sequence number in the table's event stream")]
async fn in_stream(world: &mut Seed) {
    let pages = table_pages(world).await;
    let sequences: Vec<_> = pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, [0, 1, 2], "after TableCreated and PlayerJoined");
}

#[given("a saga that emits a fact")]
fn saga_with_fact(world: &mut Seed) {
    world.root("H1");
    world.root("Alice");
}

#[when("the fact is constructed")]
fn constructed(world: &mut Seed) {
    let (hand, player) = (world.root("H1"), world.root("Alice"));
    let outcome = SagaTest::new(HandPlayer)
        .with_source(angzarr_client::proto::Cover::new("hand", hand).with_correlation_id("hand-H1"))
        .when(TurnChanged {
            player_root: player.as_bytes().to_vec(),
            turn: 3,
        });
    world.books = outcome.facts().to_vec();
}

fn fact_cover(world: &Seed) -> &angzarr_client::proto::Cover {
    world
        .books
        .first()
        .and_then(|b| b.cover.as_ref())
        .expect("a fact")
}

#[then("the fact Cover has domain set to the target aggregate")]
fn fact_domain(world: &mut Seed) {
    assert_eq!(fact_cover(world).domain, "player");
}

#[then("the fact Cover has root set to the target aggregate root")]
fn fact_root(world: &mut Seed) {
    let player = world.root("Alice");
    assert_eq!(fact_cover(world).root_uuid().ok(), Some(player));
}

#[then("the fact Cover has external_id set for idempotency")]
fn fact_external_id(world: &mut Seed) {
    // The protocol carries a fact's external id in its page's header.
    let (hand, player) = (world.root("H1"), world.root("Alice"));
    let page = &world.books[0].pages[0];
    let Some(page_header::SequenceType::ExternalDeferred(external)) =
        page.header.as_ref().and_then(|h| h.sequence_type.clone())
    else {
        panic!("not an external fact: {page:?}")
    };
    assert_eq!(external.external_id, action_id(hand, player, 3));
}

#[then("the fact Cover has correlation_id for traceability")]
fn fact_correlation(world: &mut Seed) {
    assert_eq!(fact_cover(world).correlation_id, "hand-H1");
}

#[given(expr = "a saga that emits a fact to domain {string}")]
fn lost(world: &mut Seed, domain: String) {
    assert_eq!(domain, "nonexistent");
    world.with_components(|components| components.lost_facts = true);
}

#[when("the saga processes an event")]
async fn lost_processes(world: &mut Seed) {
    let hand = world.root("H2");
    let client = world.client().await;
    let response = client
        .command("hand", hand)
        .with_any(Any::pack(&PassTurn {
            player_root: uuid::Uuid::new_v4().as_bytes().to_vec(),
        }))
        .with_sync_mode(SyncMode::Cascade)
        .execute()
        .await
        .expect("the turn passes");
    world.outcome = Some(Ok(response));
}

#[then(expr = "the saga fails with error containing {string}")]
fn saga_fails(world: &mut Seed, text: String) {
    let errors = &world.response().cascade_errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].component_name, "lost-facts");
    assert!(
        errors[0].error_message.contains(&text),
        "{}",
        errors[0].error_message
    );
}

#[then("no commands from that saga are executed")]
async fn nothing_executed(world: &mut Seed) {
    // The saga emits a fact only; nothing but the hand's own event was stored.
    let roots = world.stored_roots().await;
    let domains: Vec<&str> = roots.iter().map(|r| r.domain.as_str()).collect();
    assert!(
        domains.iter().all(|d| *d == "hand" || d.starts_with('_')),
        "{domains:?}"
    );
}

#[given(expr = "a fact with external_id {string}")]
fn fact_with_id(world: &mut Seed, id: String) {
    world.notes.insert("external id", id);
}

#[when("the same fact is injected twice")]
async fn twice(world: &mut Seed) {
    let root = world.root("alice");
    let client = world.client().await;
    let id = world.note("external id").to_owned();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let answer = client
            .fact("player", root)
            .with_event(&ActionRequested {
                hand_root: vec![7; 16],
                turn: 3,
            })
            .external_id(id.clone())
            .execute()
            .await;
        answers.push(answer.map(|r| r.already_processed));
    }
    world.notes.insert("answers", format!("{answers:?}"));
}

#[then("only one event is stored in the aggregate")]
async fn one_stored(world: &mut Seed) {
    assert_eq!(stored(world, "player", "alice").await.len(), 1);
}

#[then("the second injection succeeds without error")]
fn second_succeeds(world: &mut Seed) {
    assert_eq!(world.note("answers"), "[Ok(false), Ok(true)]");
}
