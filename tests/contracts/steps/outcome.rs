//! What a command answered, what an aggregate's history holds, and what an
//! error says about itself.

use cucumber::then;

use angzarr_client::aggregate::runtime;
use examples::player::{Player, PlayerView};

use super::{code, expand, history, numbers, short_type, words};
use crate::domains::Cashier;
use crate::world::Contracts;

#[then(expr = "the command succeeds with a {word} at sequence {int}")]
fn command_succeeds(world: &mut Contracts, event: String, sequence: u32) {
    let response = world.response();
    let pages = &response
        .events
        .as_ref()
        .expect("the response has events")
        .pages;
    let page = pages.first().expect("the response holds an event");
    assert_eq!(short_type(page), event);
    assert_eq!(page.sequence(), Some(sequence));
}

#[then(expr = "the response holds {int} event(s)")]
fn response_holds(world: &mut Contracts, count: usize) {
    let events = world
        .response()
        .events
        .as_ref()
        .expect("the response has events");
    assert_eq!(events.pages.len(), count);
}

#[then(expr = "the response's next sequence is {int}")]
fn response_next_sequence(world: &mut Contracts, sequence: u32) {
    let events = world
        .response()
        .events
        .as_ref()
        .expect("the response has events");
    assert_eq!(events.next_sequence, sequence);
}

#[then("the response's cover has a root that is not nil")]
fn response_root(world: &mut Contracts) {
    let events = world
        .response()
        .events
        .as_ref()
        .expect("the response has events");
    let root = events
        .cover
        .as_ref()
        .expect("a cover")
        .root_uuid()
        .expect("a valid root");
    assert!(!root.is_nil());
}

#[then(expr = "the response's cover has correlation id {string}")]
fn response_correlation(world: &mut Contracts, correlation_id: String) {
    let events = world
        .response()
        .events
        .as_ref()
        .expect("the response has events");
    assert_eq!(events.correlation_id(), correlation_id);
}

#[then(regex = r#"^the history of "([^"]+)" is (.+)$"#)]
async fn history_is(world: &mut Contracts, name: String, events: String) {
    let pages = history(world, "player", &name).await;
    let found: Vec<String> = pages.iter().map(short_type).collect();
    assert_eq!(found, words(&events));
}

#[then(regex = r#"^the history of "([^"]+)" in edition "([^"]+)" is (.+)$"#)]
async fn edition_history_is(world: &mut Contracts, name: String, edition: String, events: String) {
    let root = world.root(&name);
    let pages = world
        .client()
        .query("player", root)
        .edition(edition)
        .get_pages()
        .await
        .expect("the edition reads");
    let found: Vec<String> = pages.iter().map(short_type).collect();
    assert_eq!(found, words(&events));
}

#[then(expr = "the history of {string} holds {int} event(s)")]
async fn history_holds(world: &mut Contracts, name: String, count: usize) {
    assert_eq!(history(world, "player", &name).await.len(), count);
}

#[then(expr = "the history of {string} holds sequences {int} to {int} without gaps")]
async fn history_without_gaps(world: &mut Contracts, name: String, first: u32, last: u32) {
    let sequences: Vec<u32> = history(world, "player", &name)
        .await
        .iter()
        .map(|page| page.sequence().expect("a stored page has a sequence"))
        .collect();
    assert_eq!(sequences, (first..=last).collect::<Vec<_>>());
}

/// The balance `name` holds: its whole history read back and folded by the
/// domain's own aggregate (the runtime's rebuild), not read off one event.
pub async fn balance(world: &mut Contracts, domain: &str, name: &str) -> i64 {
    let root = world.root(name);
    let book = world
        .client()
        .query(domain, root)
        .get_event_book()
        .await
        .unwrap_or_else(|error| panic!("reading the history of {name} failed: {error}"));
    match domain {
        "player" => {
            let (state, _) = runtime::rebuild(&Player, Some(&book))
                .unwrap_or_else(|error| panic!("the history of {name} does not rebuild: {error}"));
            state.bankroll()
        }
        "cashier" => {
            let (float, _) = runtime::rebuild(&Cashier, Some(&book))
                .unwrap_or_else(|error| panic!("the history of {name} does not rebuild: {error}"));
            float.chips
        }
        other => panic!("no balance is kept in the {other} domain"),
    }
}

