//! Rejections reported back to the aggregate that caused the command.

use angzarr_client::proto::{
    business_response, AnyExt, CommandBook, CommandRequest, Notification, RejectionNotification,
};
use cucumber::{given, then, when};
use examples::proto::ReserveFunds;
use prost_types::Any;

use super::outcome::balance;
use super::{deposit, next_sequence, short_type, withdrawal};
use crate::world::Contracts;

async fn cashier_command(world: &mut Contracts, name: &str, command: Any) {
    let root = world.root(name);
    let sequence = next_sequence(world, "cashier", name).await;
    world
        .client()
        .command("cashier", root)
        .with_any(command)
        .with_sequence(sequence)
        .execute()
        .await
        .unwrap_or_else(|error| panic!("the cashier refused: {error}"));
}

#[given(expr = "the cashier {string} takes in {int} chips")]
async fn cashier_takes_in(world: &mut Contracts, name: String, chips: i64) {
    cashier_command(world, &name, Any::pack(&deposit(chips))).await;
}

#[given(expr = "the cashier {string} pays out {int} chips")]
async fn cashier_pays_out(world: &mut Contracts, name: String, chips: i64) {
    cashier_command(world, &name, Any::pack(&withdrawal(chips))).await;
    world.payout = chips;
}

#[when(expr = "the player domain refuses the payout's deposit to {string}, who is not registered")]
async fn player_refuses(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let book = world
        .client()
        .command("player", root)
        .with_command(&deposit(world.payout))
        .build()
        .expect("a complete command");
    let error = world
        .client()
        .aggregate()
        .handle(book.clone())
        .await
        .expect_err("the player does not exist");
    assert!(error.is_rejection(), "{error:?}");
    world.refused = Some((book, error.message()));
}

/// Tells `domain`'s aggregate `root` that `rejected` was refused.
async fn notify(
    world: &mut Contracts,
    domain: &str,
    name: &str,
    rejected: CommandBook,
    reason: String,
) {
    let root = world.root(name);
    let sequence = next_sequence(world, domain, name).await;
    let notification = Notification {
        payload: Some(Any::pack(&RejectionNotification {
            rejected_command: Some(rejected),
            rejection_reason: reason,
        })),
        ..Default::default()
    };
    let book = world
        .client()
        .command(domain, root)
        .with_any(Any::pack(&notification))
        .with_sequence(sequence)
        .build()
        .expect("a complete command");
    let result = world
        .client()
        .aggregate()
        .handle_compensation(CommandRequest {
            command: Some(book),
            ..Default::default()
        })
        .await;
    world.compensation = world.record(result);
}

#[when(expr = "the cashier {string} is told of the rejection")]
async fn cashier_told(world: &mut Contracts, name: String) {
    let (rejected, reason) = world.refused.clone().expect("a refused command");
    notify(world, "cashier", &name, rejected, reason).await;
}

#[when(
    expr = "player {string} is told that domain {string} rejected her ReserveFunds because {string}"
)]
async fn player_told(world: &mut Contracts, name: String, domain: String, reason: String) {
    let table = world.root("the table");
    let rejected = world
        .client()
        .command(&domain, table)
        .with_command(&ReserveFunds {
            amount: None,
            table_root: table.as_bytes().to_vec(),
        })
        .build()
        .expect("a complete command");
    notify(world, "player", &name, rejected, reason).await;
}

fn compensation(world: &Contracts) -> &business_response::Result {
    if let Some(error) = &world.failure {
        panic!("the compensation failed: {error}");
    }
    world
        .compensation
        .as_ref()
        .and_then(|answer| answer.result.as_ref())
        .expect("the compensation was answered")
}

#[then(expr = "the compensation stores a {word} at sequence {int}")]
fn compensation_stores(world: &mut Contracts, event: String, sequence: u32) {
    let business_response::Result::Events(book) = compensation(world) else {
        panic!("the answer holds no events: {:?}", world.compensation);
    };
    let page = book.pages.first().expect("an event");
    assert_eq!(short_type(page), event);
    assert_eq!(page.sequence(), Some(sequence));
}

#[then(expr = "the float of cashier {string} is {int} chips")]
async fn cashier_float(world: &mut Contracts, name: String, chips: i64) {
    assert_eq!(balance(world, "cashier", &name).await, chips);
}

fn revocation(world: &Contracts) -> &angzarr_client::proto::RevocationResponse {
    match compensation(world) {
        business_response::Result::Revocation(revocation) => revocation,
        other => panic!("the answer is not a revocation: {other:?}"),
    }
}

#[then("the answer is a revocation asking for a system revocation")]
fn is_revocation(world: &mut Contracts) {
    assert!(revocation(world).emit_system_revocation);
}

#[then(expr = "the revocation's reason mentions {string}")]
fn revocation_reason(world: &mut Contracts, part: String) {
    let reason = &revocation(world).reason;
    assert!(
        reason.contains(&part),
        "{reason:?} does not mention {part:?}"
    );
}
