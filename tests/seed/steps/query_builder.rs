//! `query_builder.feature`: what `client.query(..)` builds and reads,
//! against the recording stand-in for a coordinator.

use angzarr_client::proto::{query, temporal_query, EventPage, Query};
use angzarr_client::testing::FakeCoordinator;
use angzarr_client::{ClientError, QueryBuilder};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use crate::domains::{ItemAdded, OrderCreated};
use crate::world::Seed;

#[given(regex = r"^a (mock QueryClient for testing|QueryClient implementation)$")]
fn query_client(world: &mut Seed) {
    let fake = FakeCoordinator::new();
    world.connected = Some(fake.client());
    world.fake = Some(fake);
}

fn start(world: &mut Seed, domain: &str, root: Option<&str>) {
    let client = world.connected.clone().expect("a client");
    world.query_builder = Some(match root {
        Some(name) => {
            let root = world.root(name);
            client.query(domain, root)
        }
        None => client.query_domain(domain),
    });
}

fn change(world: &mut Seed, f: impl FnOnce(QueryBuilder) -> QueryBuilder) {
    let current = world.query_builder.take().expect("no query is being built");
    world.query_builder = Some(f(current));
}

fn built(world: &Seed) -> Result<Query, ClientError> {
    world
        .query_builder
        .as_ref()
        .expect("no query is being built")
        .build()
}

fn query(world: &Seed) -> Query {
    built(world).unwrap_or_else(|error| panic!("building the query failed: {error}"))
}

#[when(expr = "I build a query for domain {string} root {string}")]
fn for_root(world: &mut Seed, domain: String, root: String) {
    start(world, &domain, Some(&root));
}

#[when(regex = r#"^I build a query for domain "([^"]+)"(?: without root)?$"#)]
fn for_domain(world: &mut Seed, domain: String) {
    start(world, &domain, None);
}

#[then(expr = "the built query should have domain {string}")]
fn has_domain(world: &mut Seed, domain: String) {
    assert_eq!(query(world).cover.expect("a cover").domain, domain);
}

#[then(expr = "the built query should have root {string}")]
fn has_root(world: &mut Seed, name: String) {
    let root = world.root(&name);
    assert_eq!(
        query(world).cover.expect("a cover").root_uuid().ok(),
        Some(root)
    );
}

#[then("the built query should have no root")]
fn no_root(world: &mut Seed) {
    assert!(query(world).cover.expect("a cover").root.is_none());
}

#[when(expr = "I set range from {int}")]
fn range_from(world: &mut Seed, lower: u32) {
    change(world, |q| q.range(lower..));
}

#[when(expr = "I set range from {int} to {int}")]
fn range_to(world: &mut Seed, lower: u32, upper: u32) {
    // The wire's upper bound is inclusive: "to 15" is `..=15`.
    change(world, |q| q.range(lower..=upper));
}

fn range(world: &Seed) -> angzarr_client::proto::SequenceRange {
    match query(world).selection {
        Some(query::Selection::Range(range)) => range,
        other => panic!("not a range selection: {other:?}"),
    }
}

#[then("the built query should have range selection")]
fn has_range(world: &mut Seed) {
    range(world);
}

#[then(expr = "the range lower bound should be {int}")]
fn lower_bound(world: &mut Seed, lower: u32) {
    assert_eq!(range(world).lower, lower);
}

#[then("the range upper bound should be empty")]
fn upper_empty(world: &mut Seed) {
    assert_eq!(range(world).upper, None);
}

#[then(expr = "the range upper bound should be {int}")]
fn upper_bound(world: &mut Seed, upper: u32) {
    assert_eq!(range(world).upper, Some(upper));
}

#[when(expr = "I set as_of_sequence to {int}")]
fn as_of_sequence(world: &mut Seed, at: u32) {
    change(world, |q| q.as_of_sequence(at));
}

#[when(expr = "I set as_of_time to {string}")]
fn as_of_time(world: &mut Seed, at: String) {
    change(world, |q| q.as_of_rfc3339(&at));
}

fn point(world: &Seed) -> temporal_query::PointInTime {
    match query(world).selection {
        Some(query::Selection::Temporal(temporal)) => temporal.point_in_time.expect("a point"),
        other => panic!("not a temporal selection: {other:?}"),
    }
}

#[then(regex = r"^the (?:built )?query should have temporal selection(?: \(last set\))?$")]
fn has_temporal(world: &mut Seed) {
    point(world);
}

#[then(expr = "the point_in_time should be sequence {int}")]
fn point_is_sequence(world: &mut Seed, at: u32) {
    assert_eq!(point(world), temporal_query::PointInTime::AsOfSequence(at));
}

#[then("the point_in_time should be the parsed timestamp")]
fn point_is_time(world: &mut Seed) {
    // 2024-01-15T10:30:00Z
    let expected = prost_types::Timestamp {
        seconds: 1_705_314_600,
        nanos: 0,
    };
    assert_eq!(
        point(world),
        temporal_query::PointInTime::AsOfTime(expected)
    );
}

#[then("query building should fail")]
fn building_fails(world: &mut Seed) {
    built(world).expect_err("building fails");
}

