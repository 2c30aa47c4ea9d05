//! Property-based equivalence, on random inputs:
//!
//! - state rebuilt from a whole player history equals state rebuilt from a
//!   snapshot taken at any point plus the pages after it, and `Replay`;
//! - the fixture's code path (the runtime), the gRPC server and angzarr-local
//!   answer the same random command sequence identically;
//! - random bytes, and valid requests with random bits flipped, sent to every
//!   RPC of every service, are answered with a status, never a panic or a
//!   broken connection, and the servers keep serving.
//!
//! Case counts keep the suite quick; `PROPTEST_CASES=5000 cargo test -p tests
//! --test properties --release` runs every property longer.

use std::sync::OnceLock;

use angzarr_client::aggregate::runtime;
use angzarr_client::prelude::*;
use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    business_response, AnyExt, BusinessResponse, CommandBook, CommandPage, ContextualCommand,
    Cover, EventBook, EventPage, ReplayRequest, Snapshot,
};
use angzarr_client::{DomainClient, ListenAddress, Server};
use angzarr_local::LocalCoordinator;
use examples::player::{chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsWithdrawn, PlayerRegistered,
    PlayerState, RegisterPlayer, ReleaseFunds, ReserveFunds, WithdrawFunds,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;
use prost_types::Any;
use tonic::transport::Channel;

/// `PROPTEST_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..Config::default()
    })
}

// ---- random player commands ----

#[derive(Debug, Clone)]
enum Step {
    Register,
    Deposit(i64),
    Withdraw(i64),
    Reserve(u8, i64),
    Release(u8),
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1i64..400,
        1 => Just(0i64),
        1 => -50i64..0,
        1 => Just(i64::MAX),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Register),
        4 => amount().prop_map(Step::Deposit),
        3 => amount().prop_map(Step::Withdraw),
        3 => (0u8..3, amount()).prop_map(|(table, amount)| Step::Reserve(table, amount)),
        2 => (0u8..3).prop_map(Step::Release),
    ]
}

fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..max)
}

fn command(step: &Step) -> Any {
    match step {
        Step::Register => Any::pack(&RegisterPlayer {
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
            ..Default::default()
        }),
        Step::Deposit(amount) => Any::pack(&DepositFunds {
            amount: Some(chips(*amount)),
        }),
        Step::Withdraw(amount) => Any::pack(&WithdrawFunds {
            amount: Some(chips(*amount)),
        }),
        Step::Reserve(table, amount) => Any::pack(&ReserveFunds {
            amount: Some(chips(*amount)),
            table_root: vec![*table; 16],
        }),
        Step::Release(table) => Any::pack(&ReleaseFunds {
            table_root: vec![*table; 16],
        }),
    }
}

/// What one command came to: the events stored (creation times cleared), or
/// the refusal's code and message.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Stored(Vec<(Option<u32>, Any)>),
    Refused(tonic::Code, String),
}

/// An event with its creation time cleared: the one field that differs
/// between two runs of the same decision.
fn timeless(event: &Any) -> Any {
    macro_rules! clear {
        ($($ty:ty => $field:ident),+) => {
            $(if event.is::<$ty>() {
                let mut decoded: $ty = event.unpack().expect("a player event decodes");
                decoded.$field = None;
                return Any::pack(&decoded);
            })+
        };
    }
    clear!(
        PlayerRegistered => registered_at,
        FundsDeposited => deposited_at,
        FundsWithdrawn => withdrawn_at,
        FundsReserved => reserved_at,
        FundsReleased => released_at
    );
    event.clone()
}

fn stored(pages: &[EventPage]) -> Outcome {
    Outcome::Stored(
        pages
            .iter()
            .map(|page| {
                (
                    page.sequence(),
                    timeless(page.event().expect("an inline event")),
                )
            })
            .collect(),
    )
}

fn root() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x9E0)
}

fn contextual(history: &[EventPage], command: Any) -> ContextualCommand {
    let next = history.len() as u32;
    ContextualCommand {
        events: Some(EventBook {
            cover: Some(Cover::new("player", root())),
            pages: history.to_vec(),
            snapshot: None,
            next_sequence: next,
        }),
        command: Some(CommandBook {
            cover: Some(Cover::new("player", root())),
            pages: vec![CommandPage::new(next, command)],
        }),
    }
}

fn new_pages(response: &BusinessResponse) -> Vec<EventPage> {
    match &response.result {
        Some(business_response::Result::Events(book)) => book.pages.clone(),
        _ => Vec::new(),
    }
}

