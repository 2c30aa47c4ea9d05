//! `router.feature`: dispatch, state and errors in the five runtimes, with
//! the function-built routers (`CommandRouter`, `SagaRouter`,
//! `ProjectorRouter`, `ProcessManagerRouter`) recording each call, through
//! the test fixtures; the sequence check and per-correlation state through
//! angzarr-local.

use std::sync::{Arc, Mutex};

use angzarr_client::aggregate::runtime::{handle_command, rebuild};
use angzarr_client::proto::{page_header, AnyExt, ContextualCommand, Cover, EventBook, EventPage};
use angzarr_client::testing::{AggregateTest, ProcessManagerTest, ProjectorTest, SagaTest};
use angzarr_client::{
    Command, CommandRouter, CompensationContext, ComponentKind, Event, ProcessManagerRouter,
    ProjectorRouter, Rejection, SagaRouter,
};
use angzarr_local::LocalCoordinator;
use cucumber::{given, then, when};
use prost_types::Any;

use super::order_command;
use crate::domains::{
    AddItem, AddItems, CreateOrder, InventoryReserved, ItemAdded, Order, OrderCreated,
    OrderShipped, OrderSummary, Orders, ReserveStock, ShipOrder, Workflow, WorkflowStep,
};
use crate::world::Seed;

type Calls = Arc<Mutex<Vec<String>>>;

fn log(calls: &Calls, entry: impl Into<String>) {
    calls.lock().expect("not poisoned").push(entry.into());
}

fn calls(world: &Seed) -> Vec<String> {
    world.calls.lock().expect("not poisoned").clone()
}

/// An orders router whose handlers and appliers record each call.
fn order_router(calls: &Calls) -> CommandRouter<Order> {
    let (c1, c2, c3, c4, c5) = (
        calls.clone(),
        calls.clone(),
        calls.clone(),
        calls.clone(),
        calls.clone(),
    );
    CommandRouter::new("orders", Order::default)
        .on(move |cmd: CreateOrder, _: &Order| {
            log(&c1, "handle CreateOrder");
            OrderCreated {
                order_id: "order-1".into(),
                customer_id: cmd.customer_id,
            }
        })
        .on(move |cmd: AddItem, order: &Order| {
            log(
                &c2,
                format!("handle AddItem with {} items", order.items.len()),
            );
            ItemAdded { item: cmd.item }
        })
        .on(
            move |cmd: AddItems, _: &Order| -> Result<Vec<ItemAdded>, Rejection> {
                log(&c5, "handle AddItems");
                if cmd.count == 0 {
                    return Err(Rejection::invalid_argument("count must be positive"));
                }
                Ok((0..cmd.count)
                    .map(|n| ItemAdded {
                        item: format!("item-{n}"),
                    })
                    .collect())
            },
        )
        .apply(move |order: &mut Order, event: &OrderCreated| {
            log(&c3, "apply OrderCreated");
            order.order_id = event.order_id.clone();
        })
        .apply(move |order: &mut Order, event: &ItemAdded| {
            log(&c4, "apply ItemAdded");
            order.items.push(event.item.clone());
        })
}

#[given(regex = r#"^an aggregate router(?: with handlers for "CreateOrder"(?: and "AddItem")?)?$"#)]
fn aggregate_router(world: &mut Seed) {
    world.notes.insert("router", "aggregate".into());
}

#[given(regex = r"^an? (?:router|router with handler for protobuf message type)$")]
fn any_router(world: &mut Seed) {
    world.notes.insert("router", "any".into());
}

#[when(regex = r#"^I receive an? "(CreateOrder|UnknownCommand)" command$"#)]
async fn receive_command(world: &mut Seed, name: String) {
    let router = order_router(&world.calls);
    if name == "CreateOrder" {
        AggregateTest::new(router)
            .when(CreateOrder {
                customer_id: "c".into(),
            })
            .then_events(OrderCreated {
                order_id: "order-1".into(),
                customer_id: "c".into(),
            });
        return;
    }
    let unknown = Any {
        type_url: "type.googleapis.com/orders.UnknownCommand".into(),
        value: Vec::new(),
    };
    let request = ContextualCommand {
        command: Some(angzarr_client::proto::CommandBook {
            cover: Some(Cover::new("orders", uuid::Uuid::new_v4())),
            pages: vec![angzarr_client::proto::CommandPage::new(0, unknown)],
        }),
        events: None,
    };
    world.router = Some(
        handle_command(&router, &request)
            .await
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
}

#[then(
    regex = r"^the (CreateOrder|AddItem|OrderCreated|OrderShipped|InventoryReserved) handler should (NOT )?be invoked$"
)]
fn handler_invoked(world: &mut Seed, name: String, not: String) {
    let called = calls(world)
        .iter()
        .filter(|call| call.starts_with(&format!("handle {name}")))
        .count();
    assert_eq!(called, usize::from(not.is_empty()), "{:?}", calls(world));
}

