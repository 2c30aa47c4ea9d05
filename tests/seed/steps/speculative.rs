//! `speculative_client.feature`: dry runs of aggregates, projectors, sagas
//! and process managers through angzarr-local.

use angzarr_client::proto::{
    page_header, AnyExt, Cover, EventBook, EventPage, ProcessManagerHandleRequest,
    SagaHandleRequest, SpeculateCommandHandlerRequest, SpeculatePmRequest,
    SpeculateProjectorRequest, SpeculateSagaRequest,
};
use angzarr_client::PointInTime;
use cucumber::{given, then, when};
use prost_types::Any;

use super::{order_command, stored};
use crate::domains::{
    AddItems, CreateOrder, InventoryReserved, ItemAdded, OrderCreated, OrderSummary, ReserveStock,
    ShipOrder,
};
use crate::world::Seed;

/// Runs `command` against the subject's history as of `at` (its latest
/// event when `None`).
async fn speculate(world: &mut Seed, command: Any, at: Option<u32>) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    let next = client.next_sequence(&domain, root).await.expect("read");
    let at = at.unwrap_or(next.saturating_sub(1));
    world.outcome = Some(
        client
            .command(&domain, root)
            .with_any(command)
            .with_sequence(at + 1)
            .speculate(PointInTime::AsOfSequence(at))
            .await,
    );
}

#[when(expr = "I speculatively execute a command against {string} root {string}")]
async fn against(world: &mut Seed, domain: String, name: String) {
    world.subject = Some((domain, name));
    speculate(world, order_command("AddItem", "speculated"), None).await;
}

#[then("the response should contain the projected events")]
fn projected(world: &mut Seed) {
    let pages = world.response().pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        pages[0].event_as::<ItemAdded>().expect("an item").item,
        "speculated"
    );
}

#[then("the events should NOT be persisted")]
async fn not_persisted(world: &mut Seed) {
    let stored_count = world.sequence as usize;
    let (domain, name) = world.subject.clone().expect("a subject");
    assert_eq!(stored(world, &domain, &name).await.len(), stored_count);
}

#[when(expr = "I speculatively execute a command as of sequence {int}")]
async fn as_of(world: &mut Seed, at: u32) {
    speculate(world, order_command("AddItem", "speculated"), Some(at)).await;
    world.counts.insert("as of", at as usize);
}

#[then("the command should execute against the historical state")]
fn historical(world: &mut Seed) {
    let at = world.counts["as of"] as u32;
    assert_eq!(world.response().pages()[0].sequence(), Some(at + 1));
}

#[then(expr = "the response should reflect state at sequence {int}")]
async fn state_at(world: &mut Seed, at: u32) {
    // The history as of `at` had `at + 1` events; the answer follows them,
    // while the stored history is still whole.
    assert_eq!(world.response().pages()[0].sequence(), Some(at + 1));
    not_persisted(world).await;
}

#[given(expr = "an aggregate {string} with root {string} in state {string}")]
async fn in_state(world: &mut Seed, domain: String, name: String, state: String) {
    assert_eq!(state, "shipped");
    super::order_with_events(world, &domain, &name, 1).await;
    let root = world.root(&name);
    let client = world.client().await;
    super::send(
        &client,
        &domain,
        root,
        1,
        Any::pack(&ShipOrder {
            carrier: "post".into(),
        }),
    )
    .await
    .expect("shipped");
    world.sequence = 2;
}

#[when(expr = "I speculatively execute a {string} command")]
async fn named_command(world: &mut Seed, name: String) {
    speculate(world, order_command(&name, "changed my mind"), None).await;
}

#[then("the response should indicate rejection")]
fn rejection(world: &mut Seed) {
    let error = world.command_error();
    assert!(error.is_rejection(), "{error:?}");
}

#[then(expr = "the rejection reason should be {string}")]
fn reason(world: &mut Seed, text: String) {
    assert_eq!(world.command_error().message(), text);
}

#[when("I speculatively execute a command with invalid payload")]
async fn invalid_payload(world: &mut Seed) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    let command = Any {
        type_url: angzarr_client::proto::type_url::of::<CreateOrder>(),
        value: vec![0xff, 0xff],
    };
    let request = SpeculateCommandHandlerRequest {
        command: Some(
            client
                .command(&domain, root)
                .with_any(command)
                .build()
                .expect("a book"),
        ),
        point_in_time: Some(angzarr_client::proto::TemporalQuery {
            point_in_time: Some(PointInTime::AsOfSequence(0)),
        }),
    };
    world.outcome = Some(client.speculative().aggregate(request).await);
}

