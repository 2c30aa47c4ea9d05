//! `connection.feature` and `domain-client.feature`: reaching a
//! coordinator over TCP and Unix sockets, from the environment, sharing
//! channels.
//!
//! The scenarios name fixed places (`localhost:1310`, `/tmp/angzarr.sock`);
//! each scenario has its own backend, so `:1310` stands for its port,
//! `:59999` for a port nothing listens on, and `/tmp/*.sock` for sockets in
//! the scenario's directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use angzarr_client::{
    AggregateClient, Client, ClientError, ConnectOptions, DomainClient, ListenAddress, QueryClient,
    SpeculativeClient, Target,
};
use angzarr_local::LocalCoordinator;
use cucumber::{given, then, when};

use super::order_command;
use crate::domains::{CreateOrder, Orders, Probe};
use crate::world::{scenario_dir, Seed};

/// The scenario's stand-ins for the places a step names.
async fn endpoint(world: &mut Seed, text: &str) -> String {
    if let Some(socket) = text
        .strip_prefix("unix://")
        .or(Some(text))
        .filter(|t| t.starts_with("/tmp/"))
    {
        let name = socket.trim_start_matches("/tmp/");
        let path = sockets(world).join(name);
        let shown = path.display().to_string();
        return if text.starts_with("unix://") {
            format!("unix://{shown}")
        } else {
            shown
        };
    }
    if text.contains(":59999") {
        return text.replace("59999", &super::closed_address().port().to_string());
    }
    if text.contains(":1310") {
        let port = world.backend().await.address.port();
        return text.replace(":1310", &format!(":{port}"));
    }
    text.to_owned()
}

fn sockets(world: &mut Seed) -> PathBuf {
    let dir = world
        .notes
        .entry("sockets")
        .or_insert_with(|| scenario_dir().display().to_string());
    PathBuf::from(dir.as_str())
}

#[given(expr = "a Unix socket at {string}")]
async fn unix_socket(world: &mut Seed, path: String) {
    let path = PathBuf::from(endpoint(world, &path).await);
    let local = LocalCoordinator::builder().domain_aggregate(Orders).build();
    let bound = local
        .bind(ListenAddress::Unix(path.clone()), std::future::pending())
        .await
        .expect("bind the socket");
    tokio::spawn(bound.serve());
    assert!(path.exists());
}

#[when(expr = "I connect to {string}")]
async fn connect_to(world: &mut Seed, text: String) {
    let endpoint = endpoint(world, &text).await;
    world.notes.insert("endpoint", endpoint.clone());
    let result = DomainClient::connect(&endpoint).await;
    world.connected = world.record(result);
}

#[then("the connection should succeed")]
fn succeeds(world: &mut Seed) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    assert!(world.connected.is_some());
}

async fn can_command(client: &DomainClient) {
    client
        .command_new("orders")
        .with_command(&CreateOrder {
            customer_id: "c".into(),
        })
        .execute()
        .await
        .expect("a command through the client succeeds");
}

#[then("the client should be ready for operations")]
async fn ready(world: &mut Seed) {
    can_command(world.connected.as_ref().expect("connected")).await;
}

#[then("the scheme should be treated as insecure")]
fn insecure(world: &mut Seed) {
    let target = Target::parse(world.note("endpoint")).expect("valid");
    assert!(matches!(target, Target::Http(_)), "{target:?}");
}

#[then("the connection should use TLS")]
fn uses_tls(world: &mut Seed) {
    let endpoint = world.note("endpoint").to_owned();
    assert!(matches!(Target::parse(&endpoint), Ok(Target::Https(_))));
    // The backend speaks plain HTTP/2: a TLS handshake with it fails.
    let error = world
        .failure
        .as_ref()
        .expect("TLS against a plaintext server fails");
    assert!(error.is_connection_error(), "{error:?}");
}

#[then("the connection should fail")]
fn fails(world: &mut Seed) {
    let error = world.failure.as_ref().expect("the connection failed");
    assert!(error.is_connection_error(), "{error:?}");
}

fn failure_text(world: &Seed) -> String {
    world
        .failure
        .as_ref()
        .expect("a failure")
        .to_string()
        .to_lowercase()
}

#[then("the error should indicate DNS or connection failure")]
fn dns(world: &mut Seed) {
    let text = failure_text(world);
    assert!(text.contains("nonexistent.invalid"), "{text}");
    assert!(
        text.contains("dns")
            || text.contains("resolve")
            || text.contains("lookup")
            || text.contains("name"),
        "{text}"
    );
}

