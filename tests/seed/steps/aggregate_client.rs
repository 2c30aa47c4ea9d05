//! `aggregate_client.feature`: commands through the aggregate client.

use std::time::Duration;

use angzarr_client::proto::{AnyExt, SyncMode};
use angzarr_client::ConnectOptions;
use cucumber::{given, then, when};
use prost_types::Any;

use super::{
    answered_pages, is_kind, numbers, order_command, order_with_events, send, short_type, stored,
};
use crate::domains::{AddItems, CreateOrder, InventoryReserved};
use crate::world::Seed;

#[given(
    regex = r"^an? (?:AggregateClient|QueryClient|SpeculativeClient) connected to the test backend$"
)]
async fn connected(world: &mut Seed) {
    let roots = world.stored_roots().await;
    assert!(
        roots.is_empty(),
        "a fresh backend holds no aggregates: {roots:?}"
    );
}

#[given(expr = "a new aggregate root in domain {string}")]
fn new_root(world: &mut Seed, domain: String) {
    world.subject = Some((domain, "new".to_owned()));
    world.sequence = 0;
}

#[given(regex = r#"^an aggregate "([^"]+)" with root "([^"]+)" at sequence (\d+)$"#)]
async fn at_sequence(world: &mut Seed, domain: String, name: String, sequence: u32) {
    order_with_events(world, &domain, &name, sequence).await;
}

#[given(regex = r#"^an aggregate "([^"]+)" with root "([^"]+)"$"#)]
fn named_root(world: &mut Seed, domain: String, name: String) {
    world.subject = Some((domain, name));
    world.sequence = 0;
}

#[given(expr = "no aggregate exists for domain {string} root {string}")]
async fn no_aggregate(world: &mut Seed, domain: String, name: String) {
    assert!(stored(world, &domain, &name).await.is_empty());
    world.subject = Some((domain, name));
}

/// Sends `command` to the subject at `sequence`, with `correlation_id`.
async fn execute(world: &mut Seed, command: Any, sequence: u32, correlation_id: Option<&str>) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    let mut builder = client
        .command(&domain, root)
        .with_any(command.clone())
        .with_sequence(sequence);
    if let Some(id) = correlation_id {
        builder = builder.with_correlation_id(id);
    }
    world.command = Some(command);
    world.outcome = Some(builder.execute().await);
}

/// The command a step leaves unnamed: an item for an order that exists,
/// else the order's creation.
fn natural_command(world: &Seed) -> Any {
    if world.sequence == 0 {
        order_command("CreateOrder", "customer-1")
    } else {
        order_command("AddItem", "widget")
    }
}

#[when(expr = "I execute a {string} command with data {string}")]
async fn execute_with_data(world: &mut Seed, name: String, data: String) {
    let sequence = world.sequence;
    execute(world, order_command(&name, &data), sequence, None).await;
}

#[when(expr = "I execute a {string} command at sequence {int}")]
async fn execute_named_at(world: &mut Seed, name: String, sequence: u32) {
    execute(world, order_command(&name, "widget"), sequence, None).await;
}

#[when(expr = "I execute a {string} command for root {string} at sequence {int}")]
async fn execute_for_root(world: &mut Seed, name: String, root: String, sequence: u32) {
    let domain = world
        .subject
        .clone()
        .map_or("orders".to_owned(), |(domain, _)| domain);
    world.subject = Some((domain, root));
    execute(world, order_command(&name, "customer-1"), sequence, None).await;
}

#[when(expr = "I execute a command at sequence {int}")]
async fn execute_at(world: &mut Seed, sequence: u32) {
    let command = natural_command(world);
    execute(world, command, sequence, None).await;
}

#[when(expr = "I execute a command with correlation ID {string}")]
async fn execute_correlated(world: &mut Seed, correlation_id: String) {
    let (command, sequence) = (natural_command(world), world.sequence);
    execute(world, command, sequence, Some(&correlation_id)).await;
}

#[then("the command should succeed")]
fn succeeds(world: &mut Seed) {
    let response = world.response();
    assert!(!answered_pages(response).is_empty(), "{response:?}");
}

#[then(regex = r"^the response should contain (\d+) events?$")]
fn contains_events(world: &mut Seed, count: usize) {
    assert_eq!(answered_pages(world.response()).len(), count);
}

#[then(expr = "the event should have type {string}")]
fn event_type(world: &mut Seed, name: String) {
    let pages = answered_pages(world.response());
    assert_eq!(pages.len(), 1);
    assert_eq!(short_type(&pages[0]), name);
}

