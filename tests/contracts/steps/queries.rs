//! Reading events: the query client and the query builder.

use std::ops::Bound;

use angzarr_client::proto::{Cover, Query};
use cucumber::{then, when};
use tokio_stream::StreamExt;

use super::numbers;
use crate::world::Contracts;

fn query_of(world: &mut Contracts, name: &str) -> Query {
    let root = world.root(name);
    Query {
        cover: Some(Cover::new("player", root)),
        selection: None,
    }
}

#[when(expr = "the query client gets the event book of {string}")]
async fn get_book(world: &mut Contracts, name: String) {
    let query = query_of(world, &name);
    let result = world.client().queries().get_event_book(query).await;
    if let Some(book) = world.record(result) {
        world.books = vec![book];
    }
}

#[when("the query client gets an event book without a cover")]
async fn get_book_without_cover(world: &mut Contracts) {
    let result = world
        .client()
        .queries()
        .get_event_book(Query::default())
        .await;
    if let Some(book) = world.record(result) {
        world.books = vec![book];
    }
}

#[when(expr = "I read {string} with the domain client's query client")]
async fn read_with_query_client(world: &mut Contracts, name: String) {
    get_book(world, name).await;
}

#[when(expr = "the query client streams the events of {string}")]
async fn stream_books(world: &mut Contracts, name: String) {
    let query = query_of(world, &name);
    let result = world.client().queries().get_events(query).await;
    let Some(mut stream) = world.record(result) else {
        return;
    };
    world.books.clear();
    while let Some(book) = stream.next().await {
        match world.record(book) {
            Some(book) => world.books.push(book),
            None => return,
        }
    }
}

#[when(
    expr = "the query client synchronizes a query for event {int} of {string} and a query for all of {string}"
)]
async fn synchronize(world: &mut Contracts, sequence: u32, first: String, second: String) {
    let root = world.root(&first);
    let one = world
        .client()
        .query("player", root)
        .sequences([sequence])
        .build()
        .expect("a valid query");
    let all = query_of(world, &second);
    let result = world.client().queries().synchronize(vec![one, all]).await;
    if let Some(books) = world.record(result) {
        world.books = books;
    }
}

#[when("the query client lists the aggregate roots")]
async fn list_roots(world: &mut Contracts) {
    let result = world.client().queries().aggregate_roots().await;
    if let Some(roots) = world.record(result) {
        world.aggregate_roots = roots;
    }
}

fn book(world: &Contracts) -> &angzarr_client::proto::EventBook {
    if let Some(error) = &world.failure {
        panic!("the query failed: {error}");
    }
    world.books.first().expect("a book was read")
}

#[then(regex = r"^the book holds events ([0-9, ]+)$")]
fn book_holds(world: &mut Contracts, sequences: String) {
    let found: Vec<u32> = book(world)
        .pages
        .iter()
        .filter_map(|page| page.sequence())
        .collect();
    assert_eq!(found, numbers(&sequences));
}

#[then("the book holds no events")]
fn book_empty(world: &mut Contracts) {
    assert!(book(world).pages.is_empty(), "{:?}", book(world).pages);
}

#[then(expr = "the book's next sequence is {int}")]
fn book_next_sequence(world: &mut Contracts, next: u32) {
    assert_eq!(book(world).next_sequence, next);
}

#[then(expr = "the book's cover names domain {string} and the root of {string}")]
fn book_cover(world: &mut Contracts, domain: String, name: String) {
    let root = world.root(&name);
    let cover = book(world).cover.as_ref().expect("the book has a cover");
    assert_eq!(cover.domain, domain);
    assert_eq!(cover.root_uuid().expect("a valid root"), root);
}

#[then(expr = "the stream yields {int} book(s) holding {int} events")]
fn stream_yields(world: &mut Contracts, books: usize, events: usize) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    assert_eq!(world.books.len(), books);
    assert!(world.books.iter().all(|book| book.pages.len() == events));
}

#[then(expr = "the books hold {int} and {int} events")]
fn books_hold(world: &mut Contracts, first: usize, second: usize) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    let counts: Vec<usize> = world.books.iter().map(|book| book.pages.len()).collect();
    assert_eq!(counts, [first, second]);
}

