//! Commands run on history at a point in time, storing nothing.

use angzarr_client::proto::{AnyExt, SpeculateCommandHandlerRequest, TemporalQuery};
use angzarr_client::PointInTime;
use cucumber::{then, when};
use examples::player::amount;
use examples::proto::{FundsDeposited, FundsWithdrawn};

use super::{deposit, history, next_sequence, short_type, withdrawal};
use crate::world::Contracts;

async fn speculate_withdrawal(
    world: &mut Contracts,
    chips: i64,
    name: &str,
    at: PointInTime,
    expected: u32,
) {
    let root = world.root(name);
    let result = world
        .client()
        .command("player", root)
        .with_command(&withdrawal(chips))
        .with_sequence(expected)
        .speculate(at)
        .await;
    world.record_command(result);
}

#[when(expr = "I speculatively withdraw {int} chips from {string} as of sequence {int}")]
async fn withdraw_as_of_sequence(world: &mut Contracts, chips: i64, name: String, at: u32) {
    speculate_withdrawal(world, chips, &name, PointInTime::AsOfSequence(at), at + 1).await;
}

#[when(
    expr = "I speculatively withdraw {int} chips from {string} as of the time her event {int} was stored"
)]
async fn withdraw_as_of_a_time(world: &mut Contracts, chips: i64, name: String, at: u32) {
    let pages = history(world, "player", &name).await;
    let stored = |sequence: u32| {
        pages
            .iter()
            .find(|page| page.sequence() == Some(sequence))
            .and_then(|page| page.created_at)
            .unwrap_or_else(|| panic!("event {sequence} of {name} has no creation time"))
    };
    let (point, next) = (stored(at), stored(at + 1));
    // The point must fall between the two events, or the scenario could not
    // tell time filtering from none.
    assert!(
        (point.seconds, point.nanos) < (next.seconds, next.nanos),
        "events {at} and {} were stored at the same instant",
        at + 1
    );
    speculate_withdrawal(world, chips, &name, PointInTime::AsOfTime(point), at + 1).await;
}

async fn speculate_deposit(world: &mut Contracts, chips: i64, name: &str, at: Option<PointInTime>) {
    let root = world.root(name);
    let expected = match &at {
        Some(PointInTime::AsOfSequence(at)) => at + 1,
        _ => next_sequence(world, "player", name).await,
    };
    let command = world
        .client()
        .command("player", root)
        .with_command(&deposit(chips))
        .with_sequence(expected)
        .build()
        .expect("a complete command");
    let request = SpeculateCommandHandlerRequest {
        command: Some(command),
        point_in_time: at.map(|at| TemporalQuery {
            point_in_time: Some(at),
        }),
    };
    let result = world.client().speculative().aggregate(request).await;
    world.record_command(result);
}

#[when(
    expr = "the speculative client runs a deposit of {int} chips for {string} as of sequence {int}"
)]
async fn speculative_client_deposit(world: &mut Contracts, chips: i64, name: String, at: u32) {
    speculate_deposit(world, chips, &name, Some(PointInTime::AsOfSequence(at))).await;
}

#[when(
    expr = "the speculative client runs a deposit of {int} chips for {string} with no point in time"
)]
async fn speculative_client_deposit_anytime(world: &mut Contracts, chips: i64, name: String) {
    speculate_deposit(world, chips, &name, None).await;
}

#[then(expr = "the speculation decides a {word} leaving {int} chips")]
fn speculation_decides(world: &mut Contracts, event: String, chips: i64) {
    let events = world
        .response()
        .events
        .as_ref()
        .expect("the response has events");
    let page = events
        .pages
        .first()
        .expect("the speculation decided an event");
    assert_eq!(short_type(page), event);
    let packed = page.event().expect("an inline event");
    let balance = match event.as_str() {
        "FundsWithdrawn" => {
            packed
                .unpack::<FundsWithdrawn>()
                .expect("decodes")
                .new_balance
        }
        "FundsDeposited" => {
            packed
                .unpack::<FundsDeposited>()
                .expect("decodes")
                .new_balance
        }
        other => panic!("{other} carries no balance"),
    };
    assert_eq!(amount(balance.as_ref()), chips);
}
