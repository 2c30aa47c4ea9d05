//! Starting the servers and giving aggregates a history.

use cucumber::given;

use super::{deposit, numbers, registration};
use crate::world::{Contracts, Environment, Transport};

#[given("angzarr-local is serving the player domain")]
async fn serving(world: &mut Contracts) {
    world.env = Some(Environment::start(Transport::Tcp).await);
}

#[given("angzarr-local is serving the player domain on a Unix socket")]
async fn serving_on_a_socket(world: &mut Contracts) {
    world.env = Some(Environment::start(Transport::Unix).await);
}

#[given("the player aggregate is serving over gRPC, behind angzarr-local")]
async fn player_serving(world: &mut Contracts) {
    world.env = Some(Environment::start(Transport::Tcp).await);
}

/// Registers `name`, then deposits each amount in turn.
pub async fn register_with_deposits(
    world: &mut Contracts,
    name: &str,
    correlation_id: Option<&str>,
    amounts: &[u32],
) {
    let root = world.root(name);
    let mut register = world
        .client()
        .command("player", root)
        .with_command(&registration(name));
    if let Some(correlation_id) = correlation_id {
        register = register.with_correlation_id(correlation_id);
    }
    register
        .execute()
        .await
        .unwrap_or_else(|error| panic!("registering {name} failed: {error}"));
    for (sequence, amount) in (1..).zip(amounts) {
        world
            .client()
            .command("player", root)
            .with_command(&deposit(i64::from(*amount)))
            .with_sequence(sequence)
            .execute()
            .await
            .unwrap_or_else(|error| panic!("depositing {amount} for {name} failed: {error}"));
    }
}

#[given(expr = "player {string} is registered")]
async fn registered(world: &mut Contracts, name: String) {
    register_with_deposits(world, &name, None, &[]).await;
}

#[given(expr = "player {string} is registered with correlation id {string}")]
async fn registered_with_correlation(world: &mut Contracts, name: String, correlation_id: String) {
    register_with_deposits(world, &name, Some(&correlation_id), &[]).await;
}

#[given(regex = r#"^player "([^"]+)" is registered with deposits of ([0-9, and]+) chips$"#)]
async fn registered_with_deposits(world: &mut Contracts, name: String, amounts: String) {
    register_with_deposits(world, &name, None, &numbers(&amounts)).await;
}
