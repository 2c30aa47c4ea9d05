//! `state_building.feature`: state rebuilt from histories by the aggregate
//! runtime, with the `orders` aggregate (its state is also its snapshot).

use angzarr_client::aggregate::runtime::rebuild;
use angzarr_client::proto::{type_url, AnyExt, EventBook, EventPage, Snapshot};
use angzarr_client::Aggregate as _;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use prost_types::Any;

use crate::domains::{
    Count, Counter, Incremented, ItemAdded, Order, OrderCreated, OrderShipped, Orders,
};
use crate::world::Seed;

fn created() -> Any {
    Any::pack(&OrderCreated {
        order_id: "order-1".into(),
        customer_id: "customer-1".into(),
    })
}

fn item(sequence: u32) -> Any {
    Any::pack(&ItemAdded {
        item: format!("item-{sequence}"),
    })
}

fn event_named(name: &str, sequence: u32) -> Any {
    match name {
        "OrderCreated" | "A" => created(),
        "ItemAdded" | "B" => item(sequence),
        "OrderShipped" | "C" => Any::pack(&OrderShipped {
            carrier: "post".into(),
        }),
        other => panic!("no event {other}"),
    }
}

fn history(world: &mut Seed, pages: Vec<EventPage>, snapshot: Option<Snapshot>) {
    world.book = Some(EventBook {
        pages,
        snapshot,
        ..Default::default()
    });
}

/// The snapshot state: an order created elsewhere, nothing applied here.
fn snapshot_state() -> Order {
    Order {
        order_id: "from-snapshot".into(),
        applied: vec!["snapshot".into()],
        ..Default::default()
    }
}

fn snapshot_at(sequence: u32) -> Snapshot {
    Snapshot {
        sequence,
        state: Some(Any::pack(&snapshot_state())),
        ..Default::default()
    }
}

fn built(world: &Seed) -> &Order {
    match world.state.as_ref().expect("state was built") {
        Ok(order) => order,
        Err(error) => panic!("building state failed: {error}"),
    }
}

#[given("an aggregate type with default state")]
fn default_state(world: &mut Seed) {
    assert_eq!(Orders.new_state(), Order::default());
    world.book = Some(EventBook::default());
}

#[given(regex = r"^an (?:empty EventBook|EventBook with no events and no snapshot)$")]
fn empty_book(world: &mut Seed) {
    history(world, Vec::new(), None);
}

#[given("an EventBook")]
fn a_book(world: &mut Seed) {
    history(
        world,
        vec![EventPage::new(0, created()), EventPage::new(1, item(1))],
        Some(snapshot_at(0)),
    );
}

#[given(expr = "an EventBook with {int} event of type {string}")]
fn one_event(world: &mut Seed, count: u32, name: String) {
    let pages = (0..count)
        .map(|n| EventPage::new(n, event_named(&name, n)))
        .collect();
    history(world, pages, None);
}

#[given("an EventBook with events:")]
fn events_table(world: &mut Seed, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    let pages = table.rows[1..]
        .iter()
        .map(|row| {
            let sequence: u32 = row[0].trim().parse().expect("a sequence");
            EventPage::new(sequence, event_named(row[1].trim(), sequence))
        })
        .collect();
    history(world, pages, None);
}

#[given("an EventBook with events in order: A, B, C")]
fn in_order(world: &mut Seed) {
    let pages = ["A", "B", "C"]
        .iter()
        .zip(0..)
        .map(|(name, n)| EventPage::new(n, event_named(name, n)))
        .collect();
    history(world, pages, None);
}

#[given(expr = "an EventBook with a snapshot at sequence {int}")]
fn with_snapshot(world: &mut Seed, at: u32) {
    history(world, Vec::new(), Some(snapshot_at(at)));
}

#[given("no events in the EventBook")]
fn no_events(world: &mut Seed) {
    assert!(world.book.as_ref().expect("a book").pages.is_empty());
}

#[given("an EventBook with:")]
fn book_with(world: &mut Seed, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    let value = |key: &str| {
        table
            .rows
            .iter()
            .find(|row| row[0].trim() == key)
            .map(|row| row[1].trim().to_owned())
            .expect(key)
    };
    let at: u32 = value("snapshot_sequence").parse().expect("a sequence");
    let pages = super::numbers(&value("events"))
        .into_iter()
        .map(|n| EventPage::new(n, item(n)))
        .collect();
    history(world, pages, Some(snapshot_at(at)));
}

