//! `merge_strategy.feature`: sequence conflicts by merge strategy, against
//! angzarr-local and the poker player (deposits), a counter and a set.

use angzarr_client::aggregate::runtime::rebuild;
use angzarr_client::proto::{
    page_header, AnyExt, CommandBook, CommandPage, Cover, EventBook, EventPage, MergeStrategy,
};
use angzarr_client::testing::SagaTest;
use angzarr_client::{Aggregate as _, ClientError};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use examples::player::{amount, chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, PlayerRegistered, RegisterPlayer, ReserveFunds, WithdrawFunds,
};
use prost_types::Any;

use super::{order_command, send};
use crate::domains::{
    AddItem, Count, Counter, Fulfillment, IncrementBy, InventoryReserved, Members, OrderCreated,
    ReserveStock, Set,
};
use crate::world::Seed;

/// What each deposit of the background adds.
const DEPOSIT: i64 = 100;

fn strategy(name: &str) -> MergeStrategy {
    MergeStrategy::from_str_name(&format!("MERGE_{name}"))
        .unwrap_or_else(|| panic!("no strategy {name}"))
}

fn register() -> Any {
    Any::pack(&RegisterPlayer {
        display_name: "Alice".into(),
        email: "alice@example.com".into(),
        ..Default::default()
    })
}

fn deposit(chips_: i64) -> Any {
    Any::pack(&DepositFunds {
        amount: Some(chips(chips_)),
    })
}

#[given(expr = "an aggregate {string} with initial events:")]
async fn initial_events(world: &mut Seed, domain: String, step: &Step) {
    assert_eq!(domain, "player");
    let table = step.table.as_ref().expect("a table");
    let client = world.client().await;
    let root = world.root("player");
    for row in &table.rows[1..] {
        let sequence: u32 = row[0].trim().parse().expect("a sequence");
        let command = match row[1].trim() {
            "PlayerRegistered" => register(),
            "FundsDeposited" => deposit(DEPOSIT),
            other => panic!("no command records {other}"),
        };
        send(&client, "player", root, sequence, command)
            .await
            .expect("the history is written");
    }
    world.subject = Some(("player".into(), "player".into()));
    world.counts.insert("stored", table.rows.len() - 1);
}

#[given(regex = r"^a command with (?:merge_strategy (\w+)|no explicit merge_strategy)$")]
fn a_command(world: &mut Seed, name: String) {
    world.notes.insert("strategy", name);
    world.command = Some(deposit(10));
}

#[given(expr = "the command targets sequence {int}")]
fn targets(world: &mut Seed, sequence: u32) {
    world.sequence = sequence;
}

#[given(expr = "the aggregate is at sequence {int}")]
async fn is_at(world: &mut Seed, next: u32) {
    let (domain, root) = world.subject();
    assert_eq!(
        world
            .client()
            .await
            .next_sequence(&domain, root)
            .await
            .expect("read"),
        next
    );
}

#[given("the aggregate accepts the command")]
fn accepts(world: &mut Seed) {
    // A deposit: the player takes it at whatever sequence it stands.
    world.command = Some(deposit(10));
}

#[given("the aggregate rejects due to state conflict")]
fn rejects(world: &mut Seed) {
    // More than the balance: the player refuses on its state.
    world.command = Some(Any::pack(&WithdrawFunds {
        amount: Some(chips(1_000_000)),
    }));
}

fn book(world: &mut Seed, command: Any, sequence: u32, strategy_name: &str) -> CommandBook {
    let (domain, root) = world.subject();
    let mut page = CommandPage::new(sequence, command);
    if !strategy_name.is_empty() {
        page.merge_strategy = strategy(strategy_name).into();
    }
    CommandBook {
        cover: Some(Cover::new(domain, root)),
        pages: vec![page],
    }
}

