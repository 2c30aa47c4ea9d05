//! Whole systems: delivery, sync modes, compensation, process managers,
//! commands run at most once, upcasting.

use angzarr_client::proto::{
    page_header, AngzarrDeferredSequence, AnyExt, CascadeErrorMode, CommandBook, CommandPage,
    CommandRequest, Cover, EventPage, PageHeader, Revocation,
};
use cucumber::{given, then, when};
use examples::player::amount;
use examples::proto::FundsWithdrawn;

use super::{deposit, registration, short_type, sync_mode, withdrawal, words};
use crate::bank::{AuditFlagged, Seen};
use crate::system::{Components, System};
use crate::world::Contracts;

// ---- setting up ----

#[given(
    regex = r"^angzarr-local runs the player aggregate with (.+?)(?: (in process|over gRPC))?$"
)]
async fn system(world: &mut Contracts, named: String, place: String) {
    let mut components = Components::named(&named);
    components.remote = place == "over gRPC";
    world.system = Some(System::start(components).await);
}

#[given(expr = "the ledger projector fails its next {int} call(s)")]
fn ledger_fails(world: &mut Contracts, calls: usize) {
    world.system().ledger.fail_next(calls);
}

#[given("the ledger projector holds every book")]
fn ledger_holds(world: &mut Contracts) {
    world.gate = Some(world.system().ledger.gate());
}

#[when("the ledger projector lets the books through")]
fn ledger_releases(world: &mut Contracts) {
    world
        .gate
        .as_ref()
        .expect("the ledger holds the books")
        .add_permits(1_000);
}

#[given(expr = "{string} was registered and given {int} chips by an older version")]
fn old_history(world: &mut Contracts, name: String, chips: i64) {
    let root = world.root(&name);
    crate::bank::store_pages(
        world.system().store.as_ref(),
        root,
        &crate::bank::old_history(chips),
    );
}

// ---- acting ----

fn error_mode(name: &str) -> CascadeErrorMode {
    CascadeErrorMode::from_str_name(&format!("CASCADE_ERROR_{name}"))
        .unwrap_or_else(|| panic!("no cascade error mode called {name}"))
}

#[when(expr = "I register {string} with sync mode {word}")]
async fn register_in_mode(world: &mut Contracts, name: String, mode: String) {
    let root = world.root(&name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&registration(&name))
        .with_sync_mode(sync_mode(&mode))
        .execute()
        .await;
    world.record_command(result);
}

#[when(expr = "I register {string} with sync mode {word} and cascade error mode {word}")]
async fn register_cascading(world: &mut Contracts, name: String, mode: String, errors: String) {
    let root = world.root(&name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&registration(&name))
        .with_sync_mode(sync_mode(&mode))
        .with_cascade_error_mode(error_mode(&errors))
        .execute()
        .await;
    world.record_command(result);
}

#[when(
    expr = "I deposit {int} chips for {string} at sequence {int} with sync mode {word} and cascade error mode {word}"
)]
async fn deposit_cascading(
    world: &mut Contracts,
    chips: i64,
    name: String,
    sequence: u32,
    mode: String,
    errors: String,
) {
    let root = world.root(&name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&deposit(chips))
        .with_sequence(sequence)
        .with_sync_mode(sync_mode(&mode))
        .with_cascade_error_mode(error_mode(&errors))
        .execute()
        .await;
    world.record_command(result);
}

#[when(expr = "I deposit {int} chips for {string} at sequence {int} with correlation id {string}")]
async fn deposit_correlated(
    world: &mut Contracts,
    chips: i64,
    name: String,
    sequence: u32,
    correlation_id: String,
) {
    let root = world.root(&name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&deposit(chips))
        .with_sequence(sequence)
        .with_correlation_id(correlation_id)
        .execute()
        .await;
    world.record_command(result);
}

#[when("angzarr-local restarts on the same database")]
async fn restart(world: &mut Contracts) {
    match (world.system.as_mut(), world.poker.as_mut()) {
        (Some(system), _) => system.restart().await,
        (None, Some(poker)) => poker.restart().await,
        (None, None) => panic!("no system is running"),
    }
}

#[when(expr = "the cashier {string} pays out {int} chips")]
async fn cashier_pays_out(world: &mut Contracts, name: String, chips: i64) {
    let root = world.root(&name);
    let sequence = super::next_sequence(world, "cashier", &name).await;
    world
        .client()
        .command("cashier", root)
        .with_command(&withdrawal(chips))
        .with_sequence(sequence)
        .execute()
        .await
        .unwrap_or_else(|error| panic!("the cashier {name} cannot pay out: {error}"));
}