#[given("an EventBook with an event of unknown type")]
fn unknown_type(world: &mut Seed) {
    let unknown = Any {
        type_url: "type.googleapis.com/billing.InvoiceSent".into(),
        value: vec![1, 2, 3],
    };
    history(
        world,
        vec![
            EventPage::new(0, created()),
            EventPage::new(1, unknown),
            EventPage::new(2, item(2)),
        ],
        None,
    );
}

#[when(
    regex = r"^I (?:build state from the EventBook|attempt to build state|build state|build state from events|build state from these events)$"
)]
fn build(world: &mut Seed) {
    if world.book.is_none() {
        // An event a previous step gave on its own.
        history(world, world.pages.clone(), None);
    }
    let book = world.book.clone().expect("a book");
    world.state = Some(
        rebuild(&Orders, Some(&book))
            .map(|(state, next)| {
                world.counts.insert("next", next as usize);
                state
            })
            .map_err(|error| error.to_string()),
    );
    world.original = Some(book);
}

#[then("the state should be the default state")]
fn is_default(world: &mut Seed) {
    assert_eq!(built(world), &Order::default());
}

#[then(regex = r"^no events should (?:have been|be) applied$")]
fn none_applied(world: &mut Seed) {
    let applied = &built(world).applied;
    assert!(
        applied.is_empty() || applied == &["snapshot"],
        "{applied:?}"
    );
}

#[then("the state should reflect the OrderCreated event")]
fn reflects_created(world: &mut Seed) {
    assert_eq!(built(world).applied, ["OrderCreated"]);
    assert_eq!(built(world).customer_id, "customer-1");
}

#[then("the state should have order_id set")]
fn order_id_set(world: &mut Seed) {
    assert_eq!(built(world).order_id, "order-1");
}

#[then(expr = "the state should reflect all {int} events")]
fn reflects_all(world: &mut Seed, count: usize) {
    assert_eq!(built(world).applied.len(), count);
}

#[then(regex = r"^the (?:built )?state should have (\d+) items$")]
fn has_items(world: &mut Seed, count: usize) {
    assert_eq!(built(world).items.len(), count);
}

#[then("events should be applied as A, then B, then C")]
fn applied_in_order(world: &mut Seed) {
    assert_eq!(
        built(world).applied,
        ["OrderCreated", "ItemAdded", "OrderShipped"]
    );
}

#[then("final state should reflect the correct order")]
fn correct_order(world: &mut Seed) {
    let order = built(world);
    assert!(order.shipped && order.items == ["item-1"] && order.order_id == "order-1");
}

#[then("the state should equal the snapshot state")]
fn equals_snapshot(world: &mut Seed) {
    assert_eq!(built(world), &snapshot_state());
}

#[then("the state should start from snapshot")]
fn from_snapshot(world: &mut Seed) {
    assert_eq!(built(world).order_id, "from-snapshot");
    assert_eq!(built(world).applied[0], "snapshot");
}

fn applied_items(world: &Seed) -> Vec<u32> {
    built(world)
        .items
        .iter()
        .map(|item| {
            item.trim_start_matches("item-")
                .parse()
                .expect("a sequence")
        })
        .collect()
}

#[then(regex = r"^only events (?:at seq )?([0-9, and]+) should be applied$")]
fn only_applied(world: &mut Seed, list: String) {
    assert_eq!(applied_items(world), super::numbers(&list));
}

#[then(regex = r"^events at seq ([0-9, and]+) should NOT be applied$")]
fn not_applied(world: &mut Seed, list: String) {
    let applied = applied_items(world);
    assert!(
        super::numbers(&list).iter().all(|n| !applied.contains(n)),
        "{applied:?}"
    );
}

#[then("the unknown event should be skipped")]
fn skipped(world: &mut Seed) {
    assert_eq!(built(world).applied, ["OrderCreated", "ItemAdded"]);
}

#[then("no error should occur")]
fn no_error(world: &mut Seed) {
    match (&world.state, &world.decoded) {
        (Some(state), _) => assert!(state.is_ok(), "{state:?}"),
        (None, Some(decoded)) => assert!(decoded.is_ok(), "{decoded:?}"),
        (None, None) => panic!("nothing was built or decoded"),
    }
}

