//! `compensation.feature`: what a refused saga or process-manager command
//! sends back, built by `CompensationContext` (which angzarr-local uses for
//! every compensation it delivers).

use angzarr_client::compensation::metadata;
use angzarr_client::proto::{
    AnyExt, CommandBook, Cover, EventPage, MergeStrategy, Notification, RejectionNotification,
    SyncMode,
};
use angzarr_client::testing::SagaTest;
use angzarr_client::{CompensationContext, ComponentKind};
use cucumber::{given, then, when};
use prost_types::Any;

use super::{order_command, stored};
use crate::domains::{
    Fulfillment, InventoryOrder, InventoryReserved, OrderCancelled, OrderCreated, ReserveStock,
    StockReleased,
};
use crate::world::Seed;

/// The command the order-fulfillment saga emits for an order of `root`
/// created at `sequence`, correlated by `correlation_id`.
fn saga_command(
    root: uuid::Uuid,
    sequence: u32,
    correlation_id: &str,
    order_id: &str,
) -> CommandBook {
    let outcome = SagaTest::new(Fulfillment)
        .with_source(Cover::new("orders", root).with_correlation_id(correlation_id))
        .at_sequence(sequence)
        .when(OrderCreated {
            order_id: order_id.into(),
            customer_id: "customer-1".into(),
        });
    assert_eq!(outcome.commands().len(), 1, "the saga emits one command");
    outcome.commands()[0].clone()
}

fn context(world: &Seed) -> &CompensationContext {
    world
        .compensation
        .as_ref()
        .expect("a CompensationContext was built")
}

#[given("a compensation handling context")]
fn handling(world: &mut Seed) {
    let root = world.root("order");
    world.rejected = Some(saga_command(root, 0, "workflow-0", "order-1"));
    world.notes.insert("saga", "order-fulfillment".into());
    world.notes.insert("reason", "out of stock".into());
}

#[given("a saga command that was rejected")]
fn rejected(world: &mut Seed) {
    assert!(world.rejected.is_some());
}

#[given(expr = "a saga {string} triggered by {string} aggregate at sequence {int}")]
fn triggered(world: &mut Seed, saga: String, domain: String, sequence: u32) {
    assert_eq!(
        (saga.as_str(), domain.as_str()),
        ("order-fulfillment", "orders")
    );
    let root = world.root("order");
    world.rejected = Some(saga_command(root, sequence, "workflow-0", "order-1"));
}

#[given(regex = r"^the (?:saga )?command was rejected$")]
fn was_rejected(world: &mut Seed) {
    assert!(world.rejected.is_some());
}

#[given(expr = "a saga command with correlation ID {string}")]
fn with_correlation(world: &mut Seed, id: String) {
    let root = world.root("order");
    world.rejected = Some(saga_command(root, 0, &id, "order-1"));
}

fn build_context(world: &mut Seed) {
    let command = world.rejected.clone().expect("a refused command");
    let reason = world.notes["reason"].clone();
    let saga = world.notes["saga"].clone();
    world.compensation = Some(CompensationContext::new(
        command,
        reason,
        ComponentKind::Saga,
        saga,
    ));
}

#[when("I build a CompensationContext")]
fn build(world: &mut Seed) {
    build_context(world);
}

#[then("the context should include the rejected command")]
fn includes_command(world: &mut Seed) {
    assert_eq!(context(world).rejected_command(), world.rejected.as_ref());
}

#[then("the context should include the rejection reason")]
fn includes_reason(world: &mut Seed) {
    assert_eq!(context(world).rejection_reason(), "out of stock");
}

#[then("the context should include the saga origin")]
fn includes_origin(world: &mut Seed) {
    let root = world.root("order");
    let context = context(world);
    assert_eq!(
        (context.issuer(), context.issuer_name()),
        (ComponentKind::Saga, "order-fulfillment")
    );
    assert_eq!(
        context.source().and_then(|c| c.root_uuid().ok()),
        Some(root)
    );
    assert_eq!(context.source_sequence(), Some(0));
}

#[then(expr = "the saga_origin saga_name should be {string}")]
fn saga_name(world: &mut Seed, name: String) {
    assert_eq!(context(world).issuer_name(), name);
}

#[then(expr = "the triggering_aggregate should be {string}")]
fn triggering(world: &mut Seed, domain: String) {
    assert_eq!(
        context(world).source().map(|c| c.domain.as_str()),
        Some(domain.as_str())
    );
}

#[then(expr = "the triggering_event_sequence should be {int}")]
fn triggering_sequence(world: &mut Seed, sequence: u32) {
    assert_eq!(context(world).source_sequence(), Some(sequence));
}

