//! `error_handling.feature`: what a `ClientError` tells.

use std::time::Duration;

use angzarr_client::testing::FakeCoordinator;
use angzarr_client::{ClientError, ConnectOptions, DomainClient, Target};
use cucumber::{given, then, when};
use tonic::{Code, Status};

use super::{order_command, order_with_events, send};
use crate::world::Seed;

/// A loopback server that accepts connections and closes them at once.
async fn dropping_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    address
}

async fn lazy_client(address: std::net::SocketAddr) -> DomainClient {
    let target = Target::parse(&address.to_string()).expect("valid");
    let options = ConnectOptions {
        lazy: true,
        ..Default::default()
    };
    DomainClient::connect_with(&target, &options)
        .await
        .expect("lazy")
}

async fn transport_error() -> ClientError {
    let client = lazy_client(dropping_server().await).await;
    client
        .queries()
        .aggregate_roots()
        .await
        .expect_err("the connection drops")
}

async fn connection_error() -> ClientError {
    let closed = super::closed_address().to_string();
    DomainClient::connect(&closed)
        .await
        .expect_err("nothing listens")
}

#[given("the server is unreachable")]
async fn unreachable(world: &mut Seed) {
    world.connected = Some(super::unreachable_client().await);
}

#[given("the connection drops mid-request")]
async fn drops(world: &mut Seed) {
    world.connected = Some(lazy_client(dropping_server().await).await);
}

fn scripted(world: &mut Seed, status: Status) {
    let fake = FakeCoordinator::new();
    fake.reply_status(status);
    world.connected = Some(fake.client());
    world.fake = Some(fake);
}

#[given("the server returns a gRPC error")]
fn grpc_error(world: &mut Seed) {
    scripted(
        world,
        Status::unimplemented("the coordinator has no such method"),
    );
}

#[given("the client lacks required permissions")]
fn no_permission(world: &mut Seed) {
    scripted(
        world,
        Status::permission_denied("access denied: the caller may not write orders"),
    );
}

#[given("the server has an internal error")]
fn internal(world: &mut Seed) {
    scripted(world, Status::internal("the event store failed"));
}

#[given("the operation times out")]
async fn times_out(world: &mut Seed) {
    let options = ConnectOptions {
        call_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    world.connected = Some(world.connect_with(options).await);
    world.subject = Some(("slow".into(), "slow".into()));
}

#[when(regex = r"^I attempt a (?:client|restricted) operation$")]
async fn attempt(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let domain = world
        .subject
        .clone()
        .map_or("orders".to_owned(), |(domain, _)| domain);
    let result = client
        .command_new(&domain)
        .with_any(order_command("CreateOrder", "c"))
        .execute()
        .await;
    world.failure = result.err();
}

fn failure(world: &Seed) -> &ClientError {
    world.failure.as_ref().expect("the operation failed")
}

#[then("the error should be a connection error")]
fn is_connection(world: &mut Seed) {
    assert!(
        matches!(
            failure(world),
            ClientError::Connection { .. } | ClientError::ConnectionLost(_)
        ),
        "{:?}",
        failure(world)
    );
}

#[then("the error should be a transport error")]
fn is_transport(world: &mut Seed) {
    assert!(
        matches!(
            failure(world),
            ClientError::ConnectionLost(_)
                | ClientError::Transport(_)
                | ClientError::Connection { .. }
        ),
        "{:?}",
        failure(world)
    );
}

#[then(regex = r"^(is_\w+) should return true$")]
fn predicate_true(world: &mut Seed, predicate: String) {
    let error = world.error();
    assert!(predicate_of(error, &predicate), "{predicate} of {error:?}");
}

fn predicate_of(error: &ClientError, name: &str) -> bool {
    match name {
        "is_connection_error" => error.is_connection_error(),
        "is_invalid_argument" => error.is_invalid_argument(),
        "is_not_found" => error.is_not_found(),
        "is_precondition_failed" => error.is_precondition_failed(),
        other => panic!("no predicate {other}"),
    }
}

#[then("the error message should describe the connection failure")]
fn describes_connection(world: &mut Seed) {
    let text = failure(world).to_string();
    assert!(
        text.contains("cannot connect") || text.contains("refused"),
        "{text}"
    );
}

#[then("the error should be a gRPC error")]
fn is_grpc(world: &mut Seed) {
    assert!(
        matches!(failure(world), ClientError::Grpc(_)),
        "{:?}",
        failure(world)
    );
}

#[then("the underlying Status should be accessible")]
fn status_accessible(world: &mut Seed) {
    let status = failure(world).status().expect("a status");
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "the coordinator has no such method");
}

