//! `query_client.feature`: reading histories.

use angzarr_client::proto::{AnyExt, EventPage, Snapshot};
use cucumber::{given, then, when};
use prost_types::{Any, Timestamp};

use super::{order_command, order_with_events, send};
use crate::domains::{OrderCreated, OrderSummary};
use crate::world::Seed;

#[given(regex = r#"^an aggregate "([^"]+)" with root "([^"]+)" has (\d+) events$"#)]
async fn has_events(world: &mut Seed, domain: String, name: String, count: u32) {
    order_with_events(world, &domain, &name, count).await;
}

#[given(expr = "an aggregate {string} with root {string} has event {string} with data {string}")]
async fn has_event(world: &mut Seed, domain: String, name: String, event: String, data: String) {
    assert_eq!(event, "OrderCreated", "CreateOrder records OrderCreated");
    world.subject = Some((domain.clone(), name.clone()));
    let root = world.root(&name);
    let client = world.client().await;
    send(
        &client,
        &domain,
        root,
        0,
        order_command("CreateOrder", &data),
    )
    .await
    .expect("the order is created");
}

async fn read(
    world: &mut Seed,
    domain: &str,
    name: &str,
    shape: impl FnOnce(angzarr_client::QueryBuilder) -> angzarr_client::QueryBuilder,
) {
    let root = world.root(name);
    let client = world.client().await;
    let result = shape(client.query(domain, root)).get_event_book().await;
    world.book = world.record(result);
}

#[when(expr = "I query events for {string} root {string}")]
async fn query(world: &mut Seed, domain: String, name: String) {
    read(world, &domain, &name, |q| q).await;
}

#[when(expr = "I query events for {string} root {string} from sequence {int}")]
async fn from(world: &mut Seed, domain: String, name: String, lower: u32) {
    read(world, &domain, &name, |q| q.range(lower..)).await;
}

#[when(expr = "I query events for {string} root {string} from sequence {int} to {int}")]
async fn from_to(world: &mut Seed, domain: String, name: String, lower: u32, upper: u32) {
    // "From 3 to 7" as a Rust range: 3..7, the upper bound excluded.
    read(world, &domain, &name, |q| q.range(lower..upper)).await;
}

#[when(expr = "I query events for {string} root {string} as of sequence {int}")]
async fn as_of(world: &mut Seed, domain: String, name: String, at: u32) {
    read(world, &domain, &name, |q| q.as_of_sequence(at)).await;
}

#[when(expr = "I query events for {string} root {string} as of time {string}")]
async fn as_of_time(world: &mut Seed, domain: String, name: String, at: String) {
    read(world, &domain, &name, |q| q.as_of_rfc3339(&at)).await;
}

async fn in_edition(world: &mut Seed, domain: String, name: String, edition: String) {
    read(world, &domain, &name, |q| q.edition(edition)).await;
}

pub fn book_pages(world: &Seed) -> &[EventPage] {
    match (&world.book, &world.failure) {
        (Some(book), None) => &book.pages,
        (_, Some(error)) => panic!("the query failed: {error}"),
        (None, None) => panic!("no query ran"),
    }
}

#[then(regex = r"^I should receive an EventBook with (\d+) events?$")]
fn receives(world: &mut Seed, count: usize) {
    assert_eq!(book_pages(world).len(), count);
}

#[then(expr = "the next_sequence should be {int}")]
fn next_sequence(world: &mut Seed, next: u32) {
    assert_eq!(world.book.as_ref().expect("a book").next_sequence, next);
}

#[then(expr = "events should be in sequence order {int} to {int}")]
fn in_order(world: &mut Seed, first: u32, last: u32) {
    let sequences: Vec<_> = book_pages(world)
        .iter()
        .filter_map(EventPage::sequence)
        .collect();
    assert_eq!(sequences, (first..=last).collect::<Vec<_>>());
}

#[then(expr = "the first event should have type {string}")]
fn first_type(world: &mut Seed, name: String) {
    assert_eq!(super::short_type(&book_pages(world)[0]), name);
}

#[then(expr = "the first event should have payload {string}")]
fn first_payload(world: &mut Seed, data: String) {
    let event = book_pages(world)[0].event().expect("an event");
    assert_eq!(
        event.unpack::<OrderCreated>().expect("decodes").customer_id,
        data
    );
}

#[then(regex = r"^the (first|last) event should have sequence (\d+)$")]
fn edge_sequence(world: &mut Seed, which: String, sequence: u32) {
    let pages = book_pages(world);
    let page = if which == "first" {
        pages.first()
    } else {
        pages.last()
    };
    assert_eq!(page.and_then(EventPage::sequence), Some(sequence));
}

