//! Commands through the builder and the aggregate client.

use angzarr_client::proto::{
    page_header, AnyExt, Cover, EventBook, EventPage, EventRequest, ExternalDeferredSequence,
    PageHeader,
};
use angzarr_client::{CommandBuilder, ConnectOptions, DomainClient, Target};
use examples::player::chips;
use examples::proto::{FundsDeposited, ReleaseFunds, SitIn};
use prost_types::Any;

use super::{deposit, merge_strategy, next_sequence, registration, sync_mode, withdrawal};
use crate::world::Contracts;
use cucumber::{given, then, when};

#[when(expr = "the aggregate client handles a command book registering {string}")]
async fn handle_book(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let book = world
        .client()
        .command("player", root)
        .with_command(&registration(&name))
        .build()
        .expect("a complete command");
    let result = world.client().aggregate().handle(book).await;
    world.record_command(result);
}

#[when(
    expr = "the aggregate client handles a command request depositing {int} chips for {string} with sync mode {word}"
)]
async fn handle_request(world: &mut Contracts, amount: i64, name: String, mode: String) {
    let root = world.root(&name);
    let sequence = next_sequence(world, "player", &name).await;
    let request = world
        .client()
        .command("player", root)
        .with_command(&deposit(amount))
        .with_sequence(sequence)
        .with_sync_mode(sync_mode(&mode))
        .build_request()
        .expect("a complete command");
    assert_eq!(request.sync_mode, sync_mode(&mode) as i32);
    let result = world.client().aggregate().handle_command(request).await;
    world.record_command(result);
}

fn fact(root: uuid::Uuid, external_id: Option<&str>, event: Any) -> EventRequest {
    let mut page = EventPage::new(0, event);
    page.header = external_id.map(|external_id| PageHeader {
        sequence_type: Some(page_header::SequenceType::ExternalDeferred(
            ExternalDeferredSequence {
                external_id: external_id.to_owned(),
                description: "a bank transfer".to_owned(),
            },
        )),
    });
    EventRequest {
        events: Some(EventBook {
            cover: Some(Cover::new("player", root)),
            pages: vec![page],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Delivers a fact through the aggregate client, recording whether it had
/// already been processed.
pub async fn deliver(world: &mut Contracts, name: &str, external_id: Option<&str>, event: Any) {
    let root = world.root(name);
    let result = world
        .client()
        .aggregate()
        .handle_event(fact(root, external_id, event))
        .await;
    if let Some(response) = world.record(result) {
        world.facts.push(response.already_processed);
    }
}

#[when(expr = "the aggregate client delivers the fact {string} depositing {int} chips to {string}")]
async fn deliver_fact(world: &mut Contracts, external_id: String, amount: i64, name: String) {
    let event = Any::pack(&FundsDeposited {
        amount: Some(chips(amount)),
        new_balance: Some(chips(amount)),
        deposited_at: None,
    });
    deliver(world, &name, Some(&external_id), event).await;
}

#[when(expr = "the aggregate client delivers a fact without an external id to {string}")]
async fn deliver_unmarked_fact(world: &mut Contracts, name: String) {
    deliver(world, &name, None, Any::pack(&deposit(1))).await;
}

#[when(expr = "I build a command for {string} without a message")]
async fn build_empty(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let built = world.client().command("player", root).build();
    if let Some(book) = world.record(built) {
        world.built.push(book);
    }
}

#[when(
    expr = "I build a DepositFunds of {int} chips for {string} at sequence {int} with correlation id {string} and merge strategy {word}"
)]
async fn build_full(
    world: &mut Contracts,
    amount: i64,
    name: String,
    sequence: u32,
    correlation_id: String,
    strategy: String,
) {
    let root = world.root(&name);
    let built = world
        .client()
        .command("player", root)
        .with_command(&deposit(amount))
        .with_sequence(sequence)
        .with_correlation_id(correlation_id)
        .with_merge_strategy(merge_strategy(&strategy))
        .build();
    if let Some(book) = world.record(built) {
        world.built.push(book);
    }
}

#[when(expr = "I build a RegisterPlayer for {string} twice")]
async fn build_twice(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let builder = world
        .client()
        .command("player", root)
        .with_command(&registration(&name));
    for _ in 0..2 {
        let book = builder.build().expect("a complete command");
        world.built.push(book);
    }
}

/// Sends a command for `name` through the builder.
async fn send(
    world: &mut Contracts,
    domain: &str,
    name: &str,
    command: Any,
    sequence: u32,
    strategy: Option<&str>,
) {
    let root = world.root(name);
    let mut builder = world
        .client()
        .command(domain, root)
        .with_any(command)
        .with_sequence(sequence);
    if let Some(strategy) = strategy {
        builder = builder.with_merge_strategy(merge_strategy(strategy));
    }
    let result = builder.execute().await;
    world.record_command(result);
}

#[when(expr = "I deposit {int} chips for {string} expecting sequence {int}")]
async fn deposit_at(world: &mut Contracts, amount: i64, name: String, sequence: u32) {
    send(
        world,
        "player",
        &name,
        Any::pack(&deposit(amount)),
        sequence,
        None,
    )
    .await;
}

#[when(
    expr = "I deposit {int} chips for {string} expecting sequence {int} with merge strategy {word}"
)]
async fn deposit_with_strategy(
    world: &mut Contracts,
    amount: i64,
    name: String,
    sequence: u32,
    strategy: String,
) {
    let command = Any::pack(&deposit(amount));
    send(world, "player", &name, command, sequence, Some(&strategy)).await;
}