#[then("the error should indicate connection refused")]
fn refused(world: &mut Seed) {
    let text = failure_text(world);
    assert!(text.contains("refused"), "{text}");
}

#[then("the client should use UDS transport")]
async fn uses_uds(world: &mut Seed) {
    let endpoint = world.note("endpoint").to_owned();
    assert!(matches!(Target::parse(&endpoint), Ok(Target::Unix(_))));
    can_command(world.connected.as_ref().expect("connected")).await;
}

#[then("the error should indicate socket not found")]
fn socket_not_found(world: &mut Seed) {
    let text = failure_text(world);
    assert!(
        text.contains("no such file") || text.contains("not found"),
        "{text}"
    );
}

#[given(expr = "environment variable {string} set to {string}")]
fn variable_set(world: &mut Seed, name: String, value: String) {
    world.notes.insert("variable", name);
    world.notes.insert("value", value);
}

#[given(expr = "environment variable {string} is not set")]
fn variable_unset(world: &mut Seed, name: String) {
    world.notes.insert("variable", name);
}

#[when(expr = "I call from_env\\({string}, {string}\\)")]
fn from_env(world: &mut Seed, name: String, default: String) {
    assert_eq!(world.notes.get("variable"), Some(&name));
    // The process environment is shared by every scenario in flight; the
    // lookup is `Target::from_env`'s, given this scenario's variables.
    let value = world.notes.get("value").cloned();
    let lookup = |variable: &str| {
        if variable == name {
            value.clone()
        } else {
            None
        }
    };
    let target = match lookup(&name) {
        Some(value) if !value.trim().is_empty() => Target::parse(&value),
        _ => Target::parse(&default),
    };
    assert_eq!(
        target.as_ref().ok(),
        Target::from_env_with(&name, &default, lookup).as_ref().ok()
    );
    world
        .notes
        .insert("target", format!("{:?}", target.expect("valid")));
}

#[then(expr = "the connection should use {string}")]
fn uses(world: &mut Seed, endpoint: String) {
    assert_eq!(
        world.note("target"),
        format!("{:?}", Target::parse(&endpoint).expect("valid"))
    );
}

#[given(expr = "an existing gRPC channel")]
async fn channel(world: &mut Seed) {
    let address = world.backend().await.address;
    let target = Target::parse(&address.to_string()).expect("valid");
    let channel = angzarr_client::connect(&target, &ConnectOptions::default())
        .await
        .expect("a channel");
    world.channel = Some(channel);
    let after = world.backend().await.connections();
    world.counts.insert("after channel", after);
}

#[when("I call from_channel(channel)")]
fn from_channel(world: &mut Seed) {
    world.connected = Some(DomainClient::from_channel(
        world.channel.clone().expect("a channel"),
    ));
}

#[then("the client should reuse that channel")]
async fn reuses(world: &mut Seed) {
    can_command(world.connected.as_ref().expect("a client")).await;
}

#[then("no new connection should be created")]
async fn no_new_connection(world: &mut Seed) {
    let accepted = world.backend().await.connections();
    can_command(world.connected.as_ref().expect("a client")).await;
    assert_eq!(world.backend().await.connections(), accepted);
}

#[when("I create QueryClient from the channel")]
fn query_from_channel(world: &mut Seed) {
    world.queries = Some(QueryClient::from_channel(
        world.channel.clone().expect("a channel"),
    ));
}

#[when("I create AggregateClient from the same channel")]
fn aggregate_from_channel(world: &mut Seed) {
    world.aggregates = Some(AggregateClient::from_channel(
        world.channel.clone().expect("a channel"),
    ));
}

#[then(regex = r"^both clients should share the connection$")]
async fn share(world: &mut Seed) {
    let before = world.backend().await.connections();
    let aggregates = world.aggregates.clone().expect("an aggregate client");
    let queries = world.queries.clone().expect("a query client");
    let book = DomainClient::from_channel(world.channel.clone().expect("a channel"))
        .command_new("orders")
        .with_any(order_command("CreateOrder", "c"))
        .build()
        .expect("a command");
    let root = book
        .cover
        .as_ref()
        .and_then(|c| c.root_uuid().ok())
        .expect("a root");
    aggregates.handle(book).await.expect("handled");
    let query = DomainClient::from_channel(world.channel.clone().expect("a channel"))
        .query("orders", root)
        .build()
        .expect("a query");
    assert_eq!(
        queries
            .get_event_book(query)
            .await
            .expect("read")
            .pages
            .len(),
        1
    );
    assert_eq!(
        world.backend().await.connections(),
        before,
        "no connection was opened"
    );
}