#[then(expr = "the context correlation_id should be {string}")]
fn correlation(world: &mut Seed, id: String) {
    assert_eq!(context(world).correlation_id(), id);
}

#[given(
    regex = r#"^a CompensationContext (?:for rejected command|from "orders" aggregate at sequence (\d+)|from saga "([^"]+)"|from "orders" aggregate root "([^"]+)")$"#
)]
fn given_context(world: &mut Seed, sequence: String, saga: String, root_name: String) {
    let sequence = sequence.parse().unwrap_or(0);
    if !saga.is_empty() {
        world.notes.insert("saga", saga);
    }
    let name = if root_name.is_empty() {
        "order".to_owned()
    } else {
        root_name
    };
    let root = world.root(&name);
    world.notes.insert("source root", name);
    world.rejected = Some(saga_command(root, sequence, "workflow-0", "order-1"));
    build_context(world);
}

#[when("I build a RejectionNotification")]
fn build_rejection(world: &mut Seed) {
    if world.compensation.is_none() {
        build_context(world);
    }
    let context = context(world);
    world.rejection = Some((context.rejection_notification(), context.notification()));
}

fn rejection(world: &Seed) -> &RejectionNotification {
    &world
        .rejection
        .as_ref()
        .expect("a RejectionNotification was built")
        .0
}

/// The wire's `RejectionNotification` holds the command and the reason;
/// the issuer and the source travel in its `Notification`'s metadata.
fn notification_metadata<'a>(world: &'a Seed, key: &str) -> &'a str {
    let (_, notification) = world
        .rejection
        .as_ref()
        .expect("a RejectionNotification was built");
    notification.metadata.get(key).map_or("", String::as_str)
}

#[then("the notification should include the rejected command")]
fn notification_command(world: &mut Seed) {
    assert_eq!(
        rejection(world).rejected_command.as_ref(),
        world.rejected.as_ref()
    );
}

#[then("the notification should include the rejection reason")]
fn notification_reason(world: &mut Seed) {
    assert_eq!(rejection(world).rejection_reason, "out of stock");
}

#[then(regex = r#"^the (?:notification should have )?issuer_type (?:should be )?"([^"]+)"$"#)]
fn issuer_type(world: &mut Seed, kind: String) {
    assert_eq!(notification_metadata(world, metadata::ISSUER_TYPE), kind);
}

#[then(expr = "the issuer_name should be {string}")]
fn issuer_name(world: &mut Seed, name: String) {
    assert_eq!(notification_metadata(world, metadata::ISSUER_NAME), name);
}

#[then(expr = "the source_aggregate should have domain {string}")]
fn source_domain(world: &mut Seed, domain: String) {
    assert_eq!(
        notification_metadata(world, metadata::SOURCE_DOMAIN),
        domain
    );
    let root = world.root("order");
    assert_eq!(
        notification_metadata(world, metadata::SOURCE_ROOT),
        root.to_string()
    );
}

#[then(expr = "the source_event_sequence should be {int}")]
fn source_sequence(world: &mut Seed, sequence: u32) {
    assert_eq!(
        notification_metadata(world, metadata::SOURCE_SEQUENCE),
        sequence.to_string()
    );
}

#[when(regex = r"^I build a Notification from (?:the context|a CompensationContext)$")]
fn build_notification(world: &mut Seed) {
    if world.compensation.is_none() {
        build_context(world);
    }
    world.notification = Some(context(world).notification());
}

fn notification(world: &Seed) -> &Notification {
    world
        .notification
        .as_ref()
        .expect("a Notification was built")
}

#[then("the notification should have a cover")]
fn has_cover(world: &mut Seed) {
    let refused = world.rejected.as_ref().and_then(|b| b.cover.as_ref());
    assert_eq!(
        notification(world).cover.as_ref(),
        refused,
        "the refused command's cover"
    );
}

#[then("the notification payload should contain RejectionNotification")]
fn payload_rejection(world: &mut Seed) {
    let payload = notification(world).payload.as_ref().expect("a payload");
    let inner: RejectionNotification = payload.unpack().expect("a RejectionNotification");
    assert_eq!(inner.rejection_reason, "out of stock");
}

#[then(expr = "the payload type_url should be {string}")]
fn payload_url(world: &mut Seed, url: String) {
    assert_eq!(
        notification(world)
            .payload
            .as_ref()
            .expect("a payload")
            .type_url,
        url
    );
}