#[given("an aggregate with existing events")]
fn existing_events(world: &mut Seed) {
    world.notes.insert("history", "2 items".into());
}

#[when("I receive a command for that aggregate")]
fn receive_for_existing(world: &mut Seed) {
    AggregateTest::new(order_router(&world.calls))
        .given(OrderCreated {
            order_id: "order-1".into(),
            customer_id: "c".into(),
        })
        .given(ItemAdded { item: "a".into() })
        .given(ItemAdded { item: "b".into() })
        .when(AddItem { item: "c".into() })
        .then_event(|event: &ItemAdded| assert_eq!(event.item, "c"));
}

#[then("the router should load the EventBook first")]
fn loads_first(world: &mut Seed) {
    assert_eq!(
        calls(world),
        [
            "apply OrderCreated",
            "apply ItemAdded",
            "apply ItemAdded",
            "handle AddItem with 2 items",
            "apply ItemAdded"
        ]
    );
}

#[then("the handler should receive the reconstructed state")]
fn reconstructed(world: &mut Seed) {
    assert!(calls(world).contains(&"handle AddItem with 2 items".to_owned()));
}

#[given(expr = "an aggregate at sequence {int}")]
async fn aggregate_at(world: &mut Seed, sequence: u32) {
    // A coordinator of its own, in front of the recording router.
    let local = LocalCoordinator::builder()
        .domain_aggregate(order_router(&world.calls))
        .build();
    let client = local.client();
    let root = world.root("sequenced");
    for n in 0..sequence {
        let command = if n == 0 {
            order_command("CreateOrder", "c")
        } else {
            order_command("AddItem", "x")
        };
        super::send(&client, "orders", root, n, command)
            .await
            .expect("written");
    }
    world.calls.lock().expect("not poisoned").clear();
    world.connected = Some(client);
    world.local = Some(local);
}

#[when(expr = "I receive a command at sequence {int}")]
async fn command_at(world: &mut Seed, sequence: u32) {
    let client = world.connected.clone().expect("a client");
    let root = world.root("sequenced");
    world.outcome = Some(
        super::send(
            &client,
            "orders",
            root,
            sequence,
            order_command("AddItem", "late"),
        )
        .await,
    );
}

#[then("the router should reject with sequence mismatch")]
fn mismatch(world: &mut Seed) {
    let error = world.command_error();
    assert!(error.is_sequence_conflict(), "{error:?}");
}

#[then("no handler should be invoked")]
fn no_handler(world: &mut Seed) {
    assert!(
        calls(world).iter().all(|call| !call.starts_with("handle ")),
        "{:?}",
        calls(world)
    );
    if let Some(pm) = &world.pm {
        assert!(
            pm.commands.is_empty() && pm.process_events.is_none(),
            "{pm:?}"
        );
    }
}

#[when(expr = "a handler emits {int} events")]
fn emits(world: &mut Seed, count: u32) {
    let outcome = AggregateTest::new(order_router(&world.calls))
        .given(OrderCreated {
            order_id: "order-1".into(),
            customer_id: "c".into(),
        })
        .when(AddItems { count });
    world.pages = outcome.pages().to_vec();
}

#[then("the router should return those events")]
fn returns_events(world: &mut Seed) {
    let items: Vec<String> = world
        .pages
        .iter()
        .map(|p| p.event_as::<ItemAdded>().expect("an item").item)
        .collect();
    assert_eq!(items, ["item-0", "item-1"]);
}

#[then("the events should have correct sequences")]
fn correct_sequences(world: &mut Seed) {
    let sequences: Vec<_> = world.pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, [1, 2]);
}

#[then("the router should return an error")]
fn returns_error(world: &mut Seed) {
    assert!(
        world.router.as_ref().expect("the router ran").is_err(),
        "{:?}",
        world.router
    );
}

#[then("the error should indicate unknown command type")]
fn unknown_type(world: &mut Seed) {
    let message = world
        .router
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect_err("failed");
    assert!(
        message.contains("orders.UnknownCommand") && message.contains("orders.CreateOrder"),
        "{message}"
    );
}