#[then("the connection should only be established once")]
async fn established_once(world: &mut Seed) {
    let after = world.counts["after channel"];
    assert_eq!(
        world.backend().await.connections(),
        after,
        "the channel's one connection, opened once"
    );
}

async fn backend_endpoint(world: &mut Seed, text: &str) -> String {
    endpoint(world, text).await
}

#[when(expr = "I create a QueryClient connected to {string}")]
async fn query_client(world: &mut Seed, text: String) {
    let endpoint = backend_endpoint(world, &text).await;
    world.queries = Some(QueryClient::connect(&endpoint).await.expect("connects"));
}

#[then("the client should be able to query events")]
async fn can_query(world: &mut Seed) {
    let queries = world.queries.clone().expect("a query client");
    let query = angzarr_client::proto::Query {
        cover: Some(angzarr_client::proto::Cover::new(
            "orders",
            uuid::Uuid::new_v4(),
        )),
        selection: None,
    };
    assert!(queries
        .get_event_book(query)
        .await
        .expect("answers")
        .pages
        .is_empty());
}

#[when(expr = "I create an AggregateClient connected to {string}")]
async fn aggregate_client(world: &mut Seed, text: String) {
    let endpoint = backend_endpoint(world, &text).await;
    world.aggregates = Some(AggregateClient::connect(&endpoint).await.expect("connects"));
}

#[then("the client should be able to execute commands")]
async fn can_execute(world: &mut Seed) {
    let aggregates = world.aggregates.clone().expect("an aggregate client");
    let book = world
        .client()
        .await
        .command_new("orders")
        .with_any(order_command("CreateOrder", "c"))
        .build()
        .expect("a command");
    let response = aggregates.handle(book).await.expect("handled");
    assert_eq!(super::answered_pages(&response).len(), 1);
}

#[when(expr = "I create a SpeculativeClient connected to {string}")]
async fn speculative_client(world: &mut Seed, text: String) {
    let endpoint = backend_endpoint(world, &text).await;
    world.speculative = Some(
        SpeculativeClient::connect(&endpoint)
            .await
            .expect("connects"),
    );
}

#[then("the client should be able to perform speculative operations")]
async fn can_speculate(world: &mut Seed) {
    let speculative = world.speculative.clone().expect("a speculative client");
    let client = world.client().await;
    let root = world.root("speculated");
    super::send(
        &client,
        "orders",
        root,
        0,
        order_command("CreateOrder", "c"),
    )
    .await
    .expect("created");
    let command = client
        .command("orders", root)
        .with_any(order_command("AddItem", "w"))
        .with_sequence(1)
        .build()
        .expect("built");
    let request = angzarr_client::proto::SpeculateCommandHandlerRequest {
        command: Some(command),
        point_in_time: Some(angzarr_client::proto::TemporalQuery {
            point_in_time: Some(angzarr_client::PointInTime::AsOfSequence(0)),
        }),
    };
    let response = speculative.aggregate(request).await.expect("speculated");
    assert_eq!(super::answered_pages(&response).len(), 1);
    assert_eq!(
        super::stored(world, "orders", "speculated").await.len(),
        1,
        "nothing stored"
    );
}

#[when(expr = "I create a DomainClient connected to {string}")]
async fn domain_client(world: &mut Seed, text: String) {
    let endpoint = backend_endpoint(world, &text).await;
    world.connected = Some(DomainClient::connect(&endpoint).await.expect("connects"));
}

#[then("the client should have aggregate and query sub-clients")]
async fn has_sub_clients(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let _: &AggregateClient = client.aggregate();
    let _: &QueryClient = client.queries();
    can_command(&client).await;
    client
        .queries()
        .aggregate_roots()
        .await
        .expect("the query client answers");
}

#[then("both should share the same connection")]
async fn share_one(world: &mut Seed) {
    let before = world.backend().await.connections();
    let client = world.connected.clone().expect("a client");
    can_command(&client).await;
    client.queries().aggregate_roots().await.expect("answers");
    assert_eq!(world.backend().await.connections(), before);
}

#[when(expr = "I create a Client connected to {string}")]
async fn client_of_all(world: &mut Seed, text: String) {
    let endpoint = backend_endpoint(world, &text).await;
    world.all = Some(Client::connect(&endpoint).await.expect("connects"));
}

#[then("the client should have aggregate, query, and speculative sub-clients")]
async fn has_all(world: &mut Seed) {
    let client = world.all.clone().expect("a client");
    let _: &AggregateClient = client.aggregate();
    let _: &QueryClient = client.queries();
    let _: &SpeculativeClient = client.speculative();
    client.queries().aggregate_roots().await.expect("answers");
}