#[when("I build a command without required fields")]
async fn build_without(world: &mut Seed) {
    let client = FakeCoordinator::new().client();
    world.failure = client.command_new("orders").build().err();
}

#[then("the error should be an invalid argument error")]
fn is_invalid(world: &mut Seed) {
    assert!(matches!(failure(world), ClientError::InvalidArgument(_)));
}

#[then("the error message should describe what's missing")]
fn describes_missing(world: &mut Seed) {
    assert_eq!(failure(world).message(), "command not set");
}

#[when("I build a query with invalid timestamp format")]
async fn bad_time(world: &mut Seed) {
    let client = FakeCoordinator::new().client();
    world.failure = client
        .query("orders", uuid::Uuid::new_v4())
        .as_of_rfc3339("15/01/2024 10:30")
        .build()
        .err();
}

#[then("the error should be an invalid timestamp error")]
fn is_timestamp(world: &mut Seed) {
    assert!(
        matches!(failure(world), ClientError::InvalidTimestamp(_)),
        "{:?}",
        failure(world)
    );
}

#[then("the error message should indicate the format problem")]
fn format_problem(world: &mut Seed) {
    let text = failure(world).to_string();
    assert!(text.contains("15/01/2024 10:30"), "{text}");
    assert!(
        text.to_lowercase().contains("rfc 3339") || text.to_lowercase().contains("rfc3339"),
        "{text}"
    );
}

#[given("the aggregate does not exist")]
fn does_not_exist(world: &mut Seed) {
    world.subject = Some(("nowhere".into(), "missing".into()));
}

#[when("I query events for the aggregate")]
async fn query_missing(world: &mut Seed) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    // The coordinator answers a query of an unknown aggregate with an
    // empty book; NOT_FOUND is its answer to a command for a domain it
    // does not serve.
    let book = client
        .query(&domain, root)
        .get_event_book()
        .await
        .expect("a query answers");
    assert!(book.pages.is_empty());
    world.failure = send(&client, &domain, root, 0, order_command("CreateOrder", "c"))
        .await
        .err();
}

#[then(regex = r"^code should return (\w+)$")]
fn code_is(world: &mut Seed, code: String) {
    let error = world.error();
    assert_eq!(error.code().map(super::code_name), Some(code), "{error:?}");
}

#[given(expr = "the server aggregate is at sequence {int}")]
async fn at_sequence(world: &mut Seed, sequence: u32) {
    order_with_events(world, "orders", "locked", sequence).await;
}

#[when(expr = "I execute a mock command at sequence {int}")]
async fn mock_command(world: &mut Seed, sequence: u32) {
    let (domain, root) = world.subject();
    let client = world.client().await;
    world.failure = send(
        &client,
        &domain,
        root,
        sequence,
        order_command("AddItem", "w"),
    )
    .await
    .err();
}

#[then("the error indicates optimistic lock failure")]
fn optimistic(world: &mut Seed) {
    assert!(
        failure(world).is_sequence_conflict(),
        "{:?}",
        failure(world)
    );
}

#[when("I send a malformed request to the server")]
async fn malformed(world: &mut Seed) {
    let client = world.client().await;
    let book = angzarr_client::proto::CommandBook {
        cover: Some(angzarr_client::proto::Cover::new(
            "orders",
            uuid::Uuid::new_v4(),
        )),
        pages: Vec::new(),
    };
    world.failure = client.aggregate().handle(book).await.err();
}