#[when("the coordinator processes the command")]
async fn process(world: &mut Seed) {
    let name = world.notes.get("strategy").cloned().unwrap_or_default();
    let command = world.command.clone().expect("a command");
    let sequence = world.sequence;
    let book = book(world, command, sequence, &name);
    world.built = vec![Ok(book.clone())];
    let client = world.client().await;
    world.outcome = Some(client.aggregate().handle(book).await);
}

async fn stored(world: &mut Seed) -> Vec<EventPage> {
    let (domain, name) = world.subject.clone().expect("a subject");
    super::stored(world, &domain, &name).await
}

#[then("the command succeeds")]
fn command_succeeds(world: &mut Seed) {
    assert!(!world.response().pages().is_empty(), "{:?}", world.outcome);
}

#[then(regex = r"^events are persisted(?: at the correct sequence)?$")]
async fn persisted(world: &mut Seed) {
    let before = world.counts["stored"];
    let pages = stored(world).await;
    assert_eq!(pages.len(), before + 1);
    assert_eq!(
        pages.last().and_then(EventPage::sequence),
        Some(before as u32)
    );
}

#[then("no events are persisted")]
async fn none_persisted(world: &mut Seed) {
    let before = world.counts["stored"];
    assert_eq!(stored(world).await.len(), before);
}

/// The coordinator answers every sequence-checking strategy's stale
/// command the same way: FAILED_PRECONDITION "Sequence mismatch: ..." with
/// the current book (coordinator-behaviour.md); ABORTED is not its code.
fn assert_mismatch(error: &ClientError) {
    assert_eq!(
        error.code(),
        Some(tonic::Code::FailedPrecondition),
        "{error:?}"
    );
    assert!(error.is_sequence_conflict(), "{error:?}");
}

#[then(regex = r"^the command fails with (ABORTED|FAILED_PRECONDITION|retryable) status$")]
fn fails_with(world: &mut Seed, status: String) {
    if status == "retryable" {
        return saga_conflict_free(world);
    }
    assert_mismatch(world.command_error());
}

#[then(expr = "the error message contains {string}")]
fn message_contains(world: &mut Seed, text: String) {
    let message = world.command_error().message();
    assert!(message.contains(&text), "{message}");
}

#[then("the error details include the current EventBook")]
fn details_book(world: &mut Seed) {
    // What the command did not know of: the pages from the one it
    // expected, or (the player keeps snapshots, and its history here is
    // loaded from one) the snapshot that stands for them.
    let book = world
        .command_error()
        .current_event_book()
        .expect("the current book");
    let stored = world.counts["stored"] as u32;
    assert_eq!(book.next_sequence, stored);
    let sequences: Vec<u32> = book.pages.iter().filter_map(EventPage::sequence).collect();
    match &book.snapshot {
        Some(snapshot) => assert_eq!((snapshot.sequence + 1, sequences.len()), (stored, 0)),
        None => assert_eq!(sequences, (world.sequence..stored).collect::<Vec<_>>()),
    }
}

#[then(expr = "the EventBook shows next_sequence {int}")]
fn shows_next(world: &mut Seed, next: u32) {
    assert_eq!(
        world
            .command_error()
            .current_event_book()
            .expect("a book")
            .next_sequence,
        next
    );
}

#[then("the error is marked as retryable")]
fn marked_retryable(world: &mut Seed) {
    assert!(world.command_error().is_retryable());
}

#[when("the client extracts the EventBook from the error")]
fn extracts(world: &mut Seed) {
    world.book = Some(world.command_error().current_event_book().expect("a book"));
}

#[when(expr = "rebuilds the command with sequence {int}")]
fn rebuilds(world: &mut Seed, sequence: u32) {
    assert_eq!(
        world.book.as_ref().expect("a book").next_sequence,
        sequence,
        "the fresh state says so"
    );
    world.sequence = sequence;
}

#[when("resubmits the command")]
async fn resubmits(world: &mut Seed) {
    process(world).await;
}