#[then("other events should still be applied")]
fn others_applied(world: &mut Seed) {
    assert_eq!(built(world).items, ["item-2"]);
}

#[given(expr = "initial state with field value {int}")]
fn initial(world: &mut Seed, value: i64) {
    world.count = Some(Count { value });
}

#[given(expr = "an event that increments field by {int}")]
fn increments(world: &mut Seed, amount: i64) {
    world.increments = vec![amount];
}

#[given(expr = "events that increment by {int}, {int}, and {int}")]
fn increments_by(world: &mut Seed, a: i64, b: i64, c: i64) {
    world.increments = vec![a, b, c];
}

#[when(regex = r"^I apply (?:the event|all events) to state$")]
fn apply_to_state(world: &mut Seed) {
    let mut count = world.count.take().expect("an initial state");
    for amount in world.increments.clone() {
        let event = Any::pack(&Incremented {
            amount,
            value: count.value + amount,
        });
        assert!(
            Counter.apply(&mut count, &event).expect("applies"),
            "the counter applies Incremented"
        );
    }
    world.count = Some(count);
}

#[then(expr = "the field should equal {int}")]
fn field_equals(world: &mut Seed, value: i64) {
    assert_eq!(world.count.as_ref().expect("a state").value, value);
}

#[given("events wrapped in google.protobuf.Any")]
fn wrapped(world: &mut Seed) {
    let pages = vec![EventPage::new(0, created()), EventPage::new(1, item(1))];
    assert!(pages.iter().all(|page| page
        .event()
        .is_some_and(|e| e.type_url.starts_with("type.googleapis.com/"))));
    history(world, pages, None);
}

#[then("the Any wrapper should be unpacked")]
fn unpacked(world: &mut Seed) {
    assert_eq!(
        built(world).customer_id,
        "customer-1",
        "the payload was decoded"
    );
}

#[then("the typed event should be applied")]
fn typed_applied(world: &mut Seed) {
    assert_eq!(built(world).applied, ["OrderCreated", "ItemAdded"]);
}

#[when(regex = r"^I apply the event$")]
fn apply_event(world: &mut Seed) {
    let event = world.pages[0].event().expect("an event").clone();
    let mut order = Order::default();
    let applied = Orders
        .apply(&mut order, &event)
        .map_err(|error| error.to_string());
    world.notes.insert("applied", format!("{applied:?}"));
    world.state = Some(Ok(order));
}

#[then(regex = r"^the ItemAdded handler should be invoked$")]
fn item_handler(world: &mut Seed) {
    assert_eq!(world.note("applied"), "Ok(true)");
    assert_eq!(built(world).applied, ["ItemAdded"]);
    assert_eq!(built(world).items, ["widget"]);
}

#[then("the type_url suffix should match the handler")]
fn suffix_matches(world: &mut Seed) {
    let url = &world.pages[0].event().expect("an event").type_url;
    assert!(type_url::name_ends_with(url, "ItemAdded") && type_url::matches::<ItemAdded>(url));
}

#[then("an error should be raised")]
fn raised(world: &mut Seed) {
    assert!(world.state.as_ref().expect("built").is_err());
}

#[then("the error should indicate deserialization failure")]
fn deserialization(world: &mut Seed) {
    let error = match (&world.state, &world.router) {
        (Some(Err(error)), _) => error.clone(),
        (_, Some(Err(error))) => error.clone(),
        other => panic!("nothing failed: {other:?}"),
    };
    assert!(
        error.contains("orders.OrderCreated") && error.contains("decode"),
        "{error}"
    );
}

#[given("an event missing a required field")]
fn missing_field(world: &mut Seed) {
    let event = Any::pack(&OrderCreated {
        order_id: String::new(),
        customer_id: "customer-1".into(),
    });
    world.pages = vec![EventPage::new(0, event)];
}

#[then("the behavior depends on language")]
fn depends(world: &mut Seed) {
    // proto3 has no required fields: a field left out decodes as its
    // default, and the state records it as it came.
    assert!(world.state.as_ref().expect("built").is_ok());
}

#[then("either default value is used or error is raised")]
fn default_used(world: &mut Seed) {
    assert_eq!(built(world).order_id, "");
    assert_eq!(built(world).applied, ["OrderCreated"]);
}