#[then(expr = "the bankroll of {string} is {int} chips")]
async fn bankroll_is(world: &mut Contracts, name: String, chips: i64) {
    assert_eq!(balance(world, "player", &name).await, chips);
}

#[then(expr = "the error is {word} {string}")]
fn error_is(world: &mut Contracts, expected_code: String, message: String) {
    let error = world.error();
    assert_eq!(error.code(), Some(code(&expected_code)), "{error:?}");
    assert_eq!(error.message(), message);
}

#[then(
    regex = r"^the error is (not )?(a rejection|a sequence conflict|retryable|a connection error|an invalid argument|deadline exceeded|not found)$"
)]
fn error_predicate(world: &mut Contracts, negated: String, predicate: String) {
    let error = world.error();
    let holds = match predicate.as_str() {
        "a rejection" => error.is_rejection(),
        "a sequence conflict" => error.is_sequence_conflict(),
        "retryable" => error.is_retryable(),
        "a connection error" => error.is_connection_error(),
        "an invalid argument" => error.is_invalid_argument(),
        "deadline exceeded" => error.is_deadline_exceeded(),
        "not found" => error.is_not_found(),
        other => unreachable!("the regex allows no {other}"),
    };
    let expected = negated.is_empty();
    assert_eq!(holds, expected, "is {predicate}: {error} ({error:?})");
}

#[then(expr = "the error message is {string}")]
fn error_message_is(world: &mut Contracts, message: String) {
    assert_eq!(world.error().message(), expand(world, &message));
}

#[then(expr = "the error reads as starting with {string}")]
fn error_reads_starting(world: &mut Contracts, prefix: String) {
    let prefix = expand(world, &prefix);
    let text = world.error().to_string();
    assert!(
        text.starts_with(&prefix),
        "{text:?} does not start with {prefix:?}"
    );
}

#[then(expr = "the error message mentions {string}")]
fn error_message_mentions(world: &mut Contracts, part: String) {
    let part = expand(world, &part);
    let message = world.error().message();
    assert!(
        message.contains(&part),
        "{message:?} does not mention {part:?}"
    );
}

#[then(expr = "the error reads {string}")]
fn error_reads(world: &mut Contracts, text: String) {
    assert_eq!(world.error().to_string(), expand(world, &text));
}

#[then("the error was raised by the client, not by a server")]
fn error_from_client(world: &mut Contracts) {
    let error = world.error();
    assert!(
        error.status().is_none() && error.code().is_none(),
        "{error:?}"
    );
}

#[then(
    regex = r"^the error's current event book holds the snapshot at sequence (\d+) and next sequence (\d+)$"
)]
fn conflict_snapshot(world: &mut Contracts, snapshot: String, next: String) {
    let book = world
        .error()
        .current_event_book()
        .expect("a sequence conflict carries the current event book");
    assert_eq!(
        book.snapshot.map(|s| s.sequence),
        Some(numbers(&snapshot)[0]),
        "the snapshot stands for the pages the command missed"
    );
    assert!(book.pages.is_empty());
    assert_eq!(book.next_sequence, numbers(&next)[0]);
}

#[then(regex = r"^the error's current event book holds (\d+) events? and next sequence (\d+)$")]
fn conflict_book(world: &mut Contracts, count: String, next: String) {
    let book = world
        .error()
        .current_event_book()
        .expect("a sequence conflict carries the current event book");
    assert_eq!(book.pages.len(), numbers(&count)[0] as usize);
    assert_eq!(book.next_sequence, numbers(&next)[0]);
}