#[when(expr = "I connect with timeout of {int} seconds")]
async fn with_timeout(world: &mut Seed, seconds: u64) {
    world.notes.insert("timeout", seconds.to_string());
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_secs(seconds)),
        ..Default::default()
    };
    world.connected = Some(world.connect_with(options).await);
}

#[then("the connection should respect the timeout")]
async fn respects_timeout(world: &mut Seed) {
    can_command(world.connected.as_ref().expect("a client")).await;
}

#[then("slow connections should fail after timeout")]
async fn slow_connections_fail(world: &mut Seed) {
    // A listener that accepts and never answers: the call fails at the
    // client's deadline instead of waiting for it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = silent.local_addr().expect("an address");
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_millis(200)),
        call_timeout: Some(Duration::from_millis(200)),
        lazy: true,
        ..Default::default()
    };
    let target = Target::parse(&address.to_string()).expect("valid");
    let started = Instant::now();
    let client = DomainClient::connect_with(&target, &options)
        .await
        .expect("lazy");
    let error = client
        .queries()
        .aggregate_roots()
        .await
        .expect_err("nothing answers");
    assert!(
        error.is_connection_error() || error.is_deadline_exceeded(),
        "{error:?}"
    );
    let seconds: u64 = world.note("timeout").parse().expect("a number");
    assert!(
        started.elapsed() < Duration::from_secs(seconds),
        "failed within the timeout"
    );
    drop(silent);
}