#[then("the notification should have a sent_at timestamp")]
fn has_sent_at(world: &mut Seed) {
    assert!(notification(world).sent_at.is_some());
}

#[then("the timestamp should be recent")]
fn recent(world: &mut Seed) {
    let sent =
        angzarr_client::proto::time::to_system_time(&notification(world).sent_at.expect("sent"))
            .expect("a valid time");
    let age = std::time::SystemTime::now()
        .duration_since(sent)
        .expect("not in the future");
    assert!(age < std::time::Duration::from_secs(60), "{age:?}");
}

#[when("I build a notification CommandBook")]
fn build_book(world: &mut Seed) {
    let book = context(world).command_book().expect("the source is known");
    world.built = vec![Ok(book)];
}

fn book(world: &Seed) -> &CommandBook {
    world.built[0].as_ref().expect("built")
}

#[then("the command book should target the source aggregate")]
fn targets_source(world: &mut Seed) {
    assert_eq!(book(world).cover.as_ref(), context(world).source());
    let payload = book(world).pages[0].command().expect("a payload");
    assert_eq!(payload.type_url, "type.angzarr.io/angzarr.Notification");
}

#[then("the command book should have MERGE_COMMUTATIVE strategy")]
fn commutative(world: &mut Seed) {
    assert_eq!(
        book(world).merge_strategy(),
        MergeStrategy::MergeCommutative
    );
}

#[then("the command book should preserve correlation ID")]
fn preserves_correlation(world: &mut Seed) {
    assert_eq!(
        book(world)
            .cover
            .as_ref()
            .map(|c| c.correlation_id.as_str()),
        Some("workflow-0")
    );
}

#[then(expr = "the command book cover should have domain {string}")]
fn book_domain(world: &mut Seed, domain: String) {
    assert_eq!(
        book(world).cover.as_ref().map(|c| c.domain.as_str()),
        Some(domain.as_str())
    );
}

#[then(expr = "the command book cover should have root {string}")]
fn book_root(world: &mut Seed, name: String) {
    let root = world.root(&name);
    assert_eq!(
        book(world).cover.as_ref().and_then(|c| c.root_uuid().ok()),
        Some(root)
    );
}

#[given(expr = "a command rejected with reason {string}")]
fn with_reason(world: &mut Seed, reason: String) {
    handling(world);
    world.notes.insert("reason", reason);
}

const STRUCTURED: &str = "precondition failed: {\"code\": \"INSUFFICIENT_STOCK\", \"requested\": 3, \"available\": 1,\n \"sku\": \"widget/blue\"}";

#[given("a command rejected with structured reason")]
fn structured(world: &mut Seed) {
    handling(world);
    world.notes.insert("reason", STRUCTURED.into());
}

#[then(expr = "the rejection_reason should be {string}")]
fn reason_is(world: &mut Seed, reason: String) {
    assert_eq!(rejection(world).rejection_reason, reason);
}

#[then("the rejection_reason should contain the full error details")]
fn full_details(world: &mut Seed) {
    assert_eq!(rejection(world).rejection_reason, STRUCTURED);
}

#[given("a saga command with specific payload")]
fn specific(world: &mut Seed) {
    handling(world);
    let root = world.root("order");
    world.rejected = Some(saga_command(
        root,
        4,
        "workflow-7",
        "order-with-a-very-specific-id",
    ));
}

#[then("the rejected_command should be the original command")]
fn original(world: &mut Seed) {
    notification_command(world);
}

#[then("all command fields should be preserved")]
fn fields_preserved(world: &mut Seed) {
    let command = rejection(world)
        .rejected_command
        .as_ref()
        .expect("the command");
    let reserve: ReserveStock = command.pages[0]
        .command()
        .expect("a payload")
        .unpack()
        .expect("ReserveStock");
    assert_eq!(reserve.order_id, "order-with-a-very-specific-id");
    let cover = command.cover.as_ref().expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.correlation_id.as_str()),
        ("inventory", "workflow-7")
    );
    assert_eq!(
        command.pages[0].header,
        world.rejected.as_ref().expect("sent").pages[0].header
    );
}

#[given("a nested saga scenario")]
fn nested(world: &mut Seed) {
    // orders → (order-fulfillment) → inventory → (inventory-order) → orders.
    let root = world.root("order");
    let outer = saga_command(root, 0, "workflow-n", "order-1");
    let inner = SagaTest::new(InventoryOrder)
        .with_source(Cover::new("inventory", root).with_correlation_id("workflow-n"))
        .at_sequence(2)
        .when(InventoryReserved {
            order_id: "order-1".into(),
        });
    world.outer = Some(outer);
    world.rejected = Some(inner.commands()[0].clone());
    world.notes.insert("saga", "inventory-order".into());
    world.notes.insert("reason", "order already shipped".into());
}

