//! Naming a coordinator and connecting to it.

use angzarr_client::{ConnectOptions, DomainClient, Target};
use cucumber::{given, then, when};

use super::registration;
use crate::world::Contracts;

async fn connect(world: &mut Contracts, endpoint: &str) {
    let connected = DomainClient::connect(endpoint).await;
    world.connected = world.record(connected);
}

#[when(regex = r"^I connect to its address as host:port$")]
async fn connect_host_port(world: &mut Contracts) {
    let endpoint = world.env().tcp_address().to_string();
    connect(world, &endpoint).await;
}

#[when(regex = r"^I connect to its address as an http:// URL$")]
async fn connect_url(world: &mut Contracts) {
    let endpoint = format!("http://{}", world.env().tcp_address());
    connect(world, &endpoint).await;
}

fn socket(world: &Contracts) -> String {
    let path = world
        .env()
        .socket
        .as_ref()
        .expect("angzarr-local listens on TCP in this scenario");
    path.display().to_string()
}

#[when(regex = r"^I connect to its socket as unix:/path$")]
async fn connect_unix(world: &mut Contracts) {
    let endpoint = format!("unix:{}", socket(world));
    connect(world, &endpoint).await;
}

#[when("I connect to its socket as a bare path")]
async fn connect_path(world: &mut Contracts) {
    let endpoint = socket(world);
    assert!(endpoint.starts_with('/'), "{endpoint} is an absolute path");
    connect(world, &endpoint).await;
}

#[given(expr = "the environment variable {word} holds its address")]
fn variable_holds_address(world: &mut Contracts, variable: String) {
    // Scenarios that touch the environment are tagged @serial: no other
    // scenario runs while they do.
    std::env::set_var(variable, world.env().tcp_address().to_string());
}

#[given(expr = "the environment variable {word} is unset")]
fn variable_unset(_world: &mut Contracts, variable: String) {
    std::env::remove_var(variable);
}

#[when(expr = "I connect through {word} with the default {string}")]
async fn connect_from_env(world: &mut Contracts, variable: String, default: String) {
    let connected = DomainClient::from_env(&variable, &default).await;
    std::env::remove_var(&variable);
    world.connected = world.record(connected);
}

#[when(expr = "I connect through {word} with its address as the default")]
async fn connect_from_env_default(world: &mut Contracts, variable: String) {
    let default = world.env().tcp_address().to_string();
    connect_from_env(world, variable, default).await;
}

fn closed_port(world: &mut Contracts) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let closed = listener.local_addr().expect("a bound address");
    drop(listener);
    world.closed = Some(closed);
    closed.to_string()
}

#[when("I connect to a closed loopback port")]
async fn connect_closed(world: &mut Contracts) {
    let endpoint = closed_port(world);
    connect(world, &endpoint).await;
}

#[when("I connect lazily to a closed loopback port")]
async fn connect_lazily(world: &mut Contracts) {
    let endpoint = closed_port(world);
    let target = Target::parse(&endpoint).expect("a valid endpoint");
    let options = ConnectOptions {
        lazy: true,
        ..Default::default()
    };
    let connected = DomainClient::connect_with(&target, &options).await;
    world.connected = world.record(connected);
}

#[when(expr = "I connect to {string}")]
async fn connect_to(world: &mut Contracts, endpoint: String) {
    connect(world, &endpoint).await;
}

#[then("the connection succeeds")]
fn connection_succeeds(world: &mut Contracts) {
    assert!(world.failure.is_none(), "{:?}", world.failure);
    assert!(world.connected.is_some());
}

async fn register_through(world: &mut Contracts, name: &str) {
    let client = match (&world.connected, &world.failure) {
        (Some(client), None) => client.clone(),
        (_, failure) => panic!("the client did not connect: {failure:?}"),
    };
    let result = client
        .command_new("player")
        .with_command(&registration(name))
        .execute()
        .await;
    world.record_command(result);
}

#[then(expr = "registering {string} through that client succeeds")]
async fn registering_succeeds(world: &mut Contracts, name: String) {
    register_through(world, &name).await;
    let response = world.response();
    let events = response.events.as_ref().expect("the response has events");
    assert_eq!(events.pages.len(), 1);
}

#[then(expr = "registering {string} through that client fails with a connection error")]
async fn registering_fails(world: &mut Contracts, name: String) {
    register_through(world, &name).await;
    let error = world.error();
    assert!(error.is_connection_error(), "{error:?}");
}