#[then("the error should indicate invalid timestamp")]
fn invalid_timestamp(world: &mut Seed) {
    let error = built(world).expect_err("building fails");
    assert!(
        matches!(error, ClientError::InvalidTimestamp(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("not-a-timestamp"), "{error}");
}

#[when(expr = "I set by_correlation_id to {string}")]
fn by_correlation(world: &mut Seed, id: String) {
    change(world, |q| q.by_correlation_id(id));
}

#[then(expr = "the built query should have correlation ID {string}")]
fn has_correlation(world: &mut Seed, id: String) {
    assert_eq!(query(world).cover.expect("a cover").correlation_id, id);
}

#[when(expr = "I set edition to {string}")]
fn set_edition(world: &mut Seed, edition: String) {
    change(world, |q| q.edition(edition));
}

#[then(expr = "the built query should have edition {string}")]
fn has_edition(world: &mut Seed, edition: String) {
    let cover = query(world).cover.expect("a cover");
    assert_eq!(cover.edition.map(|e| e.name), Some(edition));
}

#[then("the built query should have no edition")]
fn no_edition(world: &mut Seed) {
    assert!(query(world).cover.expect("a cover").edition.is_none());
}

#[then("the query should target main timeline")]
fn main_timeline(world: &mut Seed) {
    assert!(query(world).cover.expect("a cover").is_main_timeline());
}

#[when("I build a query using fluent chaining:")]
fn fluent(world: &mut Seed, step: &Step) {
    let text = step.docstring.as_deref().expect("the chain");
    assert!(text.contains(r#".edition("test-branch")"#) && text.contains(".range(10)"));
    start(world, "orders", Some("chained"));
    change(world, |q| q.edition("test-branch").range(10..));
}

#[then("the query build should succeed")]
fn build_succeeds(world: &mut Seed) {
    built(world).expect("the query builds");
}

#[then("all chained query values should be preserved")]
fn chained(world: &mut Seed) {
    let root = world.root("chained");
    let query = query(world);
    let cover = query.cover.expect("a cover");
    assert_eq!(cover.domain, "orders");
    assert_eq!(cover.root_uuid().ok(), Some(root));
    assert_eq!(
        cover.edition.map(|e| e.name).as_deref(),
        Some("test-branch")
    );
    assert_eq!(range(world).lower, 10);
}

#[when("I build a query with:")]
fn last_wins(world: &mut Seed, step: &Step) {
    let text = step.docstring.as_deref().expect("the chain");
    assert!(text.contains(".range(5)") && text.contains(".as_of_sequence(10)"));
    start(world, "orders", Some("last"));
    change(world, |q| q.range(5..).as_of_sequence(10));
}

#[then("the range selection should be replaced")]
fn range_replaced(world: &mut Seed) {
    assert_eq!(point(world), temporal_query::PointInTime::AsOfSequence(10));
}

fn given_history(world: &mut Seed, name: &str) {
    let root = world.root(name);
    let fake = world.fake.as_ref().expect("a fake");
    fake.given("orders", root, [OrderCreated::default()]);
    fake.given("orders", root, [ItemAdded::default(), ItemAdded::default()]);
}

#[when(expr = "I build and get_events for domain {string} root {string}")]
async fn get_events(world: &mut Seed, domain: String, name: String) {
    given_history(world, &name);
    let root = world.root(&name);
    let client = world.connected.clone().expect("a client");
    let result = client.query(&domain, root).get_event_book().await;
    world.book = world.record(result);
    world.notes.insert("name", name);
}

#[then("the query should be sent to the query service")]
fn sent(world: &mut Seed) {
    let queries = world.fake.as_ref().expect("a fake").queries();
    assert_eq!(queries.len(), 1);
    let root = world.root(&world.notes["name"].clone());
    assert_eq!(
        queries[0].cover.as_ref().and_then(|c| c.root_uuid().ok()),
        Some(root)
    );
}

#[then("an EventBook should be returned")]
fn book_returned(world: &mut Seed) {
    let book = world.book.as_ref().expect("a book");
    assert_eq!(book.pages.len(), 3);
    assert_eq!(book.next_sequence, 3);
}

#[when(expr = "I build and get_pages for domain {string} root {string}")]
async fn get_pages(world: &mut Seed, domain: String, name: String) {
    given_history(world, &name);
    let root = world.root(&name);
    let client = world.connected.clone().expect("a client");
    let pages = world
        .record(client.query(&domain, root).get_pages().await)
        .expect("pages");
    world.pages = pages;
}

#[then("only the event pages should be returned")]
fn only_pages(world: &mut Seed) {
    let sequences: Vec<u32> = world.pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, vec![0, 1, 2]);
}

#[then("the EventBook metadata should be stripped")]
fn stripped(world: &mut Seed) {
    // `get_pages` answers `Vec<EventPage>`: no cover, snapshot or
    // next_sequence to carry; the pages are the book's, unchanged.
    let pages: &Vec<EventPage> = &world.pages;
    assert!(pages.iter().all(|page| page.event().is_some()));
}

#[when(expr = "I call client.query\\({string}, root\\)")]
fn call_query(world: &mut Seed, domain: String) {
    start(world, &domain, Some("root"));
}

#[then("I should receive a QueryBuilder for that domain and root")]
fn query_for(world: &mut Seed) {
    let cover = query(world).cover.expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.root_uuid().ok()),
        ("orders", Some(world.root("root")))
    );
}

#[when(expr = "I call client.query_domain\\({string}\\)")]
fn call_query_domain(world: &mut Seed, domain: String) {
    start(world, &domain, None);
}

#[then("I should receive a QueryBuilder with no root set")]
fn query_without_root(world: &mut Seed) {
    no_root(world);
}

#[then("I can chain by_correlation_id")]
fn chain_correlation(world: &mut Seed) {
    change(world, |q| q.by_correlation_id("workflow-1"));
    assert_eq!(
        query(world).cover.expect("a cover").correlation_id,
        "workflow-1"
    );
}
