//! The poker system: the table's rules, the buy-in workflow, the sagas,
//! the read model, CloudEvents, upcasting and restarts.

use angzarr_client::aggregate::runtime::rebuild;
use angzarr_client::cloudevents::{to_json, DescriptorPool};
use angzarr_client::proto::projector_service_client::ProjectorServiceClient;
use angzarr_client::proto::{
    identity, AnyExt, CloudEventsResponse, EventBook, EventPage, FactInjectionResponse, SyncMode,
};
use angzarr_client::{connect, ConnectOptions, Target};
use cucumber::{given, then, when};
use examples::player::{Player, PlayerView};
use examples::poker::{buy_in_request, fact, sitting_out};
use examples::proto::{
    v1, BuyInFailed, BuyInRequested, CreateTable, EndHand, HandStarted, JoinTable, LeaveTable,
    PlayerJoined, PlayerLeft, PlayerState, PotResult, StartHand, TableCreated, TableState,
};
use examples::table::{hand_root, Table};
use prost::Name;

use super::{deposit, registration, short_type, words};
use crate::poker::Poker;
use crate::world::Contracts;

// ---- the system ----

#[given("the poker system is running")]
async fn poker(world: &mut Contracts) {
    world.poker = Some(Poker::start().await);
}

fn poker_of(world: &Contracts) -> &Poker {
    world
        .poker
        .as_ref()
        .expect("no poker system: start with `Given the poker system is running`")
}

async fn next(world: &mut Contracts, domain: &str, name: &str) -> u32 {
    super::next_sequence(world, domain, name).await
}

/// Sends `command` to `domain`'s aggregate `name` at its next sequence.
async fn send(
    world: &mut Contracts,
    domain: &str,
    name: &str,
    command: &impl Name,
    mode: SyncMode,
    correlation_id: Option<&str>,
) {
    let root = world.root(name);
    let sequence = next(world, domain, name).await;
    let mut builder = world
        .client()
        .command(domain, root)
        .with_command(command)
        .with_sequence(sequence)
        .with_sync_mode(mode);
    if let Some(correlation_id) = correlation_id {
        builder = builder.with_correlation_id(correlation_id);
    }
    let result = builder.execute().await;
    world.record_command(result);
}

#[track_caller]
fn succeeded(world: &Contracts, what: &str) {
    if let Some(error) = &world.failure {
        panic!("{what} failed: {error}");
    }
}

#[given(expr = "player {string} is funded with {int} chips")]
async fn funded(world: &mut Contracts, name: String, chips: i64) {
    send(
        world,
        "player",
        &name,
        &registration(&name),
        SyncMode::Async,
        None,
    )
    .await;
    succeeded(world, "the registration");
    send(
        world,
        "player",
        &name,
        &deposit(chips),
        SyncMode::Async,
        None,
    )
    .await;
    succeeded(world, "the deposit");
}

fn table(name: &str, small: i64, big: i64, seats: i32, min: i64, max: i64) -> CreateTable {
    CreateTable {
        table_name: name.to_owned(),
        game_variant: 1,
        small_blind: small,
        big_blind: big,
        min_buy_in: min,
        max_buy_in: max,
        max_players: seats,
        action_timeout_seconds: 0,
    }
}

#[given(expr = "table {string} is open for {int} players with buy-ins {int} to {int}")]
async fn open_table(world: &mut Contracts, name: String, seats: i32, min: i64, max: i64) {
    let create = table(&name, 5, 10, seats, min, max);
    send(world, "table", &name, &create, SyncMode::Async, None).await;
    succeeded(world, "opening the table");
}

// ---- the table's commands ----

#[when(regex = r#"^I open table "([^"]*)" with blinds (-?\d+)/(-?\d+) for (-?\d+) players$"#)]
async fn create(world: &mut Contracts, name: String, small: i64, big: i64, seats: i32) {
    let key = if name.is_empty() {
        "unnamed"
    } else {
        name.as_str()
    }
    .to_owned();
    let create = table(&name, small, big, seats, 0, 0);
    send(world, "table", &key, &create, SyncMode::Async, None).await;
}