#[then("the effective merge_strategy is COMMUTATIVE")]
fn effective_commutative(world: &mut Seed) {
    let book = world.built[0].as_ref().expect("built");
    assert_eq!(book.merge_strategy(), MergeStrategy::MergeCommutative);
    // And the coordinator treated it so: a stale command is a mismatch.
    assert_mismatch(world.command_error());
}

#[then("the coordinator does NOT validate the sequence")]
fn not_validated(world: &mut Seed) {
    assert_eq!(world.sequence, 0, "the command expected 0 of a player at 3");
    command_succeeds(world);
}

#[then("the aggregate handler is invoked")]
fn handler_invoked(world: &mut Seed) {
    let page = &world.response().pages()[0];
    assert_eq!(page.sequence(), Some(world.counts["stored"] as u32));
    assert!(page
        .event()
        .is_some_and(|event| event.is::<FundsDeposited>()));
}

#[then("the aggregate receives the prior EventBook")]
fn receives_prior(world: &mut Seed) {
    let deposited: FundsDeposited = world.response().pages()[0].event_as().expect("a deposit");
    assert_eq!(
        amount(deposited.new_balance.as_ref()),
        2 * DEPOSIT + 10,
        "built on both deposits"
    );
}

#[then("the command fails with aggregate's error")]
fn aggregate_error(world: &mut Seed) {
    let error = world.command_error();
    assert!(
        error.is_rejection() && !error.is_sequence_conflict(),
        "{error:?}"
    );
    assert_eq!(error.message(), "Insufficient funds");
}

#[given(expr = "a counter aggregate at value {int}")]
async fn counter_at(world: &mut Seed, value: i64) {
    world.subject = Some(("counter".into(), "counter".into()));
    let root = world.root("counter");
    let client = world.client().await;
    send(
        &client,
        "counter",
        root,
        0,
        Any::pack(&IncrementBy { amount: value }),
    )
    .await
    .expect("counted");
}

#[given(regex = r#"^two concurrent (IncrementBy commands|AddItem commands for "(\w+)"):$"#)]
fn concurrent(world: &mut Seed, _kind: String, item: String, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    let header = &table.rows[0];
    let column = |row: &Vec<String>, name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .map(|i| row[i].trim().to_owned())
    };
    world.concurrent = table.rows[1..]
        .iter()
        .map(|row| {
            let sequence: u32 = column(row, "sequence")
                .expect("a sequence")
                .parse()
                .expect("a number");
            let command = match column(row, "amount") {
                Some(amount) => Any::pack(&IncrementBy {
                    amount: amount.parse().expect("a number"),
                }),
                None => Any::pack(&AddItem { item: item.clone() }),
            };
            (command, sequence)
        })
        .collect();
}

#[when(expr = "both commands use merge_strategy {word}")]
fn both_use(world: &mut Seed, name: String) {
    world.notes.insert("strategy", name);
}

#[when("both are processed")]
async fn both_processed(world: &mut Seed) {
    let name = world.notes["strategy"].clone();
    let books: Vec<CommandBook> = world
        .concurrent
        .clone()
        .into_iter()
        .map(|(command, sequence)| book(world, command, sequence, &name))
        .collect();
    let client = world.client().await;
    let (a, b) = tokio::join!(
        client.aggregate().handle(books[0].clone()),
        client.aggregate().handle(books[1].clone())
    );
    world.results = vec![a, b];
}

#[then("both commands succeed")]
fn both_succeed(world: &mut Seed) {
    assert!(
        world.results.iter().all(Result::is_ok),
        "{:?}",
        world.results
    );
}

#[then(expr = "the final counter value is {int}")]
async fn final_value(world: &mut Seed, value: i64) {
    let pages = stored(world).await;
    let book = EventBook {
        pages,
        ..Default::default()
    };
    let (count, _): (Count, _) = rebuild(&Counter, Some(&book)).expect("rebuilds");
    assert_eq!(count.value, value);
}