/// 2024-01-15T10:00:00Z plus `minutes`.
fn at_minutes(minutes: i64) -> Timestamp {
    Timestamp {
        seconds: 1_705_312_800 + minutes * 60,
        nanos: 0,
    }
}

#[given(expr = "an aggregate {string} with root {string} has events at known timestamps")]
async fn at_known_times(world: &mut Seed, domain: String, name: String) {
    world.subject = Some((domain.clone(), name.clone()));
    let root = world.root(&name);
    // Events at 10:00, 10:20, 10:40 and 11:00 on 2024-01-15.
    let pages: Vec<EventPage> = (0..4)
        .map(|n| {
            let mut page = EventPage::new(n, order_command("AddItem", &format!("item-{n}")));
            page.created_at = Some(at_minutes(i64::from(n) * 20));
            page
        })
        .collect();
    world.backend().await.write(&domain, root, &pages, None);
}

#[then("I should receive events up to that timestamp")]
fn up_to_that_time(world: &mut Seed) {
    let times: Vec<i64> = book_pages(world)
        .iter()
        .map(|page| page.created_at.expect("stamped").seconds)
        .collect();
    // 10:30 falls after the events of 10:00 and 10:20, before 10:40.
    assert_eq!(times, vec![at_minutes(0).seconds, at_minutes(20).seconds]);
}

#[given(expr = "an aggregate {string} with root {string} in edition {string}")]
async fn in_an_edition(world: &mut Seed, domain: String, name: String, edition: String) {
    world.subject = Some((domain.clone(), name.clone()));
    let root = world.root(&name);
    let client = world.client().await;
    // One event on main, then two on the edition, which continue from it.
    send(
        &client,
        &domain,
        root,
        0,
        order_command("CreateOrder", "main"),
    )
    .await
    .expect("main");
    for (sequence, item) in [(1, "edition-1"), (2, "edition-2")] {
        client
            .command(&domain, root)
            .with_any(order_command("AddItem", item))
            .with_sequence(sequence)
            .with_edition(edition.clone())
            .execute()
            .await
            .expect("written on the edition");
    }
}

#[then("I should receive events from that edition only")]
async fn from_edition_only(world: &mut Seed) {
    // A named edition's history is main up to where it diverged, then its
    // own events; the edition's events are not on main.
    let items: Vec<String> = book_pages(world)
        .iter()
        .filter_map(|page| page.event()?.unpack::<crate::domains::ItemAdded>().ok())
        .map(|item| item.item)
        .collect();
    assert_eq!(items, ["edition-1", "edition-2"]);
    let (domain, name) = world.subject.clone().expect("a subject");
    let main = super::stored(world, &domain, &name).await;
    assert_eq!(main.len(), 1, "main holds only its own event");
}

#[given(expr = "an aggregate {string} with root {string} has {int} events in main")]
async fn in_main(world: &mut Seed, domain: String, name: String, count: u32) {
    order_with_events(world, &domain, &name, count).await;
}

#[given(expr = "an aggregate {string} with root {string} has {int} events in edition {string}")]
async fn events_in_edition(
    world: &mut Seed,
    domain: String,
    name: String,
    count: u32,
    edition: String,
) {
    let root = world.root(&name);
    let client = world.client().await;
    // Diverged from main at sequence 0: the edition's history is its own.
    for sequence in 0..count {
        let command = if sequence == 0 {
            order_command("CreateOrder", "edition")
        } else {
            order_command("AddItem", "edition-item")
        };
        let mut book = client
            .command(&domain, root)
            .with_any(command)
            .with_sequence(sequence)
            .with_edition(edition.clone())
            .build()
            .expect("a complete command");
        diverge_at_zero(book.cover.as_mut().expect("a cover"), &domain);
        client
            .aggregate()
            .handle(book)
            .await
            .expect("written on the edition");
    }
    world.notes.insert("diverged", edition);
}

fn diverge_at_zero(cover: &mut angzarr_client::proto::Cover, domain: &str) {
    let edition = cover.edition.get_or_insert_with(Default::default);
    edition.divergences = vec![angzarr_client::proto::DomainDivergence {
        domain: domain.to_owned(),
        sequence: 0,
    }];
}

#[when(expr = "I query events for {string} root {string} in edition {string}")]
async fn query_in_edition(world: &mut Seed, domain: String, name: String, edition: String) {
    if world.notes.get("diverged") == Some(&edition) {
        let root = world.root(&name);
        let client = world.client().await;
        let mut query = client
            .query(&domain, root)
            .edition(edition)
            .build()
            .expect("a query");
        diverge_at_zero(query.cover.as_mut().expect("a cover"), &domain);
        let result = client.queries().get_event_book(query).await;
        world.book = world.record(result);
    } else {
        in_edition(world, domain, name, edition).await;
    }
}