#[given(expr = "an EventBook with events up to sequence {int}")]
fn up_to(world: &mut Seed, last: u32) {
    history(
        world,
        (0..=last).map(|n| EventPage::new(n, item(n))).collect(),
        None,
    );
}

#[given(expr = "an EventBook with snapshot at sequence {int} and no events")]
fn snapshot_only(world: &mut Seed, at: u32) {
    history(world, Vec::new(), Some(snapshot_at(at)));
}

#[given(expr = "an EventBook with snapshot at {int} and events up to {int}")]
fn snapshot_and_events(world: &mut Seed, at: u32, last: u32) {
    history(
        world,
        (at + 1..=last)
            .map(|n| EventPage::new(n, item(n)))
            .collect(),
        Some(snapshot_at(at)),
    );
}

#[when("I get next_sequence")]
fn get_next(world: &mut Seed) {
    build(world);
}

#[then(expr = "next_sequence should be {int}")]
fn next_is(world: &mut Seed, next: usize) {
    assert_eq!(world.counts["next"], next);
    assert_eq!(
        world
            .book
            .as_ref()
            .expect("a book")
            .computed_next_sequence() as usize,
        next
    );
}

#[then("the EventBook should be unchanged")]
fn unchanged(world: &mut Seed) {
    assert_eq!(world.original, world.book);
}

#[then("the EventBook events should still be present")]
fn still_present(world: &mut Seed) {
    assert!(!world.book.as_ref().expect("a book").pages.is_empty());
}

#[given("an existing state object")]
fn existing(world: &mut Seed) {
    world.existing = Some(Order {
        order_id: "existing".into(),
        ..Default::default()
    });
    history(world, vec![EventPage::new(0, created())], None);
}

#[then("a new state object should be returned")]
fn new_state(world: &mut Seed) {
    assert_eq!(built(world).order_id, "order-1");
}

#[then("the original state should be unchanged")]
fn original_unchanged(world: &mut Seed) {
    assert_eq!(
        world.existing.as_ref().expect("a state").order_id,
        "existing"
    );
}

#[given(regex = r"^an? (?:build_state|_apply_event) function$")]
fn function(world: &mut Seed) {
    history(
        world,
        vec![
            EventPage::new(0, created()),
            EventPage::new(1, item(1)),
            EventPage::new(2, item(2)),
        ],
        None,
    );
}

#[when("I call build_state(state, events)")]
fn call_build_state(world: &mut Seed) {
    // `Aggregate::apply` is the per-event step; `rebuild` folds a book.
    let book = world.book.clone().expect("a book");
    let mut state = Orders.new_state();
    let mut unpacked = 0;
    for page in &book.pages {
        let event = page.event().expect("an event");
        if Orders.apply(&mut state, event).expect("applies") {
            unpacked += 1;
        }
    }
    world.counts.insert("unpacked", unpacked);
    let (rebuilt, _) = rebuild(&Orders, Some(&book)).expect("rebuilds");
    assert_eq!(rebuilt, state, "rebuild folds the same way");
    world.state = Some(Ok(state));
}

#[then("each event should be unpacked from Any")]
fn each_unpacked(world: &mut Seed) {
    assert_eq!(built(world).items, ["item-1", "item-2"]);
}

#[then("_apply_event should be called for each")]
fn called_for_each(world: &mut Seed) {
    assert_eq!(world.counts["unpacked"], 3);
    assert_eq!(built(world).applied.len(), 3);
}

#[then("final state should be returned")]
fn final_state(world: &mut Seed) {
    assert_eq!(built(world).order_id, "order-1");
}

#[when("I call _apply_event(state, event_any)")]
fn call_apply_event(world: &mut Seed) {
    let event = item(7);
    let mut state = Order::default();
    let applied = Orders
        .apply(&mut state, &event)
        .map_err(|error| error.to_string());
    world.notes.insert("applied", format!("{applied:?}"));
    world.state = Some(Ok(state));
}

#[then("the event should be unpacked")]
fn event_unpacked(world: &mut Seed) {
    assert_eq!(built(world).items, ["item-7"]);
}

#[then("the correct type handler should be invoked")]
fn correct_handler(world: &mut Seed) {
    assert_eq!(world.note("applied"), "Ok(true)");
    assert_eq!(built(world).applied, ["ItemAdded"]);
}

#[then("state should be mutated")]
fn mutated(world: &mut Seed) {
    assert_ne!(built(world), &Order::default());
}