#[when(
    expr = "I open table {string} with blinds {int}\\/{int} for {int} players and buy-ins {int} to {int}"
)]
async fn create_with_buy_ins(
    world: &mut Contracts,
    name: String,
    small: i64,
    big: i64,
    seats: i32,
    min: i64,
    max: i64,
) {
    let create = table(&name, small, big, seats, min, max);
    send(world, "table", &name, &create, SyncMode::Async, None).await;
}

#[when(expr = "I open table {string} with blinds {int}\\/{int} for {int} players, SIMPLE")]
async fn create_simple(world: &mut Contracts, name: String, small: i64, big: i64, seats: i32) {
    let create = table(&name, small, big, seats, 0, 0);
    send(world, "table", &name, &create, SyncMode::Simple, None).await;
}

fn join(world: &mut Contracts, player: &str, seat: i32, chips: i64) -> JoinTable {
    JoinTable {
        player_root: world.root(player).as_bytes().to_vec(),
        preferred_seat: seat,
        buy_in_amount: chips,
    }
}

#[given(expr = "{string} sits at {string} with {int} chips")]
async fn sits(world: &mut Contracts, player: String, table: String, chips: i64) {
    let join = join(world, &player, 0, chips);
    send(world, "table", &table, &join, SyncMode::Async, None).await;
    succeeded(world, "joining");
}

#[given(expr = "{string} sits at {string} in seat {int} with {int} chips")]
async fn sits_in(world: &mut Contracts, player: String, table: String, seat: i32, chips: i64) {
    let join = join(world, &player, seat, chips);
    send(world, "table", &table, &join, SyncMode::Async, None).await;
    succeeded(world, "joining");
}

#[when(expr = "{string} joins {string} with {int} chips")]
async fn joins(world: &mut Contracts, player: String, table: String, chips: i64) {
    let join = join(world, &player, 0, chips);
    send(world, "table", &table, &join, SyncMode::Async, None).await;
}

#[when(expr = "{string} joins {string} in seat {int} with {int} chips")]
async fn joins_in(world: &mut Contracts, player: String, table: String, seat: i32, chips: i64) {
    let join = join(world, &player, seat, chips);
    send(world, "table", &table, &join, SyncMode::Async, None).await;
}

#[when(expr = "{string} leaves {string}")]
async fn leaves(world: &mut Contracts, player: String, table: String) {
    let leave = LeaveTable {
        player_root: world.root(&player).as_bytes().to_vec(),
    };
    send(world, "table", &table, &leave, SyncMode::Async, None).await;
}

#[when(expr = "{string} leaves {string} with correlation id {string}")]
async fn leaves_correlated(
    world: &mut Contracts,
    player: String,
    table: String,
    correlation: String,
) {
    let leave = LeaveTable {
        player_root: world.root(&player).as_bytes().to_vec(),
    };
    send(
        world,
        "table",
        &table,
        &leave,
        SyncMode::Async,
        Some(&correlation),
    )
    .await;
    succeeded(world, "leaving");
}

#[given(expr = "a hand is being played at {string}")]
async fn playing(world: &mut Contracts, table: String) {
    send(world, "table", &table, &StartHand {}, SyncMode::Async, None).await;
    succeeded(world, "starting a hand");
}

#[when(expr = "a hand starts at {string}")]
async fn hand_starts(world: &mut Contracts, table: String) {
    send(world, "table", &table, &StartHand {}, SyncMode::Async, None).await;
}

async fn table_state(world: &mut Contracts, name: &str) -> TableState {
    let book = super::history(world, "table", name).await;
    let book = EventBook {
        pages: book,
        ..Default::default()
    };
    rebuild(&Table, Some(&book))
        .unwrap_or_else(|error| panic!("the table {name} does not rebuild: {error}"))
        .0
}