#[then(expr = "the roots include {string} and {string} in domain {string}")]
fn roots_include(world: &mut Contracts, first: String, second: String, domain: String) {
    for name in [first, second] {
        let root = world.root(&name);
        assert!(
            world
                .aggregate_roots
                .iter()
                .any(|listed| listed.domain == domain
                    && listed.root.as_ref().and_then(|r| r.to_uuid().ok()) == Some(root)),
            "{name} ({root}) is not among {:?}",
            world.aggregate_roots
        );
    }
}

/// Runs a query built by `select` over the query builder for `name`.
async fn query_pages(
    world: &mut Contracts,
    name: &str,
    select: impl FnOnce(angzarr_client::QueryBuilder) -> angzarr_client::QueryBuilder,
) {
    let root = world.root(name);
    let builder = select(world.client().query("player", root));
    world.query = builder.build().ok();
    let result = builder.get_pages().await;
    if let Some(pages) = world.record(result) {
        world.pages = pages;
    }
}

#[when(expr = "I query {string}")]
async fn query_all(world: &mut Contracts, name: String) {
    query_pages(world, &name, |query| query).await;
}

/// Reads a range as Rust writes it: `1..3`, `1..=3`, `2..`, `..=1`, `..2`.
fn range(text: &str) -> (Bound<u32>, Bound<u32>) {
    let (start, end) = text.split_once("..").expect("a range has `..`");
    let start = match start {
        "" => Bound::Unbounded,
        start => Bound::Included(start.parse().expect("a number")),
    };
    let end = match end.strip_prefix('=') {
        Some(end) => Bound::Included(end.parse().expect("a number")),
        None if end.is_empty() => Bound::Unbounded,
        None => Bound::Excluded(end.parse().expect("a number")),
    };
    (start, end)
}

#[when(regex = r#"^I query "([^"]+)" with the range (\S+)$"#)]
async fn query_range(world: &mut Contracts, name: String, text: String) {
    query_pages(world, &name, |query| query.range(range(&text))).await;
}

#[when(regex = r#"^I query "([^"]+)" with the range (\S+) and then as of sequence (\d+)$"#)]
async fn query_range_then_sequence(world: &mut Contracts, name: String, text: String, at: String) {
    let at = numbers(&at)[0];
    query_pages(world, &name, |query| {
        query.range(range(&text)).as_of_sequence(at)
    })
    .await;
}

#[when(expr = "I query {string} for the sequences {int} and {int}")]
async fn query_sequences(world: &mut Contracts, name: String, first: u32, second: u32) {
    query_pages(world, &name, |query| query.sequences([first, second])).await;
}

#[when(expr = "I query {string} as of sequence {int}")]
async fn query_as_of_sequence(world: &mut Contracts, name: String, at: u32) {
    query_pages(world, &name, |query| query.as_of_sequence(at)).await;
}

#[when(expr = "I query {string} as of {string}")]
async fn query_as_of_text(world: &mut Contracts, name: String, at: String) {
    query_pages(world, &name, |query| query.as_of_rfc3339(&at)).await;
}

#[when(expr = "I query {string} as of now")]
async fn query_as_of_now(world: &mut Contracts, name: String) {
    let now = angzarr_client::proto::time::now();
    query_pages(world, &name, |query| query.as_of_time(now)).await;
}

#[when(expr = "I query the player domain by correlation id {string}")]
async fn query_by_correlation(world: &mut Contracts, correlation_id: String) {
    let builder = world
        .client()
        .query_domain("player")
        .by_correlation_id(correlation_id);
    world.query = builder.build().ok();
    let result = builder.get_pages().await;
    if let Some(pages) = world.record(result) {
        world.pages = pages;
    }
}

#[then(regex = r"^the pages are (.+)$")]
fn pages_are(world: &mut Contracts, sequences: String) {
    if let Some(error) = &world.failure {
        panic!("the query failed: {error}");
    }
    let found: Vec<u32> = world
        .pages
        .iter()
        .filter_map(|page| page.sequence())
        .collect();
    assert_eq!(found, numbers(&sequences));
}

#[then("the built query has no root")]
fn query_has_no_root(world: &mut Contracts) {
    let query = world.query.as_ref().expect("a query was built");
    let cover = query.cover.as_ref().expect("the query has a cover");
    assert!(cover.root.is_none(), "{cover:?}");
}