/// Runs `steps` through the runtime (the fixture's code path), keeping the
/// pages of every accepted command as the history of the next.
fn through_runtime(steps: &[Step]) -> (Vec<EventPage>, Vec<Outcome>) {
    let mut history = Vec::new();
    let mut outcomes = Vec::new();
    for step in steps {
        let request = contextual(&history, command(step));
        match angzarr_client::testing::block_on(runtime::handle_command(&Player, &request)) {
            Ok(response) => {
                let pages = new_pages(&response);
                outcomes.push(stored(&pages));
                history.extend(pages);
            }
            Err(error) => outcomes.push(Outcome::Refused(error.code(), error.to_string())),
        }
    }
    (history, outcomes)
}

fn state_of(book: &EventBook) -> PlayerState {
    runtime::rebuild(&Player, Some(book))
        .expect("a history the aggregate wrote rebuilds")
        .0
}

#[test]
fn snapshots_replay_and_whole_histories_rebuild_the_same_state() {
    runner(64)
        .run(&(steps(40), any::<prop::sample::Index>()), |(steps, at)| {
            let (history, _) = through_runtime(&steps);
            let whole = EventBook {
                pages: history.clone(),
                ..Default::default()
            };
            let expected = state_of(&whole);

            // A snapshot after `cut` pages, then the pages after it.
            let cut = at.index(history.len() + 1);
            let before = state_of(&EventBook {
                pages: history[..cut].to_vec(),
                ..Default::default()
            });
            if cut > 0 {
                let snapshot = Snapshot {
                    sequence: cut as u32 - 1,
                    state: Some(Any::pack(&before)),
                    retention: 0,
                };
                let after = EventBook {
                    snapshot: Some(snapshot.clone()),
                    pages: history[cut..].to_vec(),
                    ..Default::default()
                };
                prop_assert_eq!(&state_of(&after), &expected);
                // Pages at or below the snapshot are not applied again.
                let overlapping = EventBook {
                    snapshot: Some(snapshot.clone()),
                    pages: history.clone(),
                    ..Default::default()
                };
                prop_assert_eq!(&state_of(&overlapping), &expected);
                let replayed = runtime::replay(
                    &Player,
                    &ReplayRequest {
                        base_snapshot: Some(snapshot),
                        events: history[cut..].to_vec(),
                    },
                )
                .expect("replay");
                let replayed: PlayerState = replayed.state.unwrap().unpack().unwrap();
                prop_assert_eq!(&replayed, &expected);
            }
            let replayed = runtime::replay(
                &Player,
                &ReplayRequest {
                    base_snapshot: None,
                    events: history.clone(),
                },
            )
            .expect("replay");
            let replayed: PlayerState = replayed.state.unwrap().unpack().unwrap();
            prop_assert_eq!(&replayed, &expected);
            Ok(())
        })
        .unwrap();
}

// ---- the same commands, three ways ----

struct Servers {
    runtime: tokio::runtime::Runtime,
    aggregate: Channel,
    local: String,
}

/// The player's gRPC server and angzarr-local (in memory, calling the same
/// aggregate in process), started once for the whole binary.
fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (aggregate, local) = runtime.block_on(async {
            let bound = Server::new()
                .aggregate(Player)
                .listen(ListenAddress::loopback(0))
                .shutdown_drain(std::time::Duration::ZERO)
                .shutdown_signal(std::future::pending())
                .bind()
                .await
                .expect("bind the player");
            let address = bound.local_address().tcp().expect("tcp");
            tokio::spawn(bound.serve());
            let channel = tonic::transport::Endpoint::try_from(format!("http://{address}"))
                .unwrap()
                .connect()
                .await
                .expect("connect to the player");
            let coordinator = LocalCoordinator::builder()
                .domain_aggregate(Player)
                .try_build()
                .expect("a coordinator");
            let bound = coordinator
                .bind(ListenAddress::loopback(0), std::future::pending())
                .await
                .expect("bind angzarr-local");
            let local = bound.local_address().to_string();
            tokio::spawn(bound.serve());
            (channel, local)
        });
        Servers {
            runtime,
            aggregate,
            local,
        }
    })
}

async fn through_grpc(channel: Channel, steps: &[Step]) -> Vec<Outcome> {
    let mut client = CommandHandlerServiceClient::new(channel);
    let mut history = Vec::new();
    let mut outcomes = Vec::new();
    for step in steps {
        match client.handle(contextual(&history, command(step))).await {
            Ok(response) => {
                let pages = new_pages(response.get_ref());
                outcomes.push(stored(&pages));
                history.extend(pages);
            }
            Err(status) => outcomes.push(Outcome::Refused(status.code(), status.message().into())),
        }
    }
    outcomes
}