#[when(expr = "the hand at {string} ends with {string} winning {int}")]
async fn hand_ends(world: &mut Contracts, table: String, winner: String, chips: i64) {
    let state = table_state(world, &table).await;
    let end = EndHand {
        hand_root: if state.current_hand_root.is_empty() {
            hand_root(&state.table_id, state.hand_count + 1)
        } else {
            state.current_hand_root
        },
        results: vec![PotResult {
            winner_root: world.root(&winner).as_bytes().to_vec(),
            amount: chips,
            pot_type: "main".into(),
            winning_hand: None,
        }],
    };
    send(world, "table", &table, &end, SyncMode::Async, None).await;
}

#[when(expr = "the hand at {string} ends with the root of another hand")]
async fn hand_ends_wrong(world: &mut Contracts, table: String) {
    let state = table_state(world, &table).await;
    let end = EndHand {
        hand_root: hand_root(&state.table_id, state.hand_count + 7),
        results: Vec::new(),
    };
    send(world, "table", &table, &end, SyncMode::Async, None).await;
}

#[when(
    expr = "hand after hand is played at {string}, {string} sitting down in seat {int} after the first"
)]
async fn hands(world: &mut Contracts, table: String, late: String, seat: i32) {
    for number in 1..=4 {
        if number == 2 {
            let join = join(world, &late, seat, 500);
            send(world, "table", &table, &join, SyncMode::Async, None).await;
            succeeded(world, "joining");
        }
        send(world, "table", &table, &StartHand {}, SyncMode::Async, None).await;
        let started: HandStarted = the_event(world);
        world.hands.push((
            started.dealer_position,
            started.small_blind_position,
            started.big_blind_position,
        ));
        let end = EndHand {
            hand_root: started.hand_root,
            results: Vec::new(),
        };
        send(world, "table", &table, &end, SyncMode::Async, None).await;
        succeeded(world, "ending the hand");
    }
}

// ---- what the table answered and holds ----

#[track_caller]
fn the_event<E: Name + Default>(world: &Contracts) -> E {
    let pages = &world.response().events.as_ref().expect("events").pages;
    assert_eq!(pages.len(), 1, "one event per command");
    pages[0].event_as::<E>().expect("the expected event")
}

#[then(expr = "the table event is TableCreated with buy-ins {int} to {int} and a {int} s timeout")]
fn table_created(world: &mut Contracts, min: i64, max: i64, timeout: i32) {
    let created: TableCreated = the_event(world);
    assert_eq!(
        (
            created.min_buy_in,
            created.max_buy_in,
            created.action_timeout_seconds
        ),
        (min, max, timeout)
    );
}

#[then(expr = "the table event is PlayerJoined in seat {int} with {int} chips")]
fn player_joined(world: &mut Contracts, seat: i32, chips: i64) {
    let joined: PlayerJoined = the_event(world);
    assert_eq!(
        (joined.seat_position, joined.buy_in_amount, joined.stack),
        (seat, chips, chips)
    );
}

#[then(expr = "the table event is PlayerLeft from seat {int} cashing out {int} chips")]
fn player_left(world: &mut Contracts, seat: i32, chips: i64) {
    let left: PlayerLeft = the_event(world);
    assert_eq!((left.seat_position, left.chips_cashed_out), (seat, chips));
}

#[then(
    expr = "hand {int} starts with the dealer in seat {int} and the blinds in seats {int} and {int}"
)]
fn hand_started(world: &mut Contracts, number: i64, dealer: i32, small: i32, big: i32) {
    let started: HandStarted = the_event(world);
    assert_eq!(
        (
            started.hand_number,
            started.dealer_position,
            started.small_blind_position,
            started.big_blind_position
        ),
        (number, dealer, small, big)
    );
}

#[then(expr = "the hand's root is the UUIDv5 of {string}")]
fn hand_root_is(world: &mut Contracts, name: String) {
    let started: HandStarted = the_event(world);
    let expected = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, name.as_bytes());
    assert_eq!(started.hand_root, expected.as_bytes().to_vec());
}

#[then(regex = r"^the dealers and blinds were (.+)$")]
fn dealers_and_blinds(world: &mut Contracts, list: String) {
    let expected: Vec<(i32, i32, i32)> = list
        .replace(" and ", ", ")
        .split(", ")
        .map(|triple| {
            let parts: Vec<i32> = triple
                .split('/')
                .map(|n| n.parse().expect("a seat"))
                .collect();
            (parts[0], parts[1], parts[2])
        })
        .collect();
    assert_eq!(world.hands, expected);
}

