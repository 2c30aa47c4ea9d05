//! Reading stored events as the generated message types.

use cucumber::{given, then, when};
use examples::player::amount;
use examples::proto::FundsDeposited;

use super::commands::deliver;
use super::state::corrupt_deposit;
use super::{history, numbers};
use crate::world::{Contracts, Read};

#[given(expr = "a fact {string} for {string} carrying a FundsDeposited whose bytes are corrupt")]
async fn corrupt_fact(world: &mut Contracts, external_id: String, name: String) {
    deliver(world, &name, Some(&external_id), corrupt_deposit()).await;
    if let Some(error) = &world.failure {
        panic!("the fact was not stored: {error}");
    }
}

#[when(expr = "I read the FundsDeposited events of {string}")]
async fn read_deposits(world: &mut Contracts, name: String) {
    let root = world.root(&name);
    let book = world
        .client()
        .query("player", root)
        .get_event_book()
        .await
        .expect("the history reads");
    world.decoded = book
        .events_of::<FundsDeposited>()
        .map(|event| {
            event
                .map(|event| amount(event.amount.as_ref()))
                .map_err(|error| error.to_string())
        })
        .collect();
}

#[then(regex = r"^they deposit ([0-9, and]+) chips$")]
fn deposits_are(world: &mut Contracts, amounts: String) {
    let expected: Vec<Result<i64, String>> = numbers(&amounts)
        .into_iter()
        .map(|n| Ok(i64::from(n)))
        .collect();
    assert_eq!(world.decoded, expected);
}

#[then(expr = "the first {int} decode and the {int}th fails mentioning {string}")]
fn last_fails(world: &mut Contracts, good: usize, bad: usize, part: String) {
    assert_eq!(world.decoded.len(), bad, "{:?}", world.decoded);
    assert!(
        world.decoded[..good].iter().all(Result::is_ok),
        "{:?}",
        world.decoded
    );
    match &world.decoded[bad - 1] {
        Err(error) => assert!(error.contains(&part), "{error:?} does not mention {part:?}"),
        Ok(amount) => panic!("the corrupt event decoded as a deposit of {amount}"),
    }
}

#[when(regex = r#"^I read event (\d+) of "([^"]+)" as a (PlayerRegistered|FundsDeposited)$"#)]
async fn read_as(world: &mut Contracts, sequence: String, name: String, as_type: String) {
    let sequence = numbers(&sequence)[0];
    let pages = history(world, "player", &name).await;
    let page = pages
        .iter()
        .find(|page| page.sequence() == Some(sequence))
        .expect("the event was stored");
    let read = match as_type.as_str() {
        "PlayerRegistered" => page.event_as().map(Read::Registered),
        _ => page.event_as::<FundsDeposited>().map(|_| Read::Deposited),
    };
    world.read = Some(read.map_err(|error| error.to_string()));
}

#[then(expr = "the decoded player's email is {string}")]
fn decoded_email(world: &mut Contracts, email: String) {
    match &world.read {
        Some(Ok(Read::Registered(registered))) => assert_eq!(registered.email, email),
        other => panic!("no PlayerRegistered was read: {other:?}"),
    }
}

#[then(expr = "decoding fails with {string}")]
fn decoding_fails(world: &mut Contracts, message: String) {
    match &world.read {
        Some(Err(error)) => assert_eq!(*error, message),
        other => panic!("decoding did not fail: {other:?}"),
    }
}