#[when(
    expr = "table {string} sends {string} a deposit of {int} chips deferred to its sequence {int}"
)]
async fn deferred_deposit(
    world: &mut Contracts,
    table: String,
    name: String,
    chips: i64,
    source_seq: u32,
) {
    let source = Cover::new("table", world.root(&table));
    let target = world.root(&name);
    let mut page = CommandPage::new(0, angzarr_client::proto::Any::pack(&deposit(chips)));
    page.header = Some(PageHeader {
        sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
            AngzarrDeferredSequence {
                source: Some(source),
                source_seq,
            },
        )),
    });
    let answer = world
        .client()
        .aggregate()
        .handle_command(CommandRequest {
            command: Some(CommandBook {
                cover: Some(Cover::new("player", target)),
                pages: vec![page],
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|error| panic!("the deferred deposit failed: {error}"));
    world.deferred.push(answer);
}

// ---- what the ledger saw ----

/// `PlayerRegistered at 0, FundsDeposited at 1` as (type, sequence) pairs.
fn listed(list: &str) -> Vec<(String, u32)> {
    list.split(',')
        .map(str::trim)
        .map(|item| {
            let (event, sequence) = item
                .split_once(" at ")
                .unwrap_or_else(|| panic!("expected `Event at N`, got {item:?}"));
            (event.to_owned(), sequence.parse().expect("a sequence"))
        })
        .collect()
}

fn pairs(books: &[&Seen]) -> Vec<(String, u32)> {
    books
        .iter()
        .flat_map(|book| {
            book.types
                .iter()
                .cloned()
                .zip(book.sequences.iter().copied())
        })
        .collect()
}

async fn ledger_receives(
    world: &Contracts,
    what: &str,
    wanted: Vec<(String, u32)>,
    pick: impl Fn(&Seen) -> bool,
) {
    let seen = world
        .system()
        .ledger
        .wait_until(what, |seen| {
            let books: Vec<&Seen> = seen.iter().filter(|s| pick(s)).collect();
            pairs(&books).len() >= wanted.len()
        })
        .await;
    let books: Vec<&Seen> = seen.iter().filter(|s| pick(s)).collect();
    assert_eq!(pairs(&books), wanted, "{what}: in order, each once");
}

#[then(regex = r#"^the ledger receives the books of "([^"]+)": (.+)$"#)]
async fn ledger_books(world: &mut Contracts, name: String, list: String) {
    let root = world.root(&name);
    let what = format!("the books of {name}");
    ledger_receives(world, &what, listed(&list), |s| {
        s.domain == "player" && s.root == root
    })
    .await;
}

#[then(regex = r#"^the ledger receives the workflow "([^"]+)": (.+)$"#)]
async fn ledger_workflow(world: &mut Contracts, correlation_id: String, list: String) {
    let what = format!("the workflow {correlation_id}");
    ledger_receives(world, &what, listed(&list), |s| {
        s.domain == "audit" && s.correlation_id == correlation_id
    })
    .await;
}

#[then(regex = r#"^the ledger receives the revocations of "([^"]+)": (.+)$"#)]
async fn ledger_revocations(world: &mut Contracts, name: String, list: String) {
    let root = world.root(&name);
    let what = format!("the revocations of {name}");
    ledger_receives(world, &what, listed(&list), |s| {
        s.domain == angzarr_local::REVOCATION_DOMAIN && s.root == root
    })
    .await;
}

#[then(expr = "the ledger's book of {string} at sequence {int} has correlation id {string}")]
fn ledger_correlation(world: &mut Contracts, name: String, sequence: u32, correlation_id: String) {
    let root = world.root(&name);
    let book = world
        .system()
        .ledger
        .seen()
        .into_iter()
        .find(|s| s.root == root && s.sequences.contains(&sequence))
        .unwrap_or_else(|| panic!("the ledger has no book of {name} at {sequence}"));
    assert_eq!(book.correlation_id, correlation_id);
}

#[then(expr = "once delivery settles, the ledger has received {int} books")]
async fn ledger_count(world: &mut Contracts, count: usize) {
    world.system().settled().await;
    assert_eq!(world.system().ledger.seen().len(), count);
}

#[then(expr = "the ledger was called at least {int} times")]
fn ledger_calls(world: &mut Contracts, calls: usize) {
    let made = world.system().ledger.calls();
    assert!(made >= calls, "{made} calls");
}

#[then(expr = "the ledger has received every book of {string} up to sequence {int}")]
async fn ledger_every_book(world: &mut Contracts, name: String, last: u32) {
    let root = world.root(&name);
    let seen = world
        .system()
        .ledger
        .wait_until(&format!("every book of {name}"), |seen| {
            (0..=last).all(|sequence| {
                seen.iter()
                    .any(|s| s.root == root && s.sequences.contains(&sequence))
            })
        })
        .await;
    let mut firsts = Vec::new();
    for book in seen.iter().filter(|s| s.root == root) {
        for sequence in &book.sequences {
            if !firsts.contains(sequence) {
                firsts.push(*sequence);
            }
        }
    }
    assert_eq!(
        firsts,
        (0..=last).collect::<Vec<_>>(),
        "first arrivals in order"
    );
}

// ---- what the command answered ----

#[then("the answer holds no projections")]
fn no_projections(world: &mut Contracts) {
    assert!(
        world.response().projections.is_empty(),
        "{:?}",
        world.response().projections
    );
}

#[then(regex = r#"^the answer holds the projections of "([^"]+)" at sequences ([0-9, and]+)$"#)]
fn projections(world: &mut Contracts, projector: String, sequences: String) {
    let projections = &world.response().projections;
    assert!(projections.iter().all(|p| p.projector == projector));
    let found: Vec<u32> = projections.iter().map(|p| p.sequence).collect();
    assert_eq!(found, super::numbers(&sequences));
}

#[then("the answer holds no cascade errors")]
fn no_cascade_errors(world: &mut Contracts) {
    assert!(
        world.response().cascade_errors.is_empty(),
        "{:?}",
        world.response().cascade_errors
    );
}

#[then(
    expr = "the answer holds {int} cascade error(s), from the {word} {string} for domain {string}"
)]
fn cascade_errors(world: &mut Contracts, count: usize, kind: String, name: String, domain: String) {
    let errors = &world.response().cascade_errors;
    assert_eq!(errors.len(), count, "{errors:?}");
    for error in errors {
        assert_eq!(error.component_type, kind);
        assert_eq!(error.component_name, name);
        assert_eq!(error.source_domain, domain);
    }
}