#[then(regex = r#"^(?:right away )?"([^"]+)" sits in seat (\d+) at "([^"]+)" with (\d+) chips$"#)]
async fn seated(world: &mut Contracts, player: String, seat: i32, table: String, chips: i64) {
    let root = world.root(&player).as_bytes().to_vec();
    let state = table_state(world, &table).await;
    let found = state
        .seats
        .iter()
        .find(|s| s.player_root == root)
        .unwrap_or_else(|| panic!("{player} is not seated at {table}: {:?}", state.seats));
    assert_eq!(
        (found.position, found.stack.as_ref().map_or(0, |c| c.amount)),
        (seat, chips)
    );
}

#[then(regex = r#"^(?:once delivery settles, )?the table "([^"]+)" has (\d+) seats? taken$"#)]
async fn seats_taken(world: &mut Contracts, table: String, count: usize) {
    poker_of(world).settled().await;
    assert_eq!(table_state(world, &table).await.seats.len(), count);
}

// ---- the buy-in workflow ----

#[when(expr = "{string} asks to buy in at {string} for {int} chips as {string}")]
async fn asks_to_buy_in(
    world: &mut Contracts,
    player: String,
    table: String,
    chips: i64,
    workflow: String,
) {
    let request = buy_in_request(
        world.root(&player),
        world.root(&table),
        0,
        chips,
        &workflow,
        SyncMode::Async,
    );
    let answer = world.client().aggregate().handle_event(request).await;
    world.record(answer);
}

#[when(expr = "{string} asks to buy in at {string} for {int} chips as {string}, CASCADE")]
async fn asks_to_buy_in_cascading(
    world: &mut Contracts,
    player: String,
    table: String,
    chips: i64,
    workflow: String,
) {
    let request = buy_in_request(
        world.root(&player),
        world.root(&table),
        0,
        chips,
        &workflow,
        SyncMode::Cascade,
    );
    let answer = world.client().aggregate().handle_event(request).await;
    world.fact_answer = world.record(answer);
}

#[when(
    expr = "{string} asks to buy in at {string} for {int} chips as {string} in workflow {string}"
)]
async fn asks_again(
    world: &mut Contracts,
    player: String,
    table: String,
    chips: i64,
    external_id: String,
    workflow: String,
) {
    let request = BuyInRequested {
        reservation_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
        table_root: world.root(&table).as_bytes().to_vec(),
        seat: 0,
        amount: Some(examples::player::chips(chips)),
        requested_at: None,
    };
    let fact = fact(
        world.root(&player),
        &workflow,
        &external_id,
        angzarr_client::proto::Any::pack(&request),
        SyncMode::Cascade,
    );
    let answer = world.client().aggregate().handle_event(fact).await;
    world.record(answer);
    succeeded(world, "the second request");
}

async fn bought_in(world: &mut Contracts, player: &str, table: &str, chips: i64, workflow: &str) {
    let request = buy_in_request(
        world.root(player),
        world.root(table),
        0,
        chips,
        workflow,
        SyncMode::Cascade,
    );
    let answer = world.client().aggregate().handle_event(request).await;
    world.record(answer);
    succeeded(world, "the buy-in");
    let last = workflow_events(world, workflow).await.pop();
    assert_eq!(
        last.as_deref(),
        Some("BuyInCompleted"),
        "{player}'s buy-in completed"
    );
}

#[given(expr = "{string} has bought in at {string} for {int} chips")]
async fn has_bought_in(world: &mut Contracts, player: String, table: String, chips: i64) {
    let workflow = format!(
        "buy-in-{}-{}",
        player.to_lowercase(),
        uuid::Uuid::new_v4().simple()
    );
    bought_in(world, &player, &table, chips, &workflow).await;
}

#[given(expr = "{string} has bought in at {string} for {int} chips as {string}")]
async fn has_bought_in_as(
    world: &mut Contracts,
    player: String,
    table: String,
    chips: i64,
    workflow: String,
) {
    bought_in(world, &player, &table, chips, &workflow).await;
}