#[when(
    expr = "I deposit {int} chips for {string} expecting sequence {int}, retrying up to {int} time(s)"
)]
async fn deposit_retrying(
    world: &mut Contracts,
    amount: i64,
    name: String,
    sequence: u32,
    attempts: u32,
) {
    let root = world.root(&name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&deposit(amount))
        .with_sequence(sequence)
        .with_merge_strategy(merge_strategy("STRICT"))
        .execute_retrying(attempts, |_| Ok(deposit(amount)))
        .await;
    world.record_command(result);
}

#[when(expr = "I deposit {int} chips in domain {string} for {string}")]
async fn deposit_in_domain(world: &mut Contracts, amount: i64, domain: String, name: String) {
    send(world, &domain, &name, Any::pack(&deposit(amount)), 1, None).await;
}

#[when(expr = "I withdraw {int} chips from {string} expecting sequence {int}")]
async fn withdraw_at(world: &mut Contracts, amount: i64, name: String, sequence: u32) {
    send(
        world,
        "player",
        &name,
        Any::pack(&withdrawal(amount)),
        sequence,
        None,
    )
    .await;
}

#[when(expr = "I release the reservation of {string} for table {string} expecting sequence {int}")]
async fn release_at(world: &mut Contracts, name: String, table: String, sequence: u32) {
    let table_root = world.root(&table).as_bytes().to_vec();
    let command = Any::pack(&ReleaseFunds { table_root });
    send(world, "player", &name, command, sequence, None).await;
}

#[when(expr = "I register {string} again")]
async fn register_again(world: &mut Contracts, name: String) {
    let sequence = next_sequence(world, "player", &name).await;
    send(
        world,
        "player",
        &name,
        Any::pack(&registration(&name)),
        sequence,
        None,
    )
    .await;
}

#[when("I register a player under a fresh root")]
async fn register_fresh(world: &mut Contracts) {
    let result = world
        .client()
        .command_new("player")
        .with_command(&registration("Fresh"))
        .execute()
        .await;
    world.record_command(result);
}

#[when(expr = "I register {string} with a RegisterPlayer packed by hand")]
async fn register_packed(world: &mut Contracts, name: String) {
    let packed = Any {
        type_url: "type.googleapis.com/examples.RegisterPlayer".to_owned(),
        value: prost::Message::encode_to_vec(&registration(&name)),
    };
    send(world, "player", &name, packed, 0, None).await;
}

/// Registers `name` with the builder options `configure` adds.
async fn register_with(
    world: &mut Contracts,
    name: &str,
    configure: impl FnOnce(CommandBuilder) -> CommandBuilder,
) {
    let root = world.root(name);
    let builder = world
        .client()
        .command("player", root)
        .with_command(&registration(name));
    let result = configure(builder).execute().await;
    world.record_command(result);
}

#[when(expr = "I register {string} with correlation id {string}")]
async fn register_correlated(world: &mut Contracts, name: String, correlation_id: String) {
    register_with(world, &name, |command| {
        command.with_correlation_id(correlation_id)
    })
    .await;
}

#[when(expr = "I register {string} in edition {string}")]
async fn register_in_edition(world: &mut Contracts, name: String, edition: String) {
    register_with(world, &name, |command| command.with_edition(edition)).await;
}

#[when(expr = "I register {string} and deposit {int} chips for her")]
async fn register_and_deposit(world: &mut Contracts, name: String, amount: i64) {
    let root = world.root(&name);
    let client = world.client().clone();
    let registered = client
        .command("player", root)
        .with_command(&registration(&name))
        .execute()
        .await;
    world.record_command(registered);
    let deposited = client
        .command("player", root)
        .with_command(&deposit(amount))
        .with_sequence(1)
        .execute()
        .await;
    world.record_command(deposited);
}