#[then(expr = "the cascade error says {string}")]
fn cascade_error_says(world: &mut Contracts, message: String) {
    assert_eq!(world.response().cascade_errors[0].error_message, message);
}

#[then(expr = "every answer stored the same FundsDeposited at sequence {int}")]
fn deferred_answers(world: &mut Contracts, sequence: u32) {
    let first = &world.deferred[0];
    let page = &first.events.as_ref().expect("events").pages[0];
    assert_eq!(short_type(page), "FundsDeposited");
    assert_eq!(page.sequence(), Some(sequence));
    assert!(world
        .deferred
        .iter()
        .all(|answer| answer.events == first.events));
}

#[then(expr = "the withdrawal left {int} chips")]
fn withdrawal_left(world: &mut Contracts, chips: i64) {
    let page = &world.response().events.as_ref().expect("events").pages[0];
    let withdrawn: FundsWithdrawn = page.event_as().expect("a FundsWithdrawn");
    assert_eq!(amount(withdrawn.new_balance.as_ref()), chips);
}

// ---- what was stored, once delivery settled ----

#[then(regex = r#"^the history of "([^"]+)" becomes (.+)$"#)]
async fn history_becomes(world: &mut Contracts, name: String, events: String) {
    world.system().settled().await;
    let pages = super::history(world, "player", &name).await;
    assert_eq!(
        pages.iter().map(short_type).collect::<Vec<_>>(),
        words(&events)
    );
}

#[then(regex = r#"^the cashier history of "([^"]+)" becomes (.+)$"#)]
async fn cashier_history_becomes(world: &mut Contracts, name: String, events: String) {
    world.system().settled().await;
    let pages = super::history(world, "cashier", &name).await;
    assert_eq!(
        pages.iter().map(short_type).collect::<Vec<_>>(),
        words(&events)
    );
}

#[then(expr = "a revocation of {string} is recorded, its reason naming {string}")]
async fn revocation_recorded(world: &mut Contracts, name: String, named: String) {
    world.settle().await;
    let pages = super::history(world, angzarr_local::REVOCATION_DOMAIN, &name).await;
    assert_eq!(pages.len(), 1, "one revocation");
    let revocation: Revocation = pages[0].event_as().expect("a Revocation");
    assert_eq!(
        revocation.target.map(|cover| cover.domain),
        Some("player".to_owned())
    );
    assert!(revocation.reason.contains(&named), "{}", revocation.reason);
}

async fn workflow(world: &mut Contracts, correlation_id: &str) -> Vec<EventPage> {
    world.system().settled().await;
    world
        .client()
        .query_domain("audit")
        .by_correlation_id(correlation_id)
        .get_pages()
        .await
        .expect("the workflow reads")
        .into_iter()
        .filter(|page| {
            page.event()
                .is_some_and(|e| e.type_name().starts_with("audit."))
        })
        .collect()
}

#[then(regex = r#"^the workflow "([^"]+)" becomes (.+)$"#)]
async fn workflow_becomes(world: &mut Contracts, correlation_id: String, events: String) {
    let pages = workflow(world, &correlation_id).await;
    assert_eq!(
        pages.iter().map(short_type).collect::<Vec<_>>(),
        words(&events)
    );
    let sequences: Vec<u32> = pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, (0..pages.len() as u32).collect::<Vec<_>>());
}

fn flags(pages: &[EventPage]) -> Vec<AuditFlagged> {
    pages
        .iter()
        .filter_map(|page| page.event_as().ok())
        .collect()
}

#[then(expr = "the audit's flag {string} saw the player at sequence {int}")]
async fn flag_saw(world: &mut Contracts, reason: String, sequence: u32) {
    let pages = workflow(world, "audit-1").await;
    let flag = flags(&pages)
        .into_iter()
        .find(|flag| flag.reason == reason)
        .unwrap_or_else(|| panic!("no flag {reason:?}"));
    assert_eq!(flag.player_next_sequence, sequence);
}

#[then(expr = "the audit's flag {string} follows it")]
async fn flag_follows(world: &mut Contracts, reason: String) {
    let pages = workflow(world, "audit-1").await;
    let last = flags(&pages).pop().expect("flags");
    assert_eq!(last.reason, reason);
}