#[then("no sequence conflicts occur")]
async fn no_conflicts(world: &mut Seed) {
    let sequences: Vec<u32> = stored(world)
        .await
        .iter()
        .filter_map(EventPage::sequence)
        .collect();
    assert_eq!(sequences, [0, 1, 2]);
}

#[given(regex = r#"^a set aggregate containing \[(.*)\]$"#)]
async fn set_containing(world: &mut Seed, items: String) {
    world.subject = Some(("set".into(), "fruit".into()));
    let root = world.root("fruit");
    let client = world.client().await;
    for (sequence, item) in (0..).zip(quoted(&items)) {
        send(&client, "set", root, sequence, Any::pack(&AddItem { item }))
            .await
            .expect("added");
    }
}

fn quoted(list: &str) -> Vec<String> {
    list.split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

#[then("the first command succeeds with ItemAdded event")]
fn first_adds(world: &mut Seed) {
    let added = world
        .results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.pages().len() == 1))
        .count();
    assert_eq!(added, 1, "{:?}", world.results);
}

#[then("the second command succeeds with no event (idempotent)")]
fn second_adds_nothing(world: &mut Seed) {
    let empty = world
        .results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.pages().is_empty()))
        .count();
    assert_eq!(empty, 1, "{:?}", world.results);
}

#[then(regex = r"^the set contains \[(.*)\]$")]
async fn set_contains(world: &mut Seed, items: String) {
    let book = EventBook {
        pages: stored(world).await,
        ..Default::default()
    };
    let (members, _): (Members, _) = rebuild(&Set, Some(&book)).expect("rebuilds");
    assert_eq!(members.items, quoted(&items));
}

#[then(regex = r"^the response status is (\w+)$")]
fn response_status(world: &mut Seed, status: String) {
    match status.as_str() {
        "ABORTED" | "FAILED_PRECONDITION" => assert_mismatch(world.command_error()),
        "varies" => command_succeeds(world),
        other => panic!("no status {other}"),
    }
}

#[then(regex = r"^the behavior is (.+)$")]
async fn behaves(world: &mut Seed, behavior: String) {
    match behavior.trim() {
        "immediate rejection" => {
            // Answered at once, nothing stored.
            assert_mismatch(world.command_error());
            none_persisted(world).await;
        }
        "retryable with fresh state" => {
            let error = world.command_error();
            assert!(error.is_retryable());
            assert_eq!(error.current_event_book().expect("a book").next_sequence, 3);
        }
        "aggregate decides" => receives_prior(world),
        other => panic!("no behaviour {other}"),
    }
}

#[given("commands for the same aggregate:")]
fn commands_for(world: &mut Seed, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    world.mixed = table.rows[1..]
        .iter()
        .map(|row| (row[0].trim().to_owned(), row[1].trim().to_owned()))
        .collect();
}

/// The player has no bonus points or visits: a deposit stands in for both.
fn command_named(name: &str) -> Any {
    match name {
        "ReserveFunds" => Any::pack(&ReserveFunds {
            amount: Some(chips(10)),
            table_root: vec![7; 16],
        }),
        "AddBonusPoints" | "IncrementVisits" => deposit(1),
        other => panic!("no command {other}"),
    }
}

#[when("processed with sequence conflicts")]
async fn with_conflicts(world: &mut Seed) {
    let client = world.client().await;
    let mut answers = Vec::new();
    for (name, strategy_name) in world.mixed.clone() {
        let book = book(world, command_named(&name), 1, &strategy_name);
        answers.push((name, client.aggregate().handle(book).await));
    }
    world.named_results = answers;
}

fn answer<'a>(
    world: &'a Seed,
    name: &str,
) -> &'a Result<angzarr_client::proto::CommandResponse, ClientError> {
    &world
        .named_results
        .iter()
        .find(|(n, _)| n == name)
        .expect(name)
        .1
}

