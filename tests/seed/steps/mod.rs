//! Step definitions, one module per seed feature, and the vocabulary they
//! share.

mod aggregate_client;
mod command_builder;
mod compensation;
mod connection;
mod decoding;
mod errors;
mod facts;
mod merge;
mod query_builder;
mod query_client;
mod router;
mod speculative;
mod state;

use angzarr_client::proto::{AnyExt, CommandResponse, EventPage};
use angzarr_client::DomainClient;
use prost_types::Any;

use crate::domains::{AddItem, CancelOrder, CreateOrder, ShipOrder};
use crate::world::Seed;

/// A page's event type without its package: `OrderCreated`.
pub fn short_type(page: &EventPage) -> String {
    let name = page.event().map_or("(no event)", |event| event.type_name());
    name.rsplit('.').next().unwrap_or(name).to_owned()
}

/// The command of the orders domain called `name`, carrying `data`.
pub fn order_command(name: &str, data: &str) -> Any {
    match name {
        "CreateOrder" => Any::pack(&CreateOrder {
            customer_id: data.to_owned(),
        }),
        "AddItem" => Any::pack(&AddItem {
            item: data.to_owned(),
        }),
        "ShipOrder" => Any::pack(&ShipOrder {
            carrier: data.to_owned(),
        }),
        "CancelOrder" => Any::pack(&CancelOrder {
            reason: data.to_owned(),
        }),
        other => panic!("the orders domain has no command {other}"),
    }
}

/// The pages of a command's answer.
pub fn answered_pages(response: &CommandResponse) -> &[EventPage] {
    response
        .events
        .as_ref()
        .map_or(&[][..], |book| book.pages.as_slice())
}

/// Sends `command` to `domain`/`root` at `sequence`.
pub async fn send(
    client: &DomainClient,
    domain: &str,
    root: uuid::Uuid,
    sequence: u32,
    command: Any,
) -> Result<CommandResponse, angzarr_client::ClientError> {
    client
        .command(domain, root)
        .with_any(command)
        .with_sequence(sequence)
        .execute()
        .await
}

/// Gives the order `name` of `domain` a history of `events` events: its
/// creation, then items; the subject of the scenario becomes that order.
pub async fn order_with_events(world: &mut Seed, domain: &str, name: &str, events: u32) {
    world.subject = Some((domain.to_owned(), name.to_owned()));
    let root = world.root(name);
    let client = world.client().await;
    for sequence in 0..events {
        let command = if sequence == 0 {
            order_command("CreateOrder", "customer-1")
        } else {
            order_command("AddItem", &format!("item-{sequence}"))
        };
        send(&client, domain, root, sequence, command)
            .await
            .unwrap_or_else(|error| panic!("writing event {sequence} of {name} failed: {error}"));
    }
    world.sequence = events;
}

/// The pages stored for `domain`/`name`.
pub async fn stored(world: &mut Seed, domain: &str, name: &str) -> Vec<EventPage> {
    let root = world.root(name);
    world
        .client()
        .await
        .query(domain, root)
        .get_pages()
        .await
        .unwrap_or_else(|error| panic!("reading {name} failed: {error}"))
}

/// The numbers in a list such as `0, 1, 2` or `6, 7 and 8`.
pub fn numbers(list: &str) -> Vec<u32> {
    list.split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// Whether `error` is of the kind a step names: `connection`, `invalid
/// argument`, `precondition`, `timeout or deadline`, `validation`.
pub fn is_kind(error: &angzarr_client::ClientError, kind: &str) -> bool {
    match kind {
        "connection" => error.is_connection_error(),
        "invalid argument" | "validation" => error.is_invalid_argument(),
        "precondition" => error.is_precondition_failed(),
        "timeout or deadline" => error.is_deadline_exceeded(),
        other => panic!("no error kind called {other}"),
    }
}

/// A loopback address nothing listens on.
pub fn closed_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("a bound address");
    drop(listener);
    address
}

/// A client whose coordinator is not there: connected lazily to a closed
/// loopback port, so that each call fails to connect.
pub async fn unreachable_client() -> DomainClient {
    let target = angzarr_client::Target::parse(&closed_address().to_string()).expect("valid");
    let options = angzarr_client::ConnectOptions {
        lazy: true,
        ..Default::default()
    };
    DomainClient::connect_with(&target, &options)
        .await
        .expect("a lazy client connects on first use")
}

/// A gRPC code by its name in the protocol: `NOT_FOUND`.
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