#[then("no events should be produced")]
async fn none_produced(world: &mut Seed) {
    world.command_error();
    let (domain, name) = world.subject.clone().expect("a subject");
    assert!(stored(world, &domain, &name).await.is_empty());
}

#[when("I speculatively execute a command")]
async fn a_command(world: &mut Seed) {
    let roots = world.stored_roots().await.len();
    world.counts.insert("roots", roots);
    speculate(world, order_command("AddItem", "speculated"), None).await;
}

#[then("an edition should be created for the speculation")]
fn edition_created(world: &mut Seed) {
    // The speculation runs on the history in memory: the answer holds the
    // event as the aggregate decided it, at the next sequence.
    let pages = world.response().pages();
    assert_eq!(pages[0].sequence(), Some(world.sequence));
}

#[then("the edition should be discarded after execution")]
async fn edition_discarded(world: &mut Seed) {
    let roots = world.stored_roots().await;
    assert_eq!(
        roots.len(),
        world.counts["roots"],
        "no timeline was added: {roots:?}"
    );
    not_persisted(world).await;
}

/// Stores events for `name` without publishing them, so that no consumer
/// acts on them: what the dry runs are handed.
async fn unpublished(
    world: &mut Seed,
    domain: &str,
    name: &str,
    events: Vec<Any>,
    correlation_id: &str,
) {
    world.subject = Some((domain.to_owned(), name.to_owned()));
    let root = world.root(name);
    let pages: Vec<EventPage> = (0..)
        .zip(events)
        .map(|(n, event)| EventPage::new(n, event))
        .collect();
    world.backend().await.write(domain, root, &pages, None);
    let mut cover = Cover::new(domain, root);
    if !correlation_id.is_empty() {
        cover = cover.with_correlation_id(correlation_id);
    }
    world.books.push(EventBook {
        cover: Some(cover),
        next_sequence: pages.len() as u32,
        pages,
        snapshot: None,
    });
}

fn order_events(count: u32) -> Vec<Any> {
    (0..count)
        .map(|n| {
            if n == 0 {
                Any::pack(&OrderCreated {
                    order_id: "order-1".into(),
                    customer_id: "customer-1".into(),
                })
            } else {
                Any::pack(&ItemAdded {
                    item: format!("item-{n}"),
                })
            }
        })
        .collect()
}

#[given(regex = r#"^(?:(\d+) )?events for "([^"]+)" root "([^"]+)"$"#)]
async fn events_for(world: &mut Seed, count: String, domain: String, name: String) {
    let count = count.parse().unwrap_or(3);
    world.with_components(|components| {
        components.projector = true;
        components.saga = true;
    });
    unpublished(world, &domain, &name, order_events(count), "").await;
}

fn book(world: &Seed) -> EventBook {
    world.books.last().cloned().expect("events were given")
}

#[when(regex = r#"^I speculatively execute projector "([^"]+)"(?: against those events)?$"#)]
async fn projector(world: &mut Seed, name: String) {
    let client = world.client().await;
    let request = SpeculateProjectorRequest {
        events: Some(book(world)),
    };
    let result = client
        .speculative()
        .for_component(&name)
        .projector(request)
        .await;
    world.projection = Some(result);
}

fn projection(world: &Seed) -> &angzarr_client::proto::Projection {
    match world.projection.as_ref().expect("a projector ran") {
        Ok(projection) => projection,
        Err(error) => panic!("the projector failed: {error}"),
    }
}

fn summary(world: &Seed) -> OrderSummary {
    projection(world)
        .projection
        .as_ref()
        .expect("a projection")
        .unpack()
        .expect("a summary")
}

#[then("the response should contain the projection")]
fn has_projection(world: &mut Seed) {
    assert_eq!(projection(world).projector, "order-summary");
    assert_eq!(summary(world).last_sequence, 2);
}

#[then("no external systems should be updated")]
async fn nothing_written(world: &mut Seed) {
    let backend = world.backend().await;
    backend.settled().await;
    assert!(backend
        .summaries
        .written
        .lock()
        .expect("not poisoned")
        .is_empty());
}

#[then(expr = "the projector should process all {int} events in order")]
fn all_in_order(world: &mut Seed, count: u32) {
    assert_eq!(summary(world).events_seen, count);
    assert_eq!(projection(world).sequence, count - 1);
}

#[then("the final projection state should be returned")]
async fn final_projection(world: &mut Seed) {
    assert_eq!(summary(world).last_sequence, 4);
    nothing_written(world).await;
}