#[when(expr = "a clone of the client registers {string}")]
async fn clone_registers(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let clone = world.client().clone();
    let result = clone
        .command("player", root)
        .with_command(&registration(&name))
        .execute()
        .await;
    world.record_command(result);
}

#[when(expr = "I deposit {int} chips for {string} with the domain client's aggregate client")]
async fn deposit_through_aggregate_client(world: &mut Contracts, amount: i64, name: String) {
    let root = world.root(&name);
    let sequence = next_sequence(world, "player", &name).await;
    let book = world
        .client()
        .command("player", root)
        .with_command(&deposit(amount))
        .with_sequence(sequence)
        .build()
        .expect("a complete command");
    let result = world.client().aggregate().handle(book).await;
    world.record_command(result);
}

#[when(
    expr = "{int} clients each deposit {int} chip(s) for {string} {int} times, retrying conflicts"
)]
async fn concurrent_deposits(
    world: &mut Contracts,
    writers: usize,
    amount: i64,
    name: String,
    times: usize,
) {
    let root = world.root(&name);
    let address = world.env().tcp_address().to_string();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let address = address.clone();
        tasks.push(tokio::spawn(async move {
            let client = DomainClient::connect(&address).await?;
            for _ in 0..times {
                client
                    .command("player", root)
                    .with_command(&deposit(amount))
                    .with_merge_strategy(merge_strategy("STRICT"))
                    .execute_retrying(1_000, |_| Ok(deposit(amount)))
                    .await?;
            }
            Ok::<(), angzarr_client::ClientError>(())
        }));
    }
    for (writer, task) in tasks.into_iter().enumerate() {
        task.await
            .expect("a writer panicked")
            .unwrap_or_else(|error| panic!("writer {writer} failed: {error}"));
    }
}

#[given(expr = "a client whose calls time out after {int} ms")]
async fn impatient_client(world: &mut Contracts, millis: u64) {
    let target = Target::parse(&world.env().tcp_address().to_string()).expect("a valid target");
    let options = ConnectOptions {
        call_timeout: Some(std::time::Duration::from_millis(millis)),
        ..Default::default()
    };
    let connected = DomainClient::connect_with(&target, &options).await;
    world.connected = world.record(connected);
}

#[when("that client sends a command to the slow domain")]
async fn slow_command(world: &mut Contracts) {
    let client = world.connected.clone().expect("a connected client");
    let result = client
        .command_new("slow")
        .with_command(&SitIn {
            table_root: vec![7],
        })
        .execute()
        .await;
    world.record_command(result);
}

#[when("angzarr-local stops")]
async fn coordinator_stops(world: &mut Contracts) {
    world
        .env
        .as_mut()
        .expect("a running coordinator")
        .stop()
        .await;
}

#[then("the first delivery was stored and the second was already processed")]
fn delivered_once(world: &mut Contracts) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    assert_eq!(world.facts, [false, true]);
}

fn built(world: &Contracts) -> &angzarr_client::proto::CommandBook {
    if let Some(error) = &world.failure {
        panic!("building failed: {error}");
    }
    world.built.last().expect("a command was built")
}

fn only_page(world: &Contracts) -> &angzarr_client::proto::CommandPage {
    let pages = &built(world).pages;
    assert_eq!(pages.len(), 1, "{pages:?}");
    &pages[0]
}

#[then(
    expr = "the built command names domain {string}, the root of {string} and correlation id {string}"
)]
fn built_cover(world: &mut Contracts, domain: String, name: String, correlation_id: String) {
    let root = world.root(&name);
    let cover = built(world).cover.as_ref().expect("a cover");
    assert_eq!(cover.domain, domain);
    assert_eq!(cover.root_uuid().expect("a valid root"), root);
    assert_eq!(cover.correlation_id, correlation_id);
}

#[then(expr = "the built command's only page expects sequence {int} with merge strategy {word}")]
fn built_page(world: &mut Contracts, sequence: u32, strategy: String) {
    let page = only_page(world);
    assert_eq!(page.expected_sequence(), sequence);
    assert_eq!(page.merge_strategy, merge_strategy(&strategy) as i32);
}

#[then(expr = "the built command's only page carries a {word}")]
fn built_payload(world: &mut Contracts, command: String) {
    let payload = only_page(world).command().expect("a command payload");
    assert_eq!(payload.type_name(), format!("examples.{command}"));
}

#[then("the two built commands have different, non-empty correlation ids")]
fn built_correlations(world: &mut Contracts) {
    let ids: Vec<&str> = world
        .built
        .iter()
        .map(|book| book.correlation_id())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
}