#[given("an inner saga command was rejected")]
fn inner_rejected(world: &mut Seed) {
    assert!(world.rejected.is_some() && world.outer.is_some());
}

#[then("the full saga origin chain should be preserved")]
fn chain(world: &mut Seed) {
    // The inner command names its source (the inventory's event at 2); the
    // outer one, which led to that event, names the order's event at 0.
    let root = world.root("order");
    assert_eq!(
        notification_metadata(world, metadata::SOURCE_DOMAIN),
        "inventory"
    );
    assert_eq!(notification_metadata(world, metadata::SOURCE_SEQUENCE), "2");
    assert_eq!(
        notification_metadata(world, metadata::ISSUER_NAME),
        "inventory-order"
    );
    let outer = CompensationContext::new(
        world.outer.clone().expect("outer"),
        "",
        ComponentKind::Saga,
        "order-fulfillment",
    );
    assert_eq!(
        outer
            .source()
            .map(|c| (c.domain.as_str(), c.root_uuid().ok())),
        Some(("orders", Some(root)))
    );
    assert_eq!(outer.source_sequence(), Some(0));
}

#[then("root cause can be traced through the chain")]
fn traced(world: &mut Seed) {
    // One correlation id runs through every command of the chain.
    let outer = world
        .outer
        .as_ref()
        .and_then(|b| b.cover.as_ref())
        .map(|c| c.correlation_id.clone());
    assert_eq!(outer.as_deref(), Some("workflow-n"));
    assert_eq!(context(world).correlation_id(), "workflow-n");
}

// Through angzarr-local, which builds the context itself.

#[given("a saga router handling rejections")]
fn saga_router(world: &mut Seed) {
    world.with_components(|components| components.saga = true);
}

#[when("a command execution fails with precondition error")]
async fn execution_fails(world: &mut Seed) {
    // The inventory refuses the reservation of an order it cannot stock.
    let root = world.root("doomed");
    world.subject = Some(("orders".into(), "doomed".into()));
    let client = world.client().await;
    let response = client
        .command("orders", root)
        .with_any(order_command("CreateOrder", "out-of-stock"))
        .with_sync_mode(SyncMode::Cascade)
        .execute()
        .await
        .expect("the order is created");
    assert!(
        response
            .cascade_errors
            .iter()
            .any(|e| e.error_message.contains("out of stock")),
        "{:?}",
        response.cascade_errors
    );
}

#[then("the router should build a CompensationContext")]
async fn built_context(world: &mut Seed) {
    world.backend().await.settled().await;
    let (domain, name) = world.subject.clone().expect("a subject");
    let pages: Vec<EventPage> = stored(world, &domain, &name).await;
    let reason = match domain.as_str() {
        "orders" => pages
            .iter()
            .find_map(|p| p.event_as::<OrderCancelled>().ok())
            .map(|c| c.reason),
        _ => pages
            .iter()
            .find_map(|p| p.event_as::<StockReleased>().ok())
            .map(|c| c.reason),
    };
    world.notes.insert(
        "compensated",
        reason.expect("the source aggregate compensated"),
    );
}

#[then("the router should emit a rejection notification")]
fn emitted(world: &mut Seed) {
    assert_eq!(
        world.note("compensated"),
        "saga order-fulfillment refused: out of stock"
    );
}

#[given("a process manager router")]
fn pm_router(world: &mut Seed) {
    world.with_components(|components| components.process_manager = true);
}

#[when("a PM command is rejected")]
async fn pm_rejected(world: &mut Seed) {
    // The workflow ships an order that was never created: refused.
    let root = world.root("stock");
    world.subject = Some(("inventory".into(), "stock".into()));
    let client = world.client().await;
    client
        .command("inventory", root)
        .with_any(Any::pack(&ReserveStock {
            order_id: "phantom".into(),
        }))
        .with_correlation_id("workflow-p")
        .with_sync_mode(SyncMode::Cascade)
        .execute()
        .await
        .expect("the stock is reserved");
}

#[then(expr = "the context should have issuer_type {string}")]
fn pm_issuer(world: &mut Seed, kind: String) {
    let compensated = world.note("compensated");
    assert!(
        compensated.starts_with(&format!("{kind} order-workflow refused: ")),
        "{compensated}"
    );
    assert!(
        compensated.ends_with("Order does not exist"),
        "{compensated}"
    );
}