async fn through_local(address: &str, steps: &[Step]) -> Vec<Outcome> {
    let client = DomainClient::connect(address).await.expect("connect");
    let player = uuid::Uuid::new_v4();
    let mut next = 0;
    let mut outcomes = Vec::new();
    for step in steps {
        let answer = client
            .command("player", player)
            .with_any(command(step))
            .with_sequence(next)
            .execute()
            .await;
        match answer {
            Ok(response) => {
                let pages = response.events.unwrap_or_default().pages;
                next += pages.len() as u32;
                outcomes.push(stored(&pages));
            }
            Err(error) => outcomes.push(Outcome::Refused(
                error.code().expect("a gRPC status"),
                error.message(),
            )),
        }
    }
    outcomes
}

#[test]
fn the_fixture_the_grpc_server_and_angzarr_local_answer_alike() {
    let servers = servers();
    runner(24)
        .run(&steps(25), |steps| {
            let (_, expected) = through_runtime(&steps);
            let (grpc, local) = servers.runtime.block_on(async {
                (
                    through_grpc(servers.aggregate.clone(), &steps).await,
                    through_local(&servers.local, &steps).await,
                )
            });
            // The runtime's errors print as the status messages do.
            prop_assert_eq!(&grpc, &expected);
            prop_assert_eq!(&local, &expected);
            Ok(())
        })
        .unwrap();
}

// ---- bytes nobody meant to send ----

/// Passes bytes through untouched, so that anything can be sent.
#[derive(Clone, Copy, Default)]
struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Unary,
    ServerStream,
    Bidi,
}