#[then("the error message should describe access denial")]
fn access_denied(world: &mut Seed) {
    assert!(failure(world).message().starts_with("access denied"));
}

#[then("the error should indicate server-side failure")]
fn server_side(world: &mut Seed) {
    let error = failure(world);
    assert!(!error.is_connection_error() && !error.is_retryable() && !error.is_rejection());
    assert_eq!(error.message(), "the event store failed");
}

#[given("any client error")]
async fn any_error(world: &mut Seed) {
    world.errors = vec![
        ("connection".into(), connection_error().await),
        (
            "gRPC".into(),
            ClientError::from(Status::failed_precondition("Insufficient funds")),
        ),
        (
            "invalid argument".into(),
            FakeCoordinator::new()
                .client()
                .command_new("orders")
                .build()
                .expect_err("no command"),
        ),
    ];
}

#[when(regex = r"^I (call message\(\) on|convert|debug-format) the error(?: to string)?$")]
fn render(world: &mut Seed, how: String) {
    world.answers = world
        .errors
        .iter()
        .map(|(_, error)| match how.as_str() {
            "call message() on" => error.message(),
            "convert" => error.to_string(),
            _ => format!("{error:?}"),
        })
        .collect();
}

#[then("I should get a non-empty string")]
fn non_empty(world: &mut Seed) {
    assert!(
        world.answers.iter().all(|text| !text.trim().is_empty()),
        "{:?}",
        world.answers
    );
}

#[then("the message should describe the error")]
fn describes(world: &mut Seed) {
    assert!(
        world.answers[0].contains("refused") || world.answers[0].contains("connect"),
        "{}",
        world.answers[0]
    );
    assert_eq!(world.answers[1], "Insufficient funds");
    assert_eq!(world.answers[2], "command not set");
}

#[then("I should get a formatted error message")]
fn formatted(world: &mut Seed) {
    non_empty(world);
}

#[then("the message should include the error type and description")]
fn type_and_description(world: &mut Seed) {
    assert!(
        world.answers[0].starts_with("cannot connect to "),
        "{}",
        world.answers[0]
    );
    assert_eq!(world.answers[1], "Insufficient funds (FailedPrecondition)");
    assert_eq!(world.answers[2], "invalid argument: command not set");
}

#[then("I should get detailed diagnostic information")]
fn diagnostic(world: &mut Seed) {
    assert!(
        world.answers[0].starts_with("Connection {") && world.answers[0].contains("endpoint:"),
        "{}",
        world.answers[0]
    );
    assert!(
        world.answers[1].starts_with("Grpc(") && world.answers[1].contains("FailedPrecondition"),
        "{}",
        world.answers[1]
    );
    assert!(
        world.answers[2].starts_with("InvalidArgument("),
        "{}",
        world.answers[2]
    );
}

#[given(expr = "a gRPC error with status {word}")]
fn grpc_status(world: &mut Seed, code: String) {
    assert_eq!(code, "NOT_FOUND");
    world.errors = vec![(
        "gRPC".into(),
        ClientError::from(Status::not_found("no domain orders")),
    )];
}

#[given("a connection error")]
async fn a_connection_error(world: &mut Seed) {
    world.errors = vec![("connection".into(), connection_error().await)];
}

#[given("a gRPC error with detailed status")]
fn detailed(world: &mut Seed) {
    let status = Status::with_details(
        Code::FailedPrecondition,
        "Sequence mismatch: command expects 1, aggregate at 3",
        b"details".to_vec().into(),
    );
    world.errors = vec![("gRPC".into(), ClientError::from(status))];
}

#[given("an invalid argument error")]
fn invalid_argument_error(world: &mut Seed) {
    world.errors = vec![(
        "invalid argument".into(),
        ClientError::InvalidArgument("command not set".into()),
    )];
}

#[when(regex = r"^I call (code|status)\(\) on the error$")]
fn call(world: &mut Seed, which: String) {
    let error = &world.errors[0].1;
    world.answers = vec![if which == "code" {
        format!("{:?}", error.code().map(super::code_name))
    } else {
        format!(
            "{:?}",
            error
                .status()
                .map(|s| (s.code(), s.message().to_owned(), s.details().to_vec()))
        )
    }];
}

