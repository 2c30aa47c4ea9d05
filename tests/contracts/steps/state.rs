//! History sent straight to the player aggregate's gRPC server, as the
//! coordinator sends it, to see how the aggregate builds its state.

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    business_response, AnyExt, CommandBook, CommandPage, ContextualCommand, Cover, EventBook,
    EventPage, NoOp, Snapshot,
};
use cucumber::{given, then, when};
use examples::player::{amount, chips};
use examples::proto::{FundsDeposited, PlayerRegistered, PlayerSittingOut, PlayerState};
use prost_types::Any;

use super::{balance_after, code, registration, short_type, withdrawal};
use crate::world::Contracts;

const PLAYER: &str = "History";

fn push(world: &mut Contracts, sequence: u32, event: Any) {
    world.history.pages.push(EventPage::new(sequence, event));
}

#[given("a history of a player registered at sequence 0")]
fn registered_history(world: &mut Contracts) {
    let root = world.root(PLAYER);
    let registered = registration(PLAYER);
    world.history = EventBook {
        cover: Some(Cover::new("player", root)),
        ..Default::default()
    };
    push(
        world,
        0,
        Any::pack(&PlayerRegistered {
            display_name: registered.display_name,
            email: registered.email,
            ..Default::default()
        }),
    );
}

#[given(
    expr = "the history continues with a deposit raising the bankroll to {int} chips at sequence {int}"
)]
fn deposit_in_history(world: &mut Contracts, bankroll: i64, sequence: u32) {
    let previous = world
        .history
        .pages
        .iter()
        .rev()
        .find_map(balance_after)
        .unwrap_or(0);
    let event = FundsDeposited {
        amount: Some(chips(bankroll - previous)),
        new_balance: Some(chips(bankroll)),
        deposited_at: None,
    };
    push(world, sequence, Any::pack(&event));
}

#[given(expr = "the history holds a snapshot at sequence {int} with a bankroll of {int} chips")]
fn snapshot_in_history(world: &mut Contracts, sequence: u32, bankroll: i64) {
    let registered = registration(PLAYER);
    let state = PlayerState {
        player_id: format!("player_{}", registered.email),
        display_name: registered.display_name,
        email: registered.email,
        bankroll: Some(chips(bankroll)),
        reserved_funds: Some(chips(0)),
        status: "active".to_owned(),
        ..Default::default()
    };
    // The coordinator sends the snapshot and only the pages after it.
    world.history.pages.clear();
    world.history.snapshot = Some(Snapshot {
        sequence,
        state: Some(Any::pack(&state)),
        ..Default::default()
    });
}

#[given(expr = "the history continues with a NoOp page at sequence {int}")]
fn no_op_in_history(world: &mut Contracts, sequence: u32) {
    push(world, sequence, Any::pack(&NoOp::default()));
}

#[given(expr = "the history continues with a PlayerSittingOut at sequence {int}")]
fn sitting_out_in_history(world: &mut Contracts, sequence: u32) {
    let event = PlayerSittingOut {
        table_root: vec![1; 16],
        sat_out_at: None,
    };
    push(world, sequence, Any::pack(&event));
}

#[given(expr = "the history continues with an event of type {string} at sequence {int}")]
fn foreign_event_in_history(world: &mut Contracts, type_url: String, sequence: u32) {
    let event = Any {
        type_url,
        value: vec![0x0a, 0x03, b'a', b'b', b'c'],
    };
    push(world, sequence, event);
}

#[given(
    expr = "the history continues with a FundsDeposited whose bytes are corrupt at sequence {int}"
)]
fn corrupt_event_in_history(world: &mut Contracts, sequence: u32) {
    push(world, sequence, corrupt_deposit());
}

/// A `FundsDeposited` whose bytes end inside a field.
pub fn corrupt_deposit() -> Any {
    Any {
        type_url: "type.googleapis.com/examples.FundsDeposited".to_owned(),
        value: vec![0x0a, 0xff],
    }
}

#[when(expr = "the aggregate handles a withdrawal of {int} chips")]
async fn aggregate_handles(world: &mut Contracts, chips: i64) {
    let root = world.root(PLAYER);
    let mut history = world.history.clone();
    let last = history
        .pages
        .iter()
        .filter_map(EventPage::sequence)
        .chain(history.snapshot.as_ref().map(|s| s.sequence))
        .max();
    history.next_sequence = last.map_or(0, |last| last + 1);
    let command = CommandBook {
        cover: Some(Cover::new("player", root)),
        pages: vec![CommandPage::new(
            history.next_sequence,
            Any::pack(&withdrawal(chips)),
        )],
    };
    let endpoint = format!("http://{}", world.env().player);
    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .expect("a valid endpoint")
        .connect()
        .await
        .expect("connect to the player aggregate");
    let mut aggregate = CommandHandlerServiceClient::new(channel);
    let answer = aggregate
        .handle(ContextualCommand {
            events: Some(history),
            command: Some(command),
        })
        .await
        .map(tonic::Response::into_inner);
    world.handled = Some(answer);
}

fn decided(world: &Contracts) -> &EventBook {
    match &world.handled {
        Some(Ok(answer)) => match &answer.result {
            Some(business_response::Result::Events(book)) => book,
            other => panic!("the aggregate answered {other:?}"),
        },
        Some(Err(status)) => panic!("the aggregate failed: {status:?}"),
        None => panic!("nothing was sent to the aggregate"),
    }
}

#[then(expr = "the aggregate decides a {word} at sequence {int} leaving {int} chips")]
fn aggregate_decides(world: &mut Contracts, event: String, sequence: u32, chips: i64) {
    let page = decided(world).pages.first().expect("an event");
    assert_eq!(short_type(page), event);
    assert_eq!(page.sequence(), Some(sequence));
    assert_eq!(balance_after(page), Some(chips));
}

fn failure(world: &Contracts) -> &tonic::Status {
    match &world.handled {
        Some(Err(status)) => status,
        other => panic!("the aggregate did not fail: {other:?}"),
    }
}

#[then(expr = "the aggregate rejects it with {word} {string}")]
fn aggregate_rejects(world: &mut Contracts, expected: String, message: String) {
    let status = failure(world);
    assert_eq!(status.code(), code(&expected));
    assert_eq!(status.message(), message);
}

#[then(expr = "the aggregate fails with {word} mentioning {string} and {string}")]
fn aggregate_fails(world: &mut Contracts, expected: String, first: String, second: String) {
    let status = failure(world);
    assert_eq!(status.code(), code(&expected), "{status:?}");
    for part in [first, second] {
        assert!(
            status.message().contains(&part),
            "{:?} does not mention {part:?}",
            status.message()
        );
    }
}

#[then(
    expr = "the aggregate's answer carries a snapshot at sequence {int} with a bankroll of {int} chips"
)]
fn aggregate_snapshot(world: &mut Contracts, sequence: u32, bankroll: i64) {
    let snapshot = decided(world).snapshot.as_ref().expect("a snapshot");
    assert_eq!(snapshot.sequence, sequence);
    let state: PlayerState = snapshot
        .state
        .as_ref()
        .expect("the snapshot holds state")
        .unpack()
        .expect("the state is a PlayerState");
    assert_eq!(amount(state.bankroll.as_ref()), bankroll);
}