fn saga_router(calls: &Calls) -> SagaRouter {
    let (c1, c2) = (calls.clone(), calls.clone());
    SagaRouter::new("order-fulfillment", "orders")
        .target("inventory")
        .on_with_context(
            move |event: OrderCreated, ctx: &angzarr_client::SagaContext<'_>| {
                log(
                    &c1,
                    format!(
                        "handle OrderCreated {} inventory at {:?}",
                        event.order_id,
                        ctx.destination_sequence("inventory")
                    ),
                );
                Command::new(
                    ctx.root(),
                    ReserveStock {
                        order_id: event.order_id,
                    },
                )
            },
        )
        .on(move |_: OrderShipped| {
            log(&c2, "handle OrderShipped");
        })
}

#[given(regex = r#"^a saga router(?: with handlers for "OrderCreated" and "OrderShipped")?$"#)]
fn a_saga_router(world: &mut Seed) {
    world.notes.insert("router", "saga".into());
}

fn run_saga(
    world: &mut Seed,
    event: OrderCreated,
    sequence: u32,
    destination: Option<u32>,
) -> Vec<angzarr_client::proto::CommandBook> {
    let root = world.root("order");
    let mut test = SagaTest::new(saga_router(&world.calls))
        .with_source(Cover::new("orders", root).with_correlation_id("workflow-s"))
        .at_sequence(sequence);
    if let Some(next) = destination {
        test = test.with_destination_sequence("inventory", next);
    }
    test.when(event).commands().to_vec()
}

#[when(
    regex = r#"^I receive an "(OrderCreated|InventoryReserved)" event(?: from domain "(\w+)")?$"#
)]
fn receive_event(world: &mut Seed, name: String, domain: String) {
    match (world.notes.get("router").map(String::as_str), name.as_str()) {
        (Some("saga"), "OrderCreated") => {
            run_saga(
                world,
                OrderCreated {
                    order_id: "order-1".into(),
                    customer_id: "c".into(),
                },
                0,
                None,
            );
        }
        (Some("projector"), "OrderCreated") => {
            ProjectorTest::new(projector_router(&world.calls)).when(OrderCreated::default());
        }
        (Some("pm"), _) => {
            let cover =
                Cover::new(domain.clone(), world.root("order")).with_correlation_id("workflow-pm");
            let test = ProcessManagerTest::new(pm_router(&world.calls)).from(cover);
            let outcome = if name == "OrderCreated" {
                test.when(OrderCreated::default())
            } else {
                test.when(InventoryReserved::default())
            };
            world.pm = outcome.result().as_ref().ok().cloned();
        }
        other => panic!("no router for {other:?}"),
    }
}

#[when(expr = "I receive an event that triggers command to {string}")]
fn triggers(world: &mut Seed, domain: String) {
    assert_eq!(domain, "inventory");
    let commands = run_saga(
        world,
        OrderCreated {
            order_id: "order-1".into(),
            customer_id: "c".into(),
        },
        0,
        Some(7),
    );
    world.built = commands.into_iter().map(Ok).collect();
}

#[then("the router should fetch inventory aggregate state")]
fn fetches(world: &mut Seed) {
    // Our sagas never pick sequences: the coordinator stamps the command's
    // deferred sequence. Destination sequences a coordinator supplies reach
    // the handler, as this one shows.
    assert!(
        calls(world).contains(&"handle OrderCreated order-1 inventory at Some(7)".to_owned()),
        "{:?}",
        calls(world)
    );
}

#[then("the handler should receive destination state for sequence calculation")]
fn destination_state(world: &mut Seed) {
    let page = &world.built[0].as_ref().expect("a command").pages[0];
    assert!(matches!(
        page.header.as_ref().and_then(|h| h.sequence_type.as_ref()),
        Some(page_header::SequenceType::AngzarrDeferred(_))
    ));
}

#[when("a handler produces a command")]
fn produces_command(world: &mut Seed) {
    let commands = match world.notes.get("router").map(String::as_str) {
        Some("saga") => run_saga(
            world,
            OrderCreated {
                order_id: "order-1".into(),
                customer_id: "c".into(),
            },
            4,
            None,
        ),
        Some("pm") => {
            let cover =
                Cover::new("inventory", world.root("order")).with_correlation_id("workflow-pm");
            ProcessManagerTest::new(pm_router(&world.calls))
                .from(cover)
                .when(InventoryReserved::default())
                .commands()
                .to_vec()
        }
        other => panic!("no router for {other:?}"),
    };
    world.built = commands.into_iter().map(Ok).collect();
}

#[then("the router should return the command")]
fn returns_command(world: &mut Seed) {
    assert_eq!(world.built.len(), 1);
    let command = world.built[0].as_ref().expect("a command");
    let payload = command.pages[0].command().expect("a payload");
    assert!(
        payload.is::<ReserveStock>() || payload.is::<ShipOrder>(),
        "{}",
        payload.type_url
    );
}