/// Every RPC this project serves, with a valid request to start from.
fn rpcs() -> Vec<(&'static str, Shape, bool, Vec<u8>)> {
    let command = contextual(&[], command(&Step::Register));
    let book = command.events.clone().unwrap();
    let request = angzarr_client::proto::CommandRequest {
        command: command.command.clone(),
        ..Default::default()
    };
    let query = angzarr_client::proto::Query {
        cover: Some(Cover::new("player", root())),
        selection: None,
    };
    let trigger = EventBook {
        cover: Some(Cover::new("player", root()).with_correlation_id("c")),
        pages: vec![EventPage::new(0, Any::pack(&PlayerRegistered::default()))],
        ..Default::default()
    };
    // (path, shape, served by angzarr-local rather than the component server, seed)
    vec![
        (
            "/angzarr.CommandHandlerService/Handle",
            Shape::Unary,
            false,
            command.encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerService/HandleFact",
            Shape::Unary,
            false,
            angzarr_client::proto::FactRequest {
                facts: Some(book.clone()),
                prior_events: None,
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerService/Replay",
            Shape::Unary,
            false,
            ReplayRequest {
                base_snapshot: None,
                events: trigger.pages.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.SagaService/Handle",
            Shape::Unary,
            false,
            angzarr_client::proto::SagaHandleRequest {
                source: Some(trigger.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.ProcessManagerService/Prepare",
            Shape::Unary,
            false,
            angzarr_client::proto::ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: None,
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.ProcessManagerService/Handle",
            Shape::Unary,
            false,
            angzarr_client::proto::ProcessManagerHandleRequest {
                trigger: Some(trigger.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.ProjectorService/Handle",
            Shape::Unary,
            false,
            trigger.encode_to_vec(),
        ),
        (
            "/angzarr.ProjectorService/HandleSpeculative",
            Shape::Unary,
            false,
            trigger.encode_to_vec(),
        ),
        (
            "/angzarr.UpcasterService/Upcast",
            Shape::Unary,
            false,
            angzarr_client::proto::UpcastRequest {
                domain: "player".into(),
                events: trigger.pages.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerCoordinatorService/HandleCommand",
            Shape::Unary,
            true,
            request.encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerCoordinatorService/HandleEvent",
            Shape::Unary,
            true,
            angzarr_client::proto::EventRequest {
                events: Some(book.clone()),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerCoordinatorService/HandleSyncSpeculative",
            Shape::Unary,
            true,
            angzarr_client::proto::SpeculateCommandHandlerRequest {
                command: command.command.clone(),
                point_in_time: None,
            }
            .encode_to_vec(),
        ),
        (
            "/angzarr.CommandHandlerCoordinatorService/HandleCompensation",
            Shape::Unary,
            true,
            request.encode_to_vec(),
        ),
        (
            "/angzarr.EventQueryService/GetEventBook",
            Shape::Unary,
            true,
            query.encode_to_vec(),
        ),
        (
            "/angzarr.EventQueryService/GetEvents",
            Shape::ServerStream,
            true,
            query.encode_to_vec(),
        ),
        (
            "/angzarr.EventQueryService/Synchronize",
            Shape::Bidi,
            true,
            query.encode_to_vec(),
        ),
        (
            "/angzarr.EventQueryService/GetAggregateRoots",
            Shape::ServerStream,
            true,
            Vec::new(),
        ),
    ]
}

/// A server with every kind of component, the player's rules among them.
fn components() -> Server {
    let saga = SagaRouter::new("fuzz-saga", "player")
        .target("table")
        .on(|event: PlayerRegistered| Command::new(uuid::Uuid::nil(), event));
    let pm = ProcessManagerRouter::new("fuzz-pm", PlayerState::default)
        .source("player")
        .target("table")
        .prepare(|_: PlayerRegistered, _: &PlayerState| Cover::new("table", uuid::Uuid::nil()))
        .on(|event: PlayerRegistered, _: &PlayerState| event)
        .apply(|state: &mut PlayerState, event: &PlayerRegistered| {
            state.display_name.clone_from(&event.display_name)
        })
        .with_snapshots();
    let projector = ProjectorRouter::new("fuzz-projector", ["player"])
        .on(|event: PlayerRegistered| CloudEvent::new(&event));
    let upcaster = UpcasterRouter::new("player").on(|old: RegisterPlayer| PlayerRegistered {
        display_name: old.display_name,
        ..Default::default()
    });
    Server::new()
        .aggregate(Player)
        .saga(saga)
        .process_manager(pm)
        .projector(projector)
        .upcaster(upcaster)
}

/// Sends `body` to `path` and reports anything that is not a proper answer.
async fn send(
    channel: Channel,
    path: &'static str,
    shape: Shape,
    body: Vec<u8>,
) -> Result<(), String> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| format!("{path}: not ready: {error}"))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    let status = match shape {
        Shape::Unary => grpc
            .unary(tonic::Request::new(body), path.clone(), Raw)
            .await
            .err(),
        Shape::ServerStream => match grpc
            .server_streaming(tonic::Request::new(body), path.clone(), Raw)
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        },
        Shape::Bidi => match grpc
            .streaming(
                tonic::Request::new(tokio_stream::iter([body])),
                path.clone(),
                Raw,
            )
            .await
        {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        },
    };
    match status {
        None => Ok(()),
        Some(status) if status.message().contains("panicked") => {
            Err(format!("{path}: a handler panicked: {}", status.message()))
        }
        Some(status) if status.code() == tonic::Code::Unknown => {
            Err(format!("{path}: the call broke: {status:?}"))
        }
        Some(_) => Ok(()),
    }
}

#[test]
fn random_and_bit_flipped_requests_get_a_status_never_a_panic() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (component_channel, local_channel) = runtime.block_on(async {
        let bound = components()
            .listen(ListenAddress::loopback(0))
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(std::future::pending())
            .bind()
            .await
            .expect("bind the components");
        let components = bound.local_address().tcp().unwrap();
        tokio::spawn(bound.serve());
        let coordinator = LocalCoordinator::builder()
            .domain_aggregate(Player)
            .try_build()
            .unwrap();
        let bound = coordinator
            .bind(ListenAddress::loopback(0), std::future::pending())
            .await
            .unwrap();
        let local = bound.local_address().tcp().unwrap();
        tokio::spawn(bound.serve());
        let connect = |address: std::net::SocketAddr| async move {
            tonic::transport::Endpoint::try_from(format!("http://{address}"))
                .unwrap()
                .connect()
                .await
                .unwrap()
        };
        (connect(components).await, connect(local).await)
    });
    let rpcs = rpcs();
    let input = (
        0..rpcs.len(),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| (bytes, Vec::new())),
            prop::collection::vec(any::<prop::sample::Index>(), 1..6)
                .prop_map(|flips| (Vec::new(), flips)),
        ],
    );
    runner(300)
        .run(&input, |(which, (random, flips))| {
            let (path, shape, local, seed) = &rpcs[which];
            let body = if flips.is_empty() {
                random
            } else {
                let mut body = seed.clone();
                if !body.is_empty() {
                    for flip in flips {
                        let bit = flip.index(body.len() * 8);
                        body[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                body
            };
            let channel = if *local {
                local_channel.clone()
            } else {
                component_channel.clone()
            };
            let answered = runtime.block_on(send(channel, path, *shape, body));
            prop_assert!(answered.is_ok(), "{}", answered.unwrap_err());
            Ok(())
        })
        .unwrap();

    // Both servers still answer real requests.
    runtime.block_on(async {
        let mut player = CommandHandlerServiceClient::new(component_channel);
        player
            .handle(contextual(&[], command(&Step::Register)))
            .await
            .expect("the component server still serves");
        let client = DomainClient::from_channel(local_channel);
        client
            .command_new("player")
            .with_any(command(&Step::Register))
            .execute()
            .await
            .expect("angzarr-local still serves");
    });
}
