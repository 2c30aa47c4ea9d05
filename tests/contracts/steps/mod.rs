//! Step definitions, grouped by the part of the API they drive, and the
//! small vocabulary the features share.

mod commands;
mod compensation;
mod connection;
mod decoding;
mod outcome;
mod poker;
mod queries;
mod setup;
mod speculative;
mod state;
mod system;

use angzarr_client::proto::{AnyExt, EventPage, MergeStrategy, SyncMode};
use examples::player::{amount, chips};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsTransferred, FundsWithdrawn, RegisterPlayer, WithdrawFunds,
};

use crate::world::Contracts;

/// The registration of the player called `name`.
pub fn registration(name: &str) -> RegisterPlayer {
    RegisterPlayer {
        display_name: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
        ..Default::default()
    }
}

/// A deposit of `amount` chips.
pub fn deposit(amount: i64) -> DepositFunds {
    DepositFunds {
        amount: Some(chips(amount)),
    }
}

/// A withdrawal of `amount` chips.
pub fn withdrawal(amount: i64) -> WithdrawFunds {
    WithdrawFunds {
        amount: Some(chips(amount)),
    }
}

/// A merge strategy by its name in the features (`STRICT`, `COMMUTATIVE`,
/// `MANUAL`, `AGGREGATE_HANDLES`).
pub fn merge_strategy(name: &str) -> MergeStrategy {
    MergeStrategy::from_str_name(&format!("MERGE_{name}"))
        .unwrap_or_else(|| panic!("no merge strategy called {name}"))
}

/// A sync mode by its name in the features (`ASYNC`, `SIMPLE`, `CASCADE`).
pub fn sync_mode(name: &str) -> SyncMode {
    SyncMode::from_str_name(&format!("SYNC_MODE_{name}"))
        .unwrap_or_else(|| panic!("no sync mode called {name}"))
}

/// A gRPC code by its name in the protocol (`FAILED_PRECONDITION`, ...).
pub fn code(name: &str) -> tonic::Code {
    use tonic::Code::*;
    [
        Ok,
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    ]
    .into_iter()
    .find(|code| screaming(&format!("{code:?}")) == name)
    .unwrap_or_else(|| panic!("no gRPC code called {name}"))
}

fn screaming(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The numbers in a list such as `10, 20 and 30`; `none` is empty.
pub fn numbers(list: &str) -> Vec<u32> {
    list.split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// The words in a list such as `PlayerRegistered, FundsDeposited`; `empty`
/// is empty.
pub fn words(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty() && *w != "empty")
        .map(str::to_owned)
        .collect()
}

/// A page's event type without its package: `FundsDeposited`.
pub fn short_type(page: &EventPage) -> String {
    let name = page.event().map_or("(no event)", |event| event.type_name());
    name.rsplit('.').next().unwrap_or(name).to_owned()
}

/// The balance an event leaves, for the events that carry one.
pub fn balance_after(page: &EventPage) -> Option<i64> {
    let event = page.event()?;
    let balance = if event.is::<FundsDeposited>() {
        event.unpack::<FundsDeposited>().ok()?.new_balance
    } else if event.is::<FundsWithdrawn>() {
        event.unpack::<FundsWithdrawn>().ok()?.new_balance
    } else if event.is::<FundsTransferred>() {
        event.unpack::<FundsTransferred>().ok()?.new_balance
    } else {
        return None;
    };
    Some(amount(balance.as_ref()))
}

/// The history of `name` in `domain`, read through the query builder.
pub async fn history(world: &mut Contracts, domain: &str, name: &str) -> Vec<EventPage> {
    let root = world.root(name);
    world
        .client()
        .query(domain, root)
        .get_pages()
        .await
        .unwrap_or_else(|error| panic!("reading the history of {name} failed: {error}"))
}

/// The sequence the next command for `name` in `domain` must expect.
pub async fn next_sequence(world: &mut Contracts, domain: &str, name: &str) -> u32 {
    let root = world.root(name);
    world
        .client()
        .query(domain, root)
        .get_event_book()
        .await
        .unwrap_or_else(|error| panic!("reading the history of {name} failed: {error}"))
        .next_sequence
}

/// Replaces the placeholders a feature may use in expected text.
pub fn expand(world: &Contracts, text: &str) -> String {
    match world.closed {
        Some(closed) => text.replace("{closed}", &closed.to_string()),
        None => text.to_owned(),
    }
}