#[then("the command should have correct saga_origin")]
fn saga_origin(world: &mut Seed) {
    let root = world.root("order");
    let context = CompensationContext::new(
        world.built[0].as_ref().expect("a command").clone(),
        "",
        ComponentKind::Saga,
        "order-fulfillment",
    );
    assert_eq!(
        context
            .source()
            .map(|c| (c.domain.as_str(), c.root_uuid().ok())),
        Some(("orders", Some(root)))
    );
    assert_eq!(context.source_sequence(), Some(4));
}

#[given("a saga router with a rejected command")]
fn saga_with_rejected(world: &mut Seed) {
    world.notes.insert("router", "saga".into());
    let commands = run_saga(
        world,
        OrderCreated {
            order_id: "order-1".into(),
            customer_id: "c".into(),
        },
        2,
        None,
    );
    world.rejected = commands.into_iter().next();
}

#[when("the router processes the rejection")]
fn processes_rejection(world: &mut Seed) {
    // A saga's refused command goes back to its source aggregate; the
    // coordinator builds it this way (angzarr-local does).
    let refused = world.rejected.clone().expect("a refused command");
    world.compensation = Some(CompensationContext::new(
        refused,
        "out of stock",
        ComponentKind::Saga,
        "order-fulfillment",
    ));
}

#[then("the router should build compensation context")]
fn builds_context(world: &mut Seed) {
    let context = world.compensation.as_ref().expect("a context");
    assert_eq!(context.source_sequence(), Some(2));
    assert_eq!(context.correlation_id(), "workflow-s");
}

#[then("the router should emit rejection notification")]
fn emits_notification(world: &mut Seed) {
    let context = world.compensation.as_ref().expect("a context");
    let book = context.command_book().expect("to the source");
    assert_eq!(
        book.cover.as_ref().map(|c| c.domain.as_str()),
        Some("orders")
    );
    let notification: angzarr_client::proto::Notification = {
        let mut packed = book.pages[0].command().expect("a payload").clone();
        packed.type_url =
            angzarr_client::proto::type_url::of::<angzarr_client::proto::Notification>();
        packed.unpack().expect("a notification")
    };
    assert_eq!(notification.metadata["issuer_name"], "order-fulfillment");
}

#[when("I process two events with same type")]
fn two_events(world: &mut Seed) {
    let first = run_saga(
        world,
        OrderCreated {
            order_id: "first".into(),
            customer_id: "c".into(),
        },
        0,
        None,
    );
    let second = run_saga(
        world,
        OrderCreated {
            order_id: "second".into(),
            customer_id: "c".into(),
        },
        1,
        None,
    );
    world.built = first.into_iter().chain(second).map(Ok).collect();
}

#[then("each should be processed independently")]
fn independently(world: &mut Seed) {
    let ids: Vec<String> = world
        .built
        .iter()
        .map(|b| {
            b.as_ref().expect("a command").pages[0]
                .command()
                .expect("a payload")
                .unpack::<ReserveStock>()
                .expect("ReserveStock")
                .order_id
        })
        .collect();
    assert_eq!(ids, ["first", "second"]);
}

#[then("no state should carry over between events")]
fn no_state(world: &mut Seed) {
    // Each call saw only its own event: the handler's log holds each once.
    let handled: Vec<String> = calls(world)
        .into_iter()
        .filter(|c| c.starts_with("handle OrderCreated"))
        .collect();
    assert_eq!(
        handled,
        [
            "handle OrderCreated first inventory at None",
            "handle OrderCreated second inventory at None"
        ]
    );
}

/// What the recording projector answers for an event of `name` that adds
/// `items` items: it records the call unless it is speculative.
fn summarize(
    calls: &Calls,
    name: &str,
    items: u32,
    ctx: &angzarr_client::ProjectionContext<'_>,
) -> OrderSummary {
    let sequence = ctx.sequence().unwrap_or_default();
    if !ctx.is_speculative() {
        log(calls, format!("handle {name} at {sequence}"));
    }
    OrderSummary {
        events_seen: sequence + 1,
        items,
        last_sequence: sequence,
    }
}

fn projector_router(calls: &Calls) -> ProjectorRouter {
    let (c1, c2) = (calls.clone(), calls.clone());
    ProjectorRouter::new("order-summary", ["orders"])
        .on_with_context(
            move |_: OrderCreated, ctx: &angzarr_client::ProjectionContext<'_>| {
                summarize(&c1, "OrderCreated", 0, ctx)
            },
        )
        .on_with_context(
            move |_: ItemAdded, ctx: &angzarr_client::ProjectionContext<'_>| {
                summarize(&c2, "ItemAdded", 1, ctx)
            },
        )
}