#[then(expr = "the response should contain events starting at sequence {int}")]
fn starting_at(world: &mut Seed, sequence: u32) {
    let pages = answered_pages(world.response());
    assert_eq!(
        pages.first().and_then(|page| page.sequence()),
        Some(sequence)
    );
}

#[then(expr = "the response events should have correlation ID {string}")]
fn correlated(world: &mut Seed, correlation_id: String) {
    let events = world.response().events.as_ref().expect("events");
    assert_eq!(
        events
            .cover
            .as_ref()
            .map(|cover| cover.correlation_id.as_str()),
        Some(correlation_id.as_str())
    );
}

#[then(regex = r"^the command should fail with (precondition|invalid argument) error$")]
fn fails_with(world: &mut Seed, kind: String) {
    let error = world.command_error();
    assert!(is_kind(error, &kind), "{error:?}");
}

#[then("the command should fail")]
fn fails(world: &mut Seed) {
    world.command_error();
}

#[then("the error should indicate sequence mismatch")]
fn sequence_mismatch(world: &mut Seed) {
    let error = world.command_error();
    assert!(error.is_sequence_conflict(), "{error:?}");
}

#[then("the error message should describe the missing field")]
fn names_missing_field(world: &mut Seed) {
    let message = world.command_error().message();
    assert!(message.contains("customer_id"), "{message}");
}

#[then("the error should indicate unknown domain")]
fn unknown_domain(world: &mut Seed) {
    let error = world.command_error();
    assert!(error.is_not_found(), "{error:?}");
    assert!(error.message().contains("nonexistent"), "{error}");
}

#[when(expr = "two commands are sent concurrently at sequence {int}")]
async fn concurrently(world: &mut Seed, sequence: u32) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    let command = natural_command(world);
    let (a, b) = tokio::join!(
        send(&client, &domain, root, sequence, command.clone()),
        send(&client, &domain, root, sequence, command),
    );
    world.results = vec![a, b];
}

#[then("one should succeed")]
fn one_succeeds(world: &mut Seed) {
    assert_eq!(
        world.results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        world.results
    );
}

#[then("one should fail with precondition error")]
fn one_fails(world: &mut Seed) {
    let failed: Vec<_> = world
        .results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].is_precondition_failed(), "{:?}", failed[0]);
}

#[when(expr = "I query the current sequence for {string} root {string}")]
async fn current_sequence(world: &mut Seed, domain: String, name: String) {
    let root = world.root(&name);
    world.sequence = world
        .client()
        .await
        .next_sequence(&domain, root)
        .await
        .expect("the sequence is read");
}

#[when("I retry the command at the correct sequence")]
async fn retry(world: &mut Seed) {
    let command = world.command.clone().expect("a command was sent");
    let sequence = world.sequence;
    execute(world, command, sequence, None).await;
}

#[when("I execute a command asynchronously")]
async fn asynchronously(world: &mut Seed) {
    // With a projector subscribed, so that not waiting for it shows.
    world.with_components(|components| components.projector = true);
    sync_mode(world, "ASYNC".to_owned()).await;
}

#[then("the response should return without waiting for projectors")]
async fn did_not_wait(world: &mut Seed) {
    let response = world.response();
    assert!(!answered_pages(response).is_empty());
    assert!(
        response.projections.is_empty(),
        "{:?}",
        response.projections
    );
    // The projector does run, afterwards.
    let backend = world.backend().await;
    backend.settled().await;
    assert!(!backend
        .summaries
        .written
        .lock()
        .expect("not poisoned")
        .is_empty());
}

#[given(expr = "projectors are configured for {string} domain")]
fn projectors(world: &mut Seed, domain: String) {
    assert_eq!(domain, "orders", "the order-summary projector reads orders");
    world.with_components(|components| components.projector = true);
}

#[given(expr = "sagas are configured for {string} domain")]
fn sagas(world: &mut Seed, domain: String) {
    assert_eq!(domain, "orders", "the order-fulfillment saga reads orders");
    world.with_components(|components| components.saga = true);
}

#[when(expr = "I execute a command with sync mode {word}")]
async fn sync_mode(world: &mut Seed, mode: String) {
    let mode = SyncMode::from_str_name(&format!("SYNC_MODE_{mode}")).expect("a sync mode");
    let (domain, root) = world.subject();
    let client = world.client().await;
    let result = client
        .command(&domain, root)
        .with_command(&CreateOrder {
            customer_id: "customer-1".into(),
        })
        .with_sync_mode(mode)
        .execute()
        .await;
    world.outcome = Some(result);
}