#[given(expr = "events with correlation ID {string} exist in multiple aggregates")]
async fn correlated(world: &mut Seed, correlation_id: String) {
    let client = world.client().await;
    for name in ["order-a", "order-b"] {
        let root = world.root(name);
        client
            .command("orders", root)
            .with_any(order_command("CreateOrder", name))
            .with_correlation_id(correlation_id.clone())
            .execute()
            .await
            .expect("created");
    }
    let root = world.root("stock");
    client
        .command("inventory", root)
        .with_any(Any::pack(&crate::domains::ReserveStock {
            order_id: "order-a".into(),
        }))
        .with_correlation_id(correlation_id)
        .execute()
        .await
        .expect("reserved");
    // And one that is not correlated.
    let other = world.root("order-c");
    send(
        &client,
        "orders",
        other,
        0,
        order_command("CreateOrder", "c"),
    )
    .await
    .expect("created");
}

#[when(expr = "I query events by correlation ID {string}")]
async fn by_correlation(world: &mut Seed, correlation_id: String) {
    let client = world.client().await;
    let query = client
        .query_domain("orders")
        .by_correlation_id(correlation_id)
        .build()
        .expect("a query");
    let result = client.queries().get_events_collected(query).await;
    world.books = world.record(result).unwrap_or_default();
}

#[then("I should receive events from all correlated aggregates")]
fn from_all(world: &mut Seed) {
    let mut seen: Vec<(String, uuid::Uuid)> = world
        .books
        .iter()
        .map(|book| {
            let cover = book.cover.as_ref().expect("a cover");
            (cover.domain.clone(), cover.root_uuid().expect("a root"))
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        ("inventory".to_owned(), world.root("stock")),
        ("orders".to_owned(), world.root("order-a")),
        ("orders".to_owned(), world.root("order-b")),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}

#[then("I should receive no events")]
fn no_events(world: &mut Seed) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    assert!(
        world.books.iter().all(|book| book.pages.is_empty()),
        "{:?}",
        world.books
    );
}

#[given(
    expr = "an aggregate {string} with root {string} has a snapshot at sequence {int} and {int} events"
)]
async fn with_snapshot(world: &mut Seed, domain: String, name: String, at: u32, count: u32) {
    order_with_events(world, &domain, &name, count).await;
    let root = world.root(&name);
    let snapshot = Snapshot {
        sequence: at,
        state: Some(Any::pack(&OrderSummary {
            events_seen: at + 1,
            items: at,
            last_sequence: at,
        })),
        ..Default::default()
    };
    // The snapshot is stored beside the history, as an aggregate's
    // returned state is.
    let backend = world.backend().await;
    let page = EventPage::new(count, order_command("AddItem", "after-snapshot"));
    backend.write(&domain, root, &[page], Some(&snapshot));
    world.counts.insert("snapshot", at as usize);
}

#[then("the EventBook should include the snapshot")]
fn includes_snapshot(world: &mut Seed) {
    // Queries answer with every page and no snapshot (the coordinator's
    // GetEventBook); snapshots are for the aggregate's ContextualCommand.
    let book = world.book.as_ref().expect("a book");
    assert!(book.snapshot.is_none());
    let sequences: Vec<u32> = book.pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, (0..=10).collect::<Vec<_>>());
}

#[then(expr = "the returned snapshot should be at sequence {int}")]
async fn snapshot_at(world: &mut Seed, at: u32) {
    use angzarr_local::EventStore as _;
    let (domain, root) = world.subject();
    let key = angzarr_local::AggregateKey {
        domain,
        edition: angzarr_client::proto::DEFAULT_EDITION.into(),
        root,
    };
    let stored = world
        .backend()
        .await
        .store
        .snapshot(&key)
        .expect("read")
        .expect("a snapshot");
    assert_eq!(stored.sequence, at);
}

#[when("I query events with empty domain")]
async fn empty_domain(world: &mut Seed) {
    let client = world.client().await;
    let result = client
        .query("", uuid::Uuid::new_v4())
        .get_event_book()
        .await;
    world.book = world.record(result);
}

#[given("the query service is unavailable")]
async fn unavailable(world: &mut Seed) {
    world.connected = Some(super::unreachable_client().await);
}

#[when("I attempt to query events")]
async fn attempt(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let result = client
        .query("orders", uuid::Uuid::new_v4())
        .get_event_book()
        .await;
    world.book = world.record(result);
}