#[given(regex = r#"^a projector router(?: with handlers for "OrderCreated")?$"#)]
fn a_projector_router(world: &mut Seed) {
    world.notes.insert("router", "projector".into());
}

fn batch(count: u32) -> Vec<Event> {
    (0..count)
        .map(|n| {
            if n == 0 {
                Event::new(&OrderCreated::default())
            } else {
                Event::new(&ItemAdded {
                    item: format!("i{n}"),
                })
            }
        })
        .collect()
}

#[when(expr = "I receive {int} events in a batch")]
fn receive_batch(world: &mut Seed, count: u32) {
    let outcome = ProjectorTest::new(projector_router(&world.calls)).when_events(batch(count));
    world.projection = Some(
        outcome
            .result()
            .clone()
            .map_err(|e| angzarr_client::ClientError::InvalidArgument(e.to_string())),
    );
}

#[then(expr = "all {int} events should be processed in order")]
fn processed_in_order(world: &mut Seed, count: u32) {
    let expected: Vec<String> = (0..count)
        .map(|n| {
            if n == 0 {
                "handle OrderCreated at 0".to_owned()
            } else {
                format!("handle ItemAdded at {n}")
            }
        })
        .collect();
    assert_eq!(calls(world), expected);
}

fn projection(world: &Seed) -> &angzarr_client::proto::Projection {
    world
        .projection
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect("projected")
}

#[then(regex = r"^the (?:router projection state|projection result) should be returned$")]
fn projection_returned(world: &mut Seed) {
    let summary: OrderSummary = projection(world)
        .projection
        .as_ref()
        .expect("a projection")
        .unpack()
        .expect("a summary");
    assert_eq!(summary.last_sequence, projection(world).sequence);
    assert_eq!(projection(world).projector, "order-summary");
}

#[when("I speculatively process events")]
fn speculatively(world: &mut Seed) {
    let outcome = ProjectorTest::new(projector_router(&world.calls))
        .speculative()
        .when_events(batch(3));
    world.projection = Some(
        outcome
            .result()
            .clone()
            .map_err(|e| angzarr_client::ClientError::InvalidArgument(e.to_string())),
    );
}

#[then("no external side effects should occur")]
fn no_side_effects(world: &mut Seed) {
    assert!(calls(world).is_empty(), "{:?}", calls(world));
}

#[when(expr = "I process events from sequence {int} to {int}")]
fn from_to(world: &mut Seed, first: u32, last: u32) {
    let events: Vec<Event> = (first..=last)
        .map(|n| {
            Event::new(&ItemAdded {
                item: format!("i{n}"),
            })
        })
        .collect();
    let outcome = ProjectorTest::new(projector_router(&world.calls))
        .at_sequence(first)
        .when_events(events);
    world.projection = Some(
        outcome
            .result()
            .clone()
            .map_err(|e| angzarr_client::ClientError::InvalidArgument(e.to_string())),
    );
}

#[then(expr = "the router should track that position {int} was processed")]
fn tracks(world: &mut Seed, position: u32) {
    assert_eq!(projection(world).sequence, position);
    assert_eq!(
        calls(world).last().map(String::as_str),
        Some(format!("handle ItemAdded at {position}").as_str())
    );
}

fn pm_router(calls: &Calls) -> ProcessManagerRouter<Workflow> {
    let (c1, c2) = (calls.clone(), calls.clone());
    ProcessManagerRouter::new("order-workflow", Workflow::default)
        .source("orders")
        .source("inventory")
        .target("orders")
        .on(move |_: OrderCreated, _: &Workflow| {
            log(&c1, "handle OrderCreated");
            WorkflowStep {
                seen: "OrderCreated".into(),
            }
        })
        .on_with_context(
            move |_: InventoryReserved, _: &Workflow, ctx: &angzarr_client::PmContext<'_>| {
                log(&c2, "handle InventoryReserved");
                (
                    WorkflowStep {
                        seen: "InventoryReserved".into(),
                    },
                    Command::new(
                        ctx.root(),
                        ShipOrder {
                            carrier: "post".into(),
                        },
                    ),
                )
            },
        )
        .apply(|workflow: &mut Workflow, step: &WorkflowStep| workflow.seen.push(step.seen.clone()))
}

#[given(regex = r#"^a PM router(?: with handlers for "OrderCreated" and "InventoryReserved")?$"#)]
fn a_pm_router(world: &mut Seed) {
    world.notes.insert("router", "pm".into());
}