#[then(expr = "I should get Some\\({word}\\)")]
fn some(world: &mut Seed, code: String) {
    assert_eq!(world.answers[0], format!("Some({code:?})"));
}

#[then("I should get None")]
fn none(world: &mut Seed) {
    assert_eq!(world.answers[0], "None");
}

#[then("I should get the full gRPC Status")]
fn full_status(world: &mut Seed) {
    assert!(
        world.answers[0].starts_with("Some((FailedPrecondition,"),
        "{}",
        world.answers[0]
    );
}

#[then("I can access the status code, message, and details")]
fn parts(world: &mut Seed) {
    let status = world.errors[0].1.status().expect("a status");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "Sequence mismatch: command expects 1, aggregate at 3"
    );
    assert_eq!(status.details(), &b"details"[..]);
}

#[given(regex = r"^(?:different|various) error types$")]
async fn different(world: &mut Seed) {
    world.errors = vec![
        (
            "NOT_FOUND gRPC error".into(),
            ClientError::from(Status::not_found("no such domain")),
        ),
        (
            "INTERNAL gRPC error".into(),
            ClientError::from(Status::internal("broken")),
        ),
        (
            "FAILED_PRECONDITION gRPC error".into(),
            ClientError::from(Status::failed_precondition(
                "Sequence mismatch: command expects 1, aggregate at 3",
            )),
        ),
        (
            "INVALID_ARGUMENT gRPC error".into(),
            ClientError::from(Status::invalid_argument("domain name cannot be empty")),
        ),
        (
            "ClientError::InvalidArgument".into(),
            ClientError::InvalidArgument("command not set".into()),
        ),
        (
            "gRPC error".into(),
            ClientError::from(Status::not_found("no such domain")),
        ),
        (
            "UNAVAILABLE gRPC errors".into(),
            ClientError::from(Status::unavailable("restarting")),
        ),
        (
            "RESOURCE_EXHAUSTED".into(),
            ClientError::from(Status::resource_exhausted("slow down")),
        ),
        (
            "INVALID_ARGUMENT".into(),
            ClientError::from(Status::invalid_argument("bad")),
        ),
        (
            "FAILED_PRECONDITION".into(),
            ClientError::from(Status::failed_precondition(
                "Sequence mismatch: command expects 1, aggregate at 3",
            )),
        ),
        ("connection error".into(), connection_error().await),
        ("connection errors".into(), connection_error().await),
        ("transport error".into(), transport_error().await),
    ];
}

fn named<'a>(world: &'a Seed, name: &str) -> &'a ClientError {
    &world
        .errors
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[then(regex = r"^(.+) should have (is_\w+) (true|false)$")]
fn has_predicate(world: &mut Seed, name: String, predicate: String, value: String) {
    let error = named(world, &name);
    assert_eq!(
        predicate_of(error, &predicate),
        value == "true",
        "{predicate} of {error:?}"
    );
}

#[then(regex = r"^(.+?) should (NOT )?be retryable(?: with backoff| after state refresh)?$")]
fn retryable(world: &mut Seed, name: String, not: String) {
    let error = named(world, &name);
    assert_eq!(error.is_retryable(), not.is_empty(), "{error:?}");
}

#[given("an error with retry-after metadata")]
fn with_retry_after(world: &mut Seed) {
    let mut status = Status::resource_exhausted("slow down");
    status
        .metadata_mut()
        .insert("grpc-retry-pushback-ms", "1500".parse().expect("ascii"));
    world.errors = vec![("gRPC".into(), ClientError::from(status))];
}

#[when("I inspect the error details")]
fn inspect(world: &mut Seed) {
    world.answers = vec![format!("{:?}", world.errors[0].1.retry_after())];
}

#[then("I should be able to extract retry timing hints")]
fn timing(world: &mut Seed) {
    assert_eq!(
        world.answers[0],
        format!("{:?}", Some(Duration::from_millis(1500)))
    );
}