#[then("the response should include projector results")]
fn projector_results(world: &mut Seed) {
    let projections = &world.response().projections;
    assert_eq!(projections.len(), 1, "{projections:?}");
    assert_eq!(projections[0].projector, "order-summary");
    assert!(projections[0].projection.is_some());
}

#[then("the response should include downstream saga results")]
async fn saga_results(world: &mut Seed) {
    let response = world.response().clone();
    assert!(
        response.cascade_errors.is_empty(),
        "{:?}",
        response.cascade_errors
    );
    // The saga's command has run by the time the answer came: the
    // inventory of the same root already holds the reservation.
    let (_, root) = world.subject();
    let pages = world
        .client()
        .await
        .query("inventory", root)
        .get_pages()
        .await
        .expect("inventory is read");
    assert_eq!(pages.len(), 1);
    assert!(pages[0]
        .event()
        .is_some_and(|event| event.is::<InventoryReserved>()));
}

#[when("I execute a command with malformed payload")]
async fn malformed(world: &mut Seed) {
    let command = Any {
        type_url: angzarr_client::proto::type_url::of::<CreateOrder>(),
        value: vec![0xff, 0xff, 0xff],
    };
    execute(world, command, 0, None).await;
}

#[when("I execute a command without required fields")]
async fn without_required(world: &mut Seed) {
    execute(world, order_command("CreateOrder", ""), 0, None).await;
}

#[when(expr = "I execute a command to domain {string}")]
async fn to_domain(world: &mut Seed, domain: String) {
    world.subject = Some((domain, "anywhere".into()));
    execute(world, order_command("CreateOrder", "customer-1"), 0, None).await;
}

#[when(expr = "I execute a command that produces {int} events")]
async fn produces(world: &mut Seed, count: u32) {
    let sequence = world.sequence;
    execute(world, Any::pack(&AddItems { count }), sequence, None).await;
}

#[then(expr = "events should have sequences {}")]
fn sequences(world: &mut Seed, list: String) {
    let sequences: Vec<u32> = answered_pages(world.response())
        .iter()
        .filter_map(|page| page.sequence())
        .collect();
    assert_eq!(sequences, numbers(&list));
}

#[then(expr = "I should see all {int} events or none")]
fn all_or_none(world: &mut Seed, count: usize) {
    let answered = answered_pages(world.response()).len();
    let stored = world.book.as_ref().expect("a query ran").pages.len();
    assert_eq!(answered, count);
    assert_eq!(stored, answered, "the command's events are stored together");
}

#[given("the aggregate service is unavailable")]
async fn unavailable(world: &mut Seed) {
    world.connected = Some(super::unreachable_client().await);
}

#[when("I attempt to execute a command")]
async fn attempt(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let result = client
        .command_new("orders")
        .with_any(order_command("CreateOrder", "customer-1"))
        .execute()
        .await;
    world.outcome = Some(result);
}

#[then("the aggregate operation should fail with connection error")]
fn connection_error(world: &mut Seed) {
    let error = world.command_error();
    assert!(error.is_connection_error(), "{error:?}");
}

#[given("the aggregate service is slow to respond")]
fn slow(world: &mut Seed) {
    world.subject = Some(("slow".into(), "slow-order".into()));
}

#[when(regex = r"^I execute a command with timeout (\d+)ms$")]
async fn with_timeout(world: &mut Seed, millis: u64) {
    let options = ConnectOptions {
        call_timeout: Some(Duration::from_millis(millis)),
        ..Default::default()
    };
    let client = world.connect_with(options).await;
    let (domain, root) = world.subject();
    assert!(Duration::from_millis(millis) < crate::domains::SLOW);
    let result = client
        .command(&domain, root)
        .with_any(order_command("CreateOrder", "customer-1"))
        .execute()
        .await;
    world.outcome = Some(result);
}

#[then(
    regex = r"^the operation should fail with (connection|invalid argument|timeout or deadline|validation) error$"
)]
fn operation_fails(world: &mut Seed, kind: String) {
    let error = world.error();
    assert!(is_kind(error, &kind), "{error:?}");
}

#[then(expr = "the aggregate should now exist with {int} event(s)")]
async fn now_exists(world: &mut Seed, count: usize) {
    let (domain, name) = world.subject.clone().expect("a subject");
    assert_eq!(stored(world, &domain, &name).await.len(), count);
}