#[then("ReserveFunds is rejected immediately")]
fn reserve_rejected(world: &mut Seed) {
    assert_mismatch(answer(world, "ReserveFunds").as_ref().expect_err("refused"));
}

#[then("AddBonusPoints is retryable")]
fn bonus_retryable(world: &mut Seed) {
    let error = answer(world, "AddBonusPoints")
        .as_ref()
        .expect_err("refused");
    assert!(
        error.is_retryable() && error.current_event_book().is_some(),
        "{error:?}"
    );
}

#[then("IncrementVisits delegates to aggregate")]
async fn visits_delegated(world: &mut Seed) {
    let response = answer(world, "IncrementVisits")
        .as_ref()
        .expect("the player took it");
    assert_eq!(response.pages()[0].sequence(), Some(3));
    assert_eq!(stored(world).await.len(), 4);
}

#[given("a new aggregate with no events")]
async fn new_aggregate(world: &mut Seed) {
    world.subject = Some(("player".into(), "newcomer".into()));
    assert!(stored(world).await.is_empty());
}

#[given(expr = "a command targeting sequence {int}")]
fn targeting(world: &mut Seed, sequence: u32) {
    world.sequence = sequence;
    world.command = Some(register());
}

#[when(expr = "the command uses merge_strategy {word}")]
async fn uses(world: &mut Seed, name: String) {
    world.notes.insert("strategy", name);
    process(world).await;
}

#[given(expr = "an aggregate with snapshot at sequence {int}")]
fn with_snapshot(world: &mut Seed, at: u32) {
    world.counts.insert("snapshot", at as usize);
}

#[given(expr = "events at sequences {int}, {int}")]
async fn events_at(world: &mut Seed, first: u32, last: u32) {
    let at = world.counts["snapshot"] as u32;
    assert_eq!(first, at + 1);
    // The player's history up to the snapshot, its state there, and the
    // deposits after it; the aggregate is handed the snapshot and the
    // pages above it.
    let mut pages = vec![EventPage::new(
        0,
        Any::pack(&PlayerRegistered {
            display_name: "Bob".into(),
            ..Default::default()
        }),
    )];
    for sequence in 1..=last {
        let balance = i64::from(sequence) * 10;
        pages.push(EventPage::new(
            sequence,
            Any::pack(&FundsDeposited {
                amount: Some(chips(10)),
                new_balance: Some(chips(balance)),
                deposited_at: None,
            }),
        ));
    }
    let upto = EventBook {
        pages: pages[..=at as usize].to_vec(),
        ..Default::default()
    };
    let (state, _) = rebuild(&Player, Some(&upto)).expect("rebuilds");
    let snapshot = angzarr_client::proto::Snapshot {
        sequence: at,
        state: Some(Player.snapshot(&state).expect("the player snapshots")),
        ..Default::default()
    };
    world.subject = Some(("player".into(), "bob".into()));
    let root = world.root("bob");
    world
        .backend()
        .await
        .write("player", root, &pages, Some(&snapshot));
}

#[given(expr = "the next expected sequence is {int}")]
async fn next_expected(world: &mut Seed, next: u32) {
    is_at(world, next).await;
}

#[when(expr = "a STRICT command targets sequence {int}")]
async fn strict_at(world: &mut Seed, sequence: u32) {
    world.notes.insert("strategy", "STRICT".into());
    world.command = Some(deposit(10));
    world.sequence = sequence;
    process(world).await;
    let deposited: FundsDeposited = world.response().pages()[0].event_as().expect("a deposit");
    assert_eq!(
        amount(deposited.new_balance.as_ref()),
        530,
        "built on the snapshot and both pages"
    );
}

#[given("a CommandBook with no pages")]
fn no_pages(world: &mut Seed) {
    world.built = vec![Ok(CommandBook {
        cover: Some(Cover::new("player", uuid::Uuid::new_v4())),
        pages: Vec::new(),
    })];
}