#[when("I connect with keep-alive enabled")]
async fn keep_alive(world: &mut Seed) {
    let options = ConnectOptions {
        keep_alive: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    world.connected = Some(world.connect_with(options).await);
}

#[then("the connection should send keep-alive probes")]
async fn probes(world: &mut Seed) {
    can_command(world.connected.as_ref().expect("a client")).await;
    // With no call in flight, the client's pings still reach the server.
    let backend = world.backend().await;
    let idle = backend.bytes_from_clients();
    let deadline = Instant::now() + Duration::from_secs(5);
    while backend.bytes_from_clients() == idle {
        assert!(
            Instant::now() < deadline,
            "no keep-alive ping in five seconds"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[then("idle connections should remain open")]
async fn stays_open(world: &mut Seed) {
    let before = world.backend().await.connections();
    can_command(world.connected.as_ref().expect("a client")).await;
    assert_eq!(
        world.backend().await.connections(),
        before,
        "the same connection served"
    );
}

#[then("the error should indicate invalid format")]
fn invalid_format(world: &mut Seed) {
    let text = failure_text(world);
    assert!(text.contains("expected host:port"), "{text}");
}

#[given("an established connection")]
async fn established(world: &mut Seed) {
    let client = world.client().await;
    client.queries().aggregate_roots().await.expect("answers");
    world.connected = Some(client);
}

#[when("the server disconnects")]
async fn disconnects(world: &mut Seed) {
    world.backend.as_mut().expect("a backend").stop().await;
}

#[when("I attempt an operation")]
async fn attempt(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let result = client.queries().aggregate_roots().await;
    world.record(result);
}

#[then("the operation should fail")]
fn operation_fails(world: &mut Seed) {
    assert!(world.failure.is_some());
}

#[then("the error should indicate connection lost")]
fn connection_lost(world: &mut Seed) {
    let error = world.failure.as_ref().expect("a failure");
    assert!(error.is_connection_error(), "{error:?}");
}

#[given("a connection that failed")]
async fn failed_connection(world: &mut Seed) {
    let address = world.backend().await.address;
    world.notes.insert("endpoint", address.to_string());
    world.backend.as_mut().expect("a backend").stop().await;
    let result = DomainClient::connect(&address.to_string()).await;
    assert!(result.is_err());
    world.record(result);
    // The coordinator comes back on the same port.
    world.restart_on(address).await;
}

#[when("I create a new client with the same endpoint")]
async fn new_client(world: &mut Seed) {
    let endpoint = world.note("endpoint").to_owned();
    let result = DomainClient::connect(&endpoint).await;
    world.connected = world.record(result);
}

#[then("the new connection should be independent")]
fn independent(world: &mut Seed) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
}

#[then("the new connection should succeed if server is available")]
async fn new_succeeds(world: &mut Seed) {
    can_command(world.connected.as_ref().expect("a client")).await;
}

// domain-client.feature

#[given(expr = "a running aggregate coordinator for domain {string}")]
async fn coordinator_for(world: &mut Seed, domain: String) {
    assert_eq!(domain, "test");
    world.backend().await;
}

#[given(expr = "a registered aggregate handler for domain {string}")]
async fn handler_for(world: &mut Seed, domain: String) {
    let backend = world.backend().await;
    assert!(
        backend.coordinator.domains().any(|d| d == domain),
        "{domain} is served"
    );
    let _ = Probe;
}

#[when(regex = r#"^I create a DomainClient (?:for the coordinator endpoint|for domain "test")$"#)]
async fn domain_client_for(world: &mut Seed) {
    let address = world.backend().await.address;
    world.connected = Some(
        DomainClient::connect(&address.to_string())
            .await
            .expect("connects"),
    );
}

#[then("I should be able to query events")]
async fn should_query(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let book = client
        .query("test", uuid::Uuid::new_v4())
        .get_event_book()
        .await
        .expect("answers");
    assert!(book.pages.is_empty());
}

#[then("I should be able to send commands")]
async fn should_command(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let response = client
        .command_new("test")
        .with_any(order_command("CreateOrder", "c"))
        .execute()
        .await
        .expect("handled");
    assert_eq!(super::answered_pages(&response).len(), 1);
}

#[when(regex = r"^I (?:use the command builder to send|send) a command$")]
async fn send_command(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let root = world.root("sent");
    let result = client
        .command("test", root)
        .with_any(order_command("CreateOrder", "c"))
        .execute()
        .await;
    world.outcome = Some(result);
}

#[then("I should receive a CommandResponse")]
fn receive_response(world: &mut Seed) {
    assert_eq!(super::answered_pages(world.response()).len(), 1);
}

#[when("I use the query builder to fetch events for that root")]
async fn fetch(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let (domain, root) = world.subject();
    world.pages = client.query(&domain, root).get_pages().await.expect("read");
}

#[then(expr = "I should receive {int} EventPages")]
fn receive_pages(world: &mut Seed, count: usize) {
    assert_eq!(world.pages.len(), count);
}

#[when("I query for the resulting events")]
async fn query_results(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    let root = world.root("sent");
    world.pages = client.query("test", root).get_pages().await.expect("read");
}

#[then("both operations should succeed on the same connection")]
async fn both_succeed(world: &mut Seed) {
    world.response();
    assert_eq!(world.pages.len(), 1);
    assert_eq!(
        world.backend().await.connections(),
        2,
        "the backend's own client and this one"
    );
}

#[given("a connected DomainClient")]
async fn connected_client(world: &mut Seed) {
    let address = world.backend().await.address;
    world.connected = Some(
        DomainClient::connect(&address.to_string())
            .await
            .expect("connects"),
    );
}

#[when("I close the DomainClient")]
async fn close(world: &mut Seed) {
    // Dropping the client (and every clone) closes its connection; a
    // client asked to work afterwards is one whose endpoint has gone.
    world.connected = None;
    world.backend.as_mut().expect("a backend").stop().await;
}

#[then(regex = r"^subsequent (commands|queries) should fail with ConnectionError$")]
async fn after_close(world: &mut Seed, what: String) {
    let address = world.backend.as_ref().expect("a backend").address;
    let result: Result<(), ClientError> = match DomainClient::connect(&address.to_string()).await {
        Err(error) => Err(error),
        Ok(client) if what == "commands" => client
            .command_new("test")
            .with_any(order_command("CreateOrder", "c"))
            .execute()
            .await
            .map(drop),
        Ok(client) => client
            .query("test", uuid::Uuid::new_v4())
            .get_event_book()
            .await
            .map(drop),
    };
    let error = result.expect_err("fails");
    assert!(error.is_connection_error(), "{error:?}");
}

#[given(expr = "environment variable {string} is set to the coordinator endpoint")]
async fn variable_is_endpoint(world: &mut Seed, name: String) {
    let address = world.backend().await.address;
    world.notes.insert("variable", name);
    world.notes.insert("value", address.to_string());
}

#[when(expr = "I create a DomainClient from environment variable {string}")]
async fn from_variable(world: &mut Seed, name: String) {
    let value = world.notes.get("value").cloned();
    let lookup = |variable: &str| {
        if variable == name {
            value.clone()
        } else {
            None
        }
    };
    let target = Target::from_env_with(&name, "localhost:1", lookup).expect("valid");
    world.connected = Some(
        DomainClient::connect_with(&target, &ConnectOptions::default())
            .await
            .expect("connects"),
    );
}

#[then("the DomainClient should be connected")]
async fn is_connected(world: &mut Seed) {
    let client = world.connected.clone().expect("a client");
    client.queries().aggregate_roots().await.expect("answers");
}