#[when("I receive an event without correlation ID")]
fn without_correlation(world: &mut Seed) {
    let outcome = ProcessManagerTest::new(pm_router(&world.calls))
        .from(Cover::new("orders", world.root("order")))
        .when(OrderCreated::default());
    world.pm = Some(outcome.result().as_ref().expect("answers").clone());
}

#[then("the event should be skipped")]
fn skipped(world: &mut Seed) {
    let pm = world.pm.as_ref().expect("answered");
    assert!(pm.commands.is_empty() && pm.facts.is_empty());
    assert!(
        pm.process_events
            .as_ref()
            .is_none_or(|e| e.pages.is_empty()),
        "{pm:?}"
    );
}

#[when(expr = "I receive correlated events with ID {string}")]
async fn correlated(world: &mut Seed, id: String) {
    world.with_components(|components| components.process_manager = true);
    let client = world.client().await;
    for (correlation, name) in [(id.as_str(), "order"), ("workflow-other", "other")] {
        let root = world.root(name);
        client
            .command("orders", root)
            .with_any(order_command("CreateOrder", "c"))
            .with_correlation_id(correlation)
            .execute()
            .await
            .expect("created");
        client
            .command("inventory", root)
            .with_any(Any::pack(&ReserveStock {
                order_id: "o".into(),
            }))
            .with_correlation_id(correlation)
            .execute()
            .await
            .expect("reserved");
    }
    world.backend().await.settled().await;
    world.notes.insert("correlation", id);
}

async fn workflow_history(world: &mut Seed, correlation: &str) -> Vec<String> {
    let root =
        angzarr_client::process_manager::runtime::process_root("order-workflow", correlation);
    let pages = world
        .client()
        .await
        .query("order-workflow", root)
        .get_pages()
        .await
        .expect("read");
    pages
        .iter()
        .map(|p| p.event_as::<WorkflowStep>().expect("a step").seen)
        .collect()
}

#[then("state should be maintained across events")]
async fn maintained(world: &mut Seed) {
    let id = world.notes["correlation"].clone();
    assert_eq!(
        workflow_history(world, &id).await,
        ["OrderCreated", "InventoryReserved"]
    );
}

#[then("events with different correlation IDs should have separate state")]
async fn separate(world: &mut Seed) {
    assert_eq!(
        workflow_history(world, "workflow-other").await,
        ["OrderCreated", "InventoryReserved"]
    );
    let ours =
        angzarr_client::process_manager::runtime::process_root("order-workflow", "workflow-123");
    let theirs =
        angzarr_client::process_manager::runtime::process_root("order-workflow", "workflow-other");
    assert_ne!(ours, theirs);
}

#[then("the command should preserve correlation ID")]
fn preserves(world: &mut Seed) {
    let cover = world.built[0]
        .as_ref()
        .expect("a command")
        .cover
        .clone()
        .expect("a cover");
    assert_eq!(cover.correlation_id, "workflow-pm");
}

#[when(expr = "I register handler for type {string}")]
fn register_one(world: &mut Seed, name: String) {
    assert_eq!(name, "OrderCreated");
    let calls = world.calls.clone();
    let router = ProjectorRouter::new("one", ["orders"])
        .on(move |_: OrderCreated| log(&calls, "handle OrderCreated"));
    ProjectorTest::new(router).when_events(vec![
        Event::from_any(Any {
            type_url: "type.googleapis.com/orders.OrderCreated".into(),
            value: Vec::new(),
        }),
        Event::from_any(Any {
            type_url: "type.angzarr.io/orders.OrderCreated".into(),
            value: Vec::new(),
        }),
        Event::new(&ItemAdded::default()),
    ]);
}

#[then(expr = "events ending with {string} should match")]
fn ending_match(world: &mut Seed, name: String) {
    let matched = calls(world)
        .iter()
        .filter(|c| **c == format!("handle {name}"))
        .count();
    assert_eq!(matched, 2, "either prefix");
}

#[then(expr = "events ending with {string} should NOT match")]
fn ending_no_match(world: &mut Seed, name: String) {
    assert!(!calls(world).iter().any(|c| c.contains(&name)));
}