/// Every event of `workflow`, across domains, in the order stored.
async fn workflow_pages(world: &mut Contracts, workflow: &str) -> Vec<(String, EventPage)> {
    poker_of(world).settled().await;
    let query = world
        .client()
        .query_domain("player")
        .by_correlation_id(workflow)
        .build()
        .expect("a query");
    world
        .client()
        .queries()
        .get_events_collected(query)
        .await
        .expect("the workflow reads")
        .into_iter()
        .flat_map(|book| {
            let domain = book.domain().to_owned();
            book.pages
                .into_iter()
                .map(move |page| (domain.clone(), page))
        })
        .collect()
}

/// The buy-in's own events.
async fn workflow_events(world: &mut Contracts, workflow: &str) -> Vec<String> {
    workflow_pages(world, workflow)
        .await
        .into_iter()
        .filter(|(domain, _)| domain == "buy-in")
        .map(|(_, page)| short_type(&page))
        .collect()
}

#[then(expr = "the workflow {string} ends BuyInCompleted")]
async fn workflow_completed(world: &mut Contracts, workflow: String) {
    let events = workflow_events(world, &workflow).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("BuyInCompleted"),
        "{events:?}"
    );
}

#[then(expr = "the workflow {string} ends BuyInFailed with {word} {string}")]
async fn workflow_failed(world: &mut Contracts, workflow: String, code: String, message: String) {
    let pages = workflow_pages(world, &workflow).await;
    let failed: BuyInFailed = pages
        .iter()
        .rev()
        .find(|(domain, _)| domain == "buy-in")
        .expect("the workflow has events")
        .1
        .event_as()
        .expect("it ends with BuyInFailed");
    let failure = failed.failure.expect("a failure");
    assert_eq!((failure.code, failure.message), (code, message));
}

#[then(regex = r#"^the workflow "([^"]+)" reads (.+)$"#)]
async fn workflow_reads(world: &mut Contracts, workflow: String, events: String) {
    let found: Vec<String> = workflow_pages(world, &workflow)
        .await
        .iter()
        .map(|(_, page)| short_type(page))
        .collect();
    assert_eq!(found, words(&events));
}

#[then(
    regex = r#"^(?:once delivery settles, )?"([^"]+)" has (\d+) chips reserved and (\d+) available$"#
)]
async fn reservation(world: &mut Contracts, player: String, reserved: i64, available: i64) {
    poker_of(world).settled().await;
    let pages = super::history(world, "player", &player).await;
    let book = EventBook {
        pages,
        ..Default::default()
    };
    let (state, _): (PlayerState, u32) =
        rebuild(&Player, Some(&book)).expect("the player rebuilds");
    assert_eq!(
        (state.reserved(), state.available().expect("in range")),
        (reserved, available)
    );
}

#[then(expr = "the release of {string} carries correlation id {string}")]
async fn release_correlated(world: &mut Contracts, player: String, correlation: String) {
    let root = world.root(&player);
    let pages = workflow_pages(world, &correlation).await;
    assert!(
        pages
            .iter()
            .any(|(domain, page)| domain == "player" && short_type(page) == "FundsReleased"),
        "{root}: {:?}",
        pages
            .iter()
            .map(|(d, p)| (d.clone(), short_type(p)))
            .collect::<Vec<_>>()
    );
}

#[when(expr = "{string} is reported sitting out at {string}")]
async fn reported_sitting_out(world: &mut Contracts, player: String, table: String) {
    let correlation = format!("sit-out-{}", player.to_lowercase());
    let fact = sitting_out(
        world.root(&player),
        world.root(&table),
        &correlation,
        SyncMode::Async,
    );
    let answer = world.client().aggregate().handle_event(fact).await;
    world.record(answer);
    succeeded(world, "the report");
}

// ---- projections ----