#[when(expr = "I speculatively execute saga {string}")]
async fn saga(world: &mut Seed, name: String) {
    let client = world.client().await;
    let request = SpeculateSagaRequest {
        request: Some(SagaHandleRequest {
            source: Some(book(world)),
            ..Default::default()
        }),
    };
    world.saga = Some(
        client
            .speculative()
            .for_component(&name)
            .saga(request)
            .await,
    );
}

fn saga_commands(world: &Seed) -> &[angzarr_client::proto::CommandBook] {
    match world.saga.as_ref().expect("a saga ran") {
        Ok(response) => &response.commands,
        Err(error) => panic!("the saga failed: {error}"),
    }
}

#[then("the response should contain the commands the saga would emit")]
fn saga_would_emit(world: &mut Seed) {
    let (_, root) = world.subject();
    let commands = saga_commands(world);
    assert_eq!(commands.len(), 1);
    let cover = commands[0].cover.as_ref().expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.root_uuid().ok()),
        ("inventory", Some(root))
    );
    let reserve: ReserveStock = commands[0].pages[0]
        .command()
        .expect("a command")
        .unpack()
        .expect("ReserveStock");
    assert_eq!(reserve.order_id, "order-1");
}

#[then("the commands should NOT be sent to the target domain")]
async fn not_sent(world: &mut Seed) {
    world.backend().await.settled().await;
    let (_, name) = world.subject.clone().expect("a subject");
    assert!(stored(world, "inventory", &name).await.is_empty());
}

#[given(expr = "events with saga origin from {string} aggregate")]
async fn from_inventory(world: &mut Seed, domain: String) {
    world.with_components(|components| components.chain = true);
    let events = vec![Any::pack(&InventoryReserved {
        order_id: "order-1".into(),
    })];
    unpublished(world, &domain, "stock", events, "workflow-9").await;
}

#[then("the response should preserve the saga origin chain")]
fn origin_chain(world: &mut Seed) {
    let (_, root) = world.subject();
    let command = &saga_commands(world)[0];
    let cover = command.cover.as_ref().expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.correlation_id.as_str()),
        ("orders", "workflow-9")
    );
    let Some(page_header::SequenceType::AngzarrDeferred(deferred)) = command.pages[0]
        .header
        .as_ref()
        .and_then(|h| h.sequence_type.clone())
    else {
        panic!("not a deferred page: {:?}", command.pages[0]);
    };
    let source = deferred.source.expect("the source");
    assert_eq!(
        (source.domain.as_str(), source.root_uuid().ok()),
        ("inventory", Some(root))
    );
    assert_eq!(deferred.source_seq, 0);
}

#[given("correlated events from multiple domains")]
async fn correlated(world: &mut Seed) {
    world.with_components(|components| components.process_manager = true);
    let order = order_events(1);
    unpublished(world, "orders", "order", order, "workflow-1").await;
    let stock = vec![Any::pack(&InventoryReserved {
        order_id: "order-1".into(),
    })];
    let order_root = world.root("order");
    // The stock of an order shares the order's root.
    world.roots.insert("stock".into(), order_root);
    unpublished(world, "inventory", "stock", stock, "workflow-1").await;
}

#[given("events without correlation ID")]
async fn uncorrelated(world: &mut Seed) {
    world.with_components(|components| components.process_manager = true);
    let stock = vec![Any::pack(&InventoryReserved {
        order_id: "order-1".into(),
    })];
    unpublished(world, "inventory", "stock", stock, "").await;
}

#[when(expr = "I speculatively execute process manager {string}")]
async fn process_manager(world: &mut Seed, name: String) {
    let client = world.client().await;
    let request = SpeculatePmRequest {
        request: Some(ProcessManagerHandleRequest {
            trigger: Some(book(world)),
            ..Default::default()
        }),
    };
    let result = client
        .speculative()
        .for_component(&name)
        .process_manager(request)
        .await;
    match result {
        Ok(response) => world.pm = Some(response),
        Err(error) => world.failure = Some(error),
    }
}

#[then("the response should contain the PM's command decisions")]
fn pm_decisions(world: &mut Seed) {
    let response = world.pm.as_ref().expect("the process manager answered");
    assert_eq!(response.commands.len(), 1);
    let cover = response.commands[0].cover.as_ref().expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.correlation_id.as_str()),
        ("orders", "workflow-1")
    );
    assert!(response.commands[0].pages[0]
        .command()
        .is_some_and(|c| c.is::<ShipOrder>()));
    assert_eq!(
        response
            .process_events
            .as_ref()
            .map_or(0, |e| e.pages.len()),
        1
    );
}