#[when(expr = "I register handlers for {string}, {string}, and {string}")]
fn register_three(world: &mut Seed, a: String, b: String, c: String) {
    // The three types stand for orders.OrderCreated, ItemAdded, OrderShipped.
    assert_eq!(
        (a.as_str(), b.as_str(), c.as_str()),
        ("TypeA", "TypeB", "TypeC")
    );
    let (c1, c2, c3) = (
        world.calls.clone(),
        world.calls.clone(),
        world.calls.clone(),
    );
    let router = ProjectorRouter::new("three", ["orders"])
        .on(move |_: OrderCreated| log(&c1, "handle TypeA"))
        .on(move |_: ItemAdded| log(&c2, "handle TypeB"))
        .on(move |_: OrderShipped| log(&c3, "handle TypeC"));
    ProjectorTest::new(router).when_events(vec![
        Event::new(&OrderShipped::default()),
        Event::new(&OrderCreated::default()),
        Event::new(&ItemAdded::default()),
    ]);
}

#[then("all three types should be routable")]
fn routable(world: &mut Seed) {
    assert_eq!(calls(world).len(), 3);
}

#[then("each should invoke its specific handler")]
fn specific(world: &mut Seed) {
    assert_eq!(
        calls(world),
        ["handle TypeC", "handle TypeA", "handle TypeB"]
    );
}

#[when("I receive an event with that type")]
fn with_that_type(world: &mut Seed) {
    let calls = world.calls.clone();
    let router = ProjectorRouter::new("decoding", ["orders"]).on(move |event: OrderCreated| {
        log(
            &calls,
            format!(
                "handle OrderCreated {} {}",
                event.order_id, event.customer_id
            ),
        )
    });
    ProjectorTest::new(router).when(OrderCreated {
        order_id: "order-9".into(),
        customer_id: "customer-9".into(),
    });
}

#[then("the handler should receive the decoded message")]
fn decoded_message(world: &mut Seed) {
    assert_eq!(calls(world), ["handle OrderCreated order-9 customer-9"]);
}

#[then("the raw bytes should be deserialized")]
fn deserialized(world: &mut Seed) {
    decoded_message(world);
}

#[given("events: OrderCreated, ItemAdded, ItemAdded")]
fn three_events(world: &mut Seed) {
    let pages = vec![
        EventPage::new(
            0,
            Any::pack(&OrderCreated {
                order_id: "order-1".into(),
                customer_id: "c".into(),
            }),
        ),
        EventPage::new(1, Any::pack(&ItemAdded { item: "a".into() })),
        EventPage::new(2, Any::pack(&ItemAdded { item: "b".into() })),
    ];
    world.book = Some(EventBook {
        pages,
        ..Default::default()
    });
}

#[then("the state should reflect all three events applied")]
fn all_three(world: &mut Seed) {
    let order = world
        .state
        .as_ref()
        .expect("built")
        .as_ref()
        .expect("state");
    assert_eq!(order.applied, ["OrderCreated", "ItemAdded", "ItemAdded"]);
}

#[given(expr = "a snapshot at sequence {int}")]
fn snapshot(world: &mut Seed, at: u32) {
    let state = Order {
        order_id: "from-snapshot".into(),
        applied: vec!["snapshot".into()],
        ..Default::default()
    };
    world.book = Some(EventBook {
        snapshot: Some(angzarr_client::proto::Snapshot {
            sequence: at,
            state: Some(Any::pack(&state)),
            ..Default::default()
        }),
        ..Default::default()
    });
}

#[given(expr = "events {int}, {int}, {int}")]
fn events_after(world: &mut Seed, a: u32, b: u32, c: u32) {
    let book = world.book.as_mut().expect("a book");
    book.pages = [a, b, c]
        .iter()
        .map(|&n| {
            EventPage::new(
                n,
                Any::pack(&ItemAdded {
                    item: format!("item-{n}"),
                }),
            )
        })
        .collect();
}

#[then("the router should start from snapshot")]
fn router_from_snapshot(world: &mut Seed) {
    let order = world
        .state
        .as_ref()
        .expect("built")
        .as_ref()
        .expect("state");
    assert_eq!(order.order_id, "from-snapshot");
}

#[then(expr = "only apply events {int}, {int}, {int}")]
fn only_apply(world: &mut Seed, a: u32, b: u32, c: u32) {
    let order = world
        .state
        .as_ref()
        .expect("built")
        .as_ref()
        .expect("state");
    assert_eq!(order.items, [a, b, c].map(|n| format!("item-{n}")));
    assert_eq!(
        order.applied,
        ["snapshot", "ItemAdded", "ItemAdded", "ItemAdded"]
    );
}

#[given("no events for the aggregate")]
fn no_events(world: &mut Seed) {
    world.book = Some(EventBook::default());
}

#[then("the state should be the default/initial state")]
fn default_state(world: &mut Seed) {
    assert_eq!(
        world
            .state
            .as_ref()
            .expect("built")
            .as_ref()
            .expect("state"),
        &Order::default()
    );
    let (state, next) = rebuild(&Orders, None).expect("rebuilds");
    assert_eq!((state, next), (Order::default(), 0));
}