fn cloud_events(projections: &[angzarr_client::proto::Projection]) -> Vec<serde_json::Value> {
    let pool = DescriptorPool::decode(examples::FILE_DESCRIPTOR_SET).expect("the descriptors");
    projections
        .iter()
        .filter(|p| p.projector == "poker-events")
        .filter_map(|p| p.projection.as_ref())
        .filter_map(|any| any.unpack::<CloudEventsResponse>().ok())
        .flat_map(|response| response.events)
        .map(|event| to_json(&event, &pool).expect("renders as JSON"))
        .collect()
}

#[then(expr = "the answer holds projections of {string} and {string}")]
fn projections_of(world: &mut Contracts, first: String, second: String) {
    let names: Vec<&str> = world
        .response()
        .projections
        .iter()
        .map(|p| p.projector.as_str())
        .collect();
    assert!(
        names.contains(&first.as_str()) && names.contains(&second.as_str()),
        "{names:?}"
    );
}

#[then(expr = "the CloudEvent in the answer has type {string} and source {string}")]
fn cloud_event_in_answer(world: &mut Contracts, kind: String, source: String) {
    let events = cloud_events(&world.response().projections);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], kind.as_str());
    assert_eq!(events[0]["source"], source.as_str());
    assert_eq!(events[0]["specversion"], "1.0");
}

#[then(expr = "the answer holds a CloudEvent of type {string} with correlation id {string}")]
fn cloud_event_in_fact_answer(world: &mut Contracts, kind: String, correlation: String) {
    let answer: &FactInjectionResponse = world.fact_answer.as_ref().expect("the buy-in's answer");
    let events = cloud_events(&answer.projections);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == kind.as_str() && e["correlationid"] == correlation.as_str()),
        "{events:#?}"
    );
}

// ---- the read model ----

#[then(expr = "the read model shows {string} in seat {int} at {string} with {int} chips")]
async fn read_model_seat(
    world: &mut Contracts,
    player: String,
    seat: i32,
    table: String,
    chips: i64,
) {
    poker_of(world).settled().await;
    let player_root = identity::hex(world.root(&player).as_bytes());
    let table_root = world.root(&table).simple().to_string();
    let tables = poker_of(world)
        .seating()
        .tables()
        .expect("the read model reads");
    let row = tables
        .iter()
        .find(|row| row.root == table_root)
        .unwrap_or_else(|| panic!("no table {table} in {tables:?}"));
    assert!(
        row.seats.contains(&(seat, player_root, chips)),
        "{:?}",
        row.seats
    );
}

#[then(expr = "the read model shows {int} seat(s) at {string}")]
async fn read_model_seats(world: &mut Contracts, count: usize, table: String) {
    poker_of(world).settled().await;
    let table_root = world.root(&table).simple().to_string();
    let tables = poker_of(world)
        .seating()
        .tables()
        .expect("the read model reads");
    let row = tables
        .iter()
        .find(|row| row.root == table_root)
        .expect("the table");
    assert_eq!(row.seats.len(), count, "{:?}", row.seats);
}

#[when("the read model is given the table's books again")]
async fn redeliver(world: &mut Contracts) {
    poker_of(world).settled().await;
    let root = world.root("Main");
    let pages = super::history(world, "table", "Main").await;
    let target = Target::parse(&poker_of(world).endpoint("table-seating")).expect("an endpoint");
    let channel = connect(&target, &ConnectOptions::default())
        .await
        .expect("the projector answers");
    let mut projector = ProjectorServiceClient::new(channel);
    for page in pages {
        let book = EventBook {
            cover: Some(angzarr_client::proto::Cover::new("table", root)),
            snapshot: None,
            next_sequence: page.sequence().unwrap_or_default() + 1,
            pages: vec![page],
        };
        projector
            .handle(book)
            .await
            .expect("the projector takes it again");
    }
}

// ---- upcasting ----

#[given(expr = "{string} was registered by an older version of the player")]
fn old_player(world: &mut Contracts, name: String) {
    let old = v1::PlayerRegistered {
        display_name: name.clone(),
        email: format!("{}@example.com", name.to_lowercase()),
        registered_at: None,
    };
    let root = world.root(&name);
    let page = EventPage::new(0, angzarr_client::proto::Any::pack(&old));
    crate::bank::store_pages(poker_of(world).store.as_ref(), root, &[page]);
}