#[then("the commands should NOT be executed")]
async fn pm_not_executed(world: &mut Seed) {
    world.backend().await.settled().await;
    assert_eq!(
        stored(world, "orders", "order").await.len(),
        1,
        "no OrderShipped"
    );
    let workflow =
        angzarr_client::process_manager::runtime::process_root("order-workflow", "workflow-1");
    let client = world.client().await;
    let state = client
        .query("order-workflow", workflow)
        .get_pages()
        .await
        .expect("read");
    assert!(state.is_empty(), "no process event stored");
}

#[then("the speculative PM operation should fail")]
fn pm_fails(world: &mut Seed) {
    assert!(world.pm.is_none());
    assert!(
        world
            .failure
            .as_ref()
            .is_some_and(|e| e.is_invalid_argument()),
        "{:?}",
        world.failure
    );
}

#[then("the error should indicate missing correlation ID")]
fn missing_correlation(world: &mut Seed) {
    let message = world.failure.as_ref().expect("a failure").message();
    assert!(
        message.contains("correlation id") && message.contains("order-workflow"),
        "{message}"
    );
}

#[given(expr = "a speculative aggregate {string} with root {string} has {int} events")]
async fn speculative_aggregate(world: &mut Seed, domain: String, name: String, count: u32) {
    super::order_with_events(world, &domain, &name, count).await;
}

#[when(expr = "I speculatively execute a command producing {int} events")]
async fn producing(world: &mut Seed, count: u32) {
    speculate(world, Any::pack(&AddItems { count }), None).await;
    assert_eq!(world.response().pages().len(), count as usize);
}

#[when(expr = "I verify the real events for {string} root {string}")]
async fn verify(world: &mut Seed, domain: String, name: String) {
    world.pages = stored(world, &domain, &name).await;
}

#[then(expr = "I should receive only {int} events")]
fn only(world: &mut Seed, count: usize) {
    assert_eq!(world.pages.len(), count);
}

#[then("the speculative events should not be present")]
fn not_present(world: &mut Seed) {
    // The speculation added item-0 and item-1 at 3 and 4; the history
    // holds its own items at 1 and 2 only.
    let items: Vec<(Option<u32>, String)> = world
        .pages
        .iter()
        .filter_map(|page| Some((page.sequence(), page.event_as::<ItemAdded>().ok()?.item)))
        .collect();
    assert_eq!(
        items,
        [
            (Some(1), "item-1".to_owned()),
            (Some(2), "item-2".to_owned())
        ]
    );
}

#[when(regex = r"^I speculatively execute command (A|B)$")]
async fn command_a_or_b(world: &mut Seed, which: String) {
    let command = if which == "A" {
        order_command("AddItem", "a")
    } else {
        Any::pack(&AddItems { count: 2 })
    };
    speculate(world, command, None).await;
    let answer = world.outcome.take().expect("answered");
    world.results.push(answer);
}

#[then("each speculation should start from the same base state")]
fn same_base(world: &mut Seed) {
    let firsts: Vec<Option<u32>> = world
        .results
        .iter()
        .map(|r| r.as_ref().expect("speculated").pages()[0].sequence())
        .collect();
    assert_eq!(firsts, [Some(3), Some(3)]);
}

#[then("results should be independent")]
async fn independent(world: &mut Seed) {
    let counts: Vec<usize> = world
        .results
        .iter()
        .map(|r| r.as_ref().expect("speculated").pages().len())
        .collect();
    assert_eq!(counts, [1, 2]);
    let (domain, name) = world.subject.clone().expect("a subject");
    assert_eq!(stored(world, &domain, &name).await.len(), 3);
}

#[given("the speculative service is unavailable")]
async fn unavailable(world: &mut Seed) {
    world.connected = Some(super::unreachable_client().await);
}

#[when("I attempt speculative execution")]
async fn attempt(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let result = client
        .command_new("orders")
        .with_any(order_command("CreateOrder", "c"))
        .speculate(PointInTime::AsOfSequence(0))
        .await;
    world.outcome = Some(result);
}

#[when("I attempt speculative execution with missing parameters")]
async fn missing_parameters(world: &mut Seed) {
    let client = world.client().await;
    let command = client
        .command_new("orders")
        .with_any(order_command("CreateOrder", "c"))
        .build()
        .expect("a book");
    let request = SpeculateCommandHandlerRequest {
        command: Some(command),
        point_in_time: None,
    };
    world.outcome = Some(client.speculative().aggregate(request).await);
}

#[then(regex = r"^the speculative operation should fail with (connection|invalid argument) error$")]
fn speculative_fails(world: &mut Seed, kind: String) {
    let error = world.command_error();
    assert!(super::is_kind(error, &kind), "{error:?}");
}