#[when("a handler returns an error")]
fn handler_errors(world: &mut Seed) {
    let outcome = AggregateTest::new(order_router(&world.calls))
        .given(OrderCreated {
            order_id: "order-1".into(),
            customer_id: "c".into(),
        })
        .when(AddItems { count: 0 });
    world.router = Some(
        outcome
            .result()
            .as_ref()
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
    world.pages = outcome.pages().to_vec();
}

#[then("the router should propagate the error")]
fn propagates(world: &mut Seed) {
    let message = world
        .router
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect_err("failed");
    assert!(message.contains("count must be positive"), "{message}");
}

#[then(regex = r"^no events? should be emitted$")]
fn none_emitted(world: &mut Seed) {
    assert!(world.pages.is_empty(), "{:?}", world.pages);
}

#[when("I receive an event with invalid payload")]
fn invalid_payload(world: &mut Seed) {
    let outcome =
        ProjectorTest::new(projector_router(&world.calls)).when_events(vec![Event::from_any(
            Any {
                type_url: "type.googleapis.com/orders.OrderCreated".into(),
                value: vec![0x0a, 0xff],
            },
        )]);
    world.router = Some(
        outcome
            .result()
            .as_ref()
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
}

#[when("state building fails")]
async fn state_fails(world: &mut Seed) {
    let corrupt = Any {
        type_url: "type.googleapis.com/orders.OrderCreated".into(),
        value: vec![0x0a, 0xff],
    };
    let request = ContextualCommand {
        command: Some(angzarr_client::proto::CommandBook {
            cover: Some(Cover::new("orders", uuid::Uuid::new_v4())),
            pages: vec![angzarr_client::proto::CommandPage::new(
                1,
                order_command("AddItem", "x"),
            )],
        }),
        events: Some(EventBook {
            pages: vec![EventPage::new(0, corrupt)],
            next_sequence: 1,
            ..Default::default()
        }),
    };
    let router = order_router(&world.calls);
    world.router = Some(
        handle_command(&router, &request)
            .await
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
}

#[given("an aggregate with guard checking aggregate exists")]
fn with_guard(world: &mut Seed) {
    world.notes.insert("router", "orders".into());
}

#[when("I send command to non-existent aggregate")]
fn to_missing(world: &mut Seed) {
    let outcome = AggregateTest::new(Orders).when(AddItem { item: "x".into() });
    world.router = Some(
        outcome
            .result()
            .as_ref()
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
    world.pages = outcome.pages().to_vec();
}

#[then(regex = r"^(?:guard|validate) should reject$")]
fn rejects(world: &mut Seed) {
    assert!(world.router.as_ref().expect("ran").is_err());
}

#[given("an aggregate handler with validation")]
fn with_validation(world: &mut Seed) {
    world.notes.insert("router", "orders".into());
}

#[when("I send command with invalid data")]
fn invalid_data(world: &mut Seed) {
    AggregateTest::new(Orders)
        .when(CreateOrder {
            customer_id: String::new(),
        })
        .then_rejected_as(
            angzarr_client::RejectionKind::InvalidArgument,
            "customer_id is required",
        );
    let outcome = AggregateTest::new(Orders).when(CreateOrder {
        customer_id: String::new(),
    });
    world.router = Some(
        outcome
            .result()
            .as_ref()
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
    );
}

#[then("rejection reason should describe the issue")]
fn describes_issue(world: &mut Seed) {
    let message = world
        .router
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect_err("refused");
    assert!(message.contains("customer_id"), "{message}");
}

#[given("an aggregate handler")]
fn a_handler(world: &mut Seed) {
    world.notes.insert("router", "orders".into());
}

#[when("guard and validate pass")]
fn pass(world: &mut Seed) {
    let outcome = AggregateTest::new(Orders).when(CreateOrder {
        customer_id: "customer-5".into(),
    });
    world.pages = outcome.pages().to_vec();
}

#[then("compute should produce events")]
fn computes(world: &mut Seed) {
    assert_eq!(world.pages.len(), 1);
}

#[then("events should reflect the state change")]
fn reflect_change(world: &mut Seed) {
    let created: OrderCreated = world.pages[0].event_as().expect("an order");
    assert_eq!(
        (created.order_id.as_str(), created.customer_id.as_str()),
        ("order-of-customer-5", "customer-5")
    );
    let book = EventBook {
        pages: world.pages.clone(),
        ..Default::default()
    };
    let (order, _) = rebuild(&Orders, Some(&book)).expect("rebuilds");
    assert_eq!(order.customer_id, "customer-5");
}