#[when("merge_strategy is extracted")]
fn extracted(world: &mut Seed) {
    let book = world.built[0].as_ref().expect("a book");
    world
        .notes
        .insert("extracted", format!("{:?}", book.merge_strategy()));
}

#[then("the result is COMMUTATIVE")]
fn is_commutative(world: &mut Seed) {
    assert_eq!(
        world.note("extracted"),
        format!("{:?}", MergeStrategy::MergeCommutative)
    );
}

// The saga scenario: saga commands carry deferred sequences, which the
// target's coordinator stamps at execution; they never meet a conflict.

#[given(expr = "a saga emits a command with merge_strategy {word}")]
fn saga_emits(world: &mut Seed, name: String) {
    assert_eq!(name, "COMMUTATIVE");
    world.with_components(|components| components.saga = true);
}

#[given("the destination aggregate has advanced")]
async fn destination_advanced(world: &mut Seed) {
    let root = world.root("order");
    let client = world.client().await;
    for _ in 0..2 {
        let next = client.next_sequence("inventory", root).await.expect("read");
        send(
            &client,
            "inventory",
            root,
            next,
            Any::pack(&ReserveStock {
                order_id: "earlier".into(),
            }),
        )
        .await
        .expect("reserved");
        // What the reservation sets off elsewhere (and back) runs its course.
        world.backend().await.settled().await;
    }
    let advanced = world
        .client()
        .await
        .next_sequence("inventory", root)
        .await
        .expect("read");
    assert!(advanced >= 2);
    world.counts.insert("advanced", advanced as usize);
}

#[when("the saga coordinator executes the command")]
async fn saga_executes(world: &mut Seed) {
    let root = world.root("order");
    let client = world.client().await;
    world.outcome = Some(
        client
            .command("orders", root)
            .with_any(order_command("CreateOrder", "customer-1"))
            .with_sync_mode(angzarr_client::proto::SyncMode::Cascade)
            .execute()
            .await,
    );
}

fn saga_conflict_free(world: &mut Seed) {
    let response = world.response();
    assert!(
        response.cascade_errors.is_empty(),
        "{:?}",
        response.cascade_errors
    );
    // What the saga emits: a deferred page, whose sequence is the target's.
    let root = world.root("order");
    let outcome = SagaTest::new(Fulfillment)
        .with_source(Cover::new("orders", root))
        .when(OrderCreated {
            order_id: "order-of-customer-1".into(),
            customer_id: "customer-1".into(),
        });
    let page = &outcome.commands()[0].pages[0];
    assert!(
        matches!(
            page.header.as_ref().and_then(|h| h.sequence_type.as_ref()),
            Some(page_header::SequenceType::AngzarrDeferred(_))
        ),
        "{page:?}"
    );
}

async fn inventory(world: &mut Seed) -> Vec<EventPage> {
    super::stored(world, "inventory", "order").await
}

#[then("the saga retries with backoff")]
async fn saga_retries(world: &mut Seed) {
    // Nothing to retry: the command ran once.
    let advanced = world.counts["advanced"];
    let reservations = inventory(world)
        .await
        .iter()
        .skip(advanced)
        .filter(|p| p.event_as::<InventoryReserved>().is_ok())
        .count();
    assert_eq!(reservations, 1);
}

#[then("the saga fetches fresh destination state")]
async fn saga_fresh(world: &mut Seed) {
    assert_eq!(
        inventory(world).await.last().and_then(EventPage::sequence),
        Some(2)
    );
}

#[then("the retried command succeeds")]
async fn saga_succeeds(world: &mut Seed) {
    let advanced = world.counts["advanced"];
    let pages = inventory(world).await;
    let reserved: InventoryReserved = pages
        .get(advanced)
        .expect("a reservation")
        .event_as()
        .expect("a reservation");
    assert_eq!(reserved.order_id, "order-of-customer-1");
}
