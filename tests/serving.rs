//! Serving aggregates over real loopback gRPC: health, reflection, bad
//! input, fault isolation, Unix sockets and graceful shutdown.

use std::path::PathBuf;
use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    AnyExt, CommandBook, CommandPage, ContextualCommand, Cover, EventBook, EventPage, Notification,
    Snapshot,
};
use angzarr_client::{ListenAddress, ServeError, Server};
use examples::player::{chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, PlayerRegistered, PlayerReturningToPlay, PlayerSittingOut,
    RegisterPlayer, SitIn, SitOut,
};
use hyper_util::rt::TokioIo;
use prost::Name;
use prost_types::Any;
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// An aggregate with a handler that panics and one that takes its time.
struct Faulty;

/// Told each time the slow handler starts: a call is in flight.
static SIT_IN_STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

#[aggregate(domain = "faulty", state = examples::proto::PlayerState)]
impl Faulty {
    #[handles(SitOut)]
    fn sit_out(&self, _cmd: SitOut) -> PlayerSittingOut {
        panic!("the table collapsed");
    }

    #[handles(SitIn)]
    async fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        SIT_IN_STARTED.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

/// An aggregate whose handlers never await, one of which panics: it is
/// decided in place, without a future of its own.
struct Brittle;

#[aggregate(domain = "brittle", state = examples::proto::PlayerState)]
impl Brittle {
    #[handles(SitOut)]
    fn sit_out(&self, _cmd: SitOut) -> PlayerSittingOut {
        panic!("the chair broke");
    }

    #[handles(SitIn)]
    fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

/// An aggregate whose `SitIn` waits: at [`GATE`] for a table root of
/// `gate` (counting itself in [`GATE_ENTERED`] first), forever for `never`.
struct Gated;

static GATE: tokio::sync::Notify = tokio::sync::Notify::const_new();
static GATE_ARRIVED: tokio::sync::Notify = tokio::sync::Notify::const_new();
static GATE_ENTERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[aggregate(domain = "gated", state = examples::proto::PlayerState)]
impl Gated {
    #[handles(SitIn)]
    async fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        match cmd.table_root.as_slice() {
            b"gate" => {
                GATE_ENTERED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                GATE_ARRIVED.notify_one();
                GATE.notified().await;
            }
            b"never" => std::future::pending::<()>().await,
            _ => {}
        }
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }

    #[handles(SitOut)]
    fn sit_out(&self, _cmd: SitOut) -> PlayerSittingOut {
        PlayerSittingOut::default()
    }
}

fn sit_in(table_root: &[u8]) -> Any {
    Any::pack(&SitIn {
        table_root: table_root.to_vec(),
    })
}

/// [`Faulty`] claiming its handlers never await, though one does.
struct Impatient;

impl angzarr_client::Aggregate for Impatient {
    type State = examples::proto::PlayerState;

    fn name(&self) -> &str {
        "Impatient"
    }

    fn domain(&self) -> &str {
        "faulty"
    }

    fn new_state(&self) -> Self::State {
        Faulty.new_state()
    }

    fn commands(&self) -> &[angzarr_client::MessageName] {
        Faulty.commands()
    }

    fn events(&self) -> &[angzarr_client::MessageName] {
        Faulty.events()
    }

    fn apply(
        &self,
        state: &mut Self::State,
        event: &Any,
    ) -> Result<bool, angzarr_client::ComponentError> {
        Faulty.apply(state, event)
    }

    fn synchronous(&self) -> bool {
        true
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        command: &'a Any,
        state: &'a Self::State,
        context: angzarr_client::CommandContext<'a>,
    ) -> impl std::future::Future<Output = Result<Vec<Any>, angzarr_client::ComponentError>> + Send + 'a
    {
        Faulty.handle(route, command, state, context)
    }
}

struct Running {
    address: std::net::SocketAddr,
    channel: Channel,
    stop: oneshot::Sender<()>,
    finished: tokio::task::JoinHandle<Result<(), ServeError>>,
}

async fn start(server: Server) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let bound = server
        .listen(ListenAddress::Tcp("127.0.0.1:0".parse().unwrap()))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind()
        .await
        .expect("bind loopback");
    let ListenAddress::Tcp(address) = bound.local_address().clone() else {
        unreachable!("asked for TCP")
    };
    connected(address, stop, tokio::spawn(bound.serve())).await
}

/// A server running at `address`, with a channel to it.
async fn connected(
    address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    finished: tokio::task::JoinHandle<Result<(), ServeError>>,
) -> Running {
    let channel = Endpoint::try_from(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    Running {
        address,
        channel,
        stop,
        finished,
    }
}

/// `service` served by tonic's own transport: the independent statement of
/// what a gRPC server answers, connection handling included.
async fn start_tonic<S>(service: S) -> Running
where
    S: tower::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = incoming.local_addr().unwrap();
    let finished = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|error| ServeError::Listener(error.to_string()))
    });
    connected(address, stop, finished).await
}

fn contextual(domain: &str, history: Vec<EventPage>, command: Any) -> ContextualCommand {
    let root = uuid::Uuid::from_u128(5);
    let next = u32::try_from(history.len()).unwrap();
    ContextualCommand {
        events: Some(EventBook {
            cover: Some(Cover::new(domain, root)),
            pages: history,
            ..Default::default()
        }),
        command: Some(CommandBook {
            cover: Some(Cover::new(domain, root)),
            pages: vec![CommandPage::new(next, command)],
        }),
    }
}

fn registered() -> EventPage {
    EventPage::new(
        0,
        Any::pack(&PlayerRegistered {
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
            ..Default::default()
        }),
    )
}

fn register() -> Any {
    Any::pack(&RegisterPlayer {
        display_name: "Bob".into(),
        email: "bob@example.com".into(),
        ..Default::default()
    })
}

async fn expect_status(
    client: &mut CommandHandlerServiceClient<Channel>,
    request: ContextualCommand,
    code: Code,
    message: &str,
) {
    let status = client
        .handle(request)
        .await
        .expect_err("the call must fail");
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().starts_with(message),
        "{:?} does not start with {message:?}",
        status.message()
    );
}

#[tokio::test]
async fn health_is_serving_and_reflection_lists_the_service() {
    let running = start(Server::new().aggregate(Player)).await;
    let mut health = HealthClient::new(running.channel.clone());
    for service in ["", "angzarr.CommandHandlerService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32);
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut reflection = ServerReflectionClient::new(running.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert!(
        names.contains(&"angzarr.CommandHandlerService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_the_server_lives_on() {
    let running = start(Server::new().aggregate(Player)).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());

    let mut empty = contextual("player", vec![], register());
    empty.command.as_mut().unwrap().pages.clear();
    expect_status(
        &mut client,
        empty,
        Code::InvalidArgument,
        "command book has no pages",
    )
    .await;

    expect_status(
        &mut client,
        contextual("player", vec![], Any::pack(&SitOut::default())),
        Code::InvalidArgument,
        "aggregate Player (domain player) does not handle `type.googleapis.com/examples.SitOut`; it handles: examples.RegisterPlayer",
    )
    .await;

    let garbage = Any {
        type_url: DepositFunds::type_url(),
        value: vec![0xff, 0xff, 0xff],
    };
    expect_status(
        &mut client,
        contextual("player", vec![registered()], garbage),
        Code::InvalidArgument,
        "command `examples.DepositFunds` does not decode:",
    )
    .await;

    let mut no_payload = contextual("player", vec![], register());
    no_payload.command.as_mut().unwrap().pages[0].payload = None;
    expect_status(
        &mut client,
        no_payload,
        Code::InvalidArgument,
        "command page 0 has no command payload",
    )
    .await;

    let malformed = Any::pack(&Notification {
        payload: Some(Any::pack(&Cover::default())),
        ..Default::default()
    });
    expect_status(
        &mut client,
        contextual("player", vec![], malformed),
        Code::InvalidArgument,
        "malformed rejection notification: expected a packed `angzarr.RejectionNotification`",
    )
    .await;

    let broken_history = EventPage::new(
        1,
        Any {
            type_url: FundsDeposited::type_url(),
            value: vec![0x0a, 0x7f],
        },
    );
    expect_status(
        &mut client,
        contextual(
            "player",
            vec![registered(), broken_history],
            Any::pack(&DepositFunds {
                amount: Some(chips(1)),
            }),
        ),
        Code::InvalidArgument,
        "event `examples.FundsDeposited` at sequence 1 does not decode:",
    )
    .await;

    let mut wrong_snapshot = contextual("player", vec![], register());
    wrong_snapshot.events.as_mut().unwrap().snapshot = Some(Snapshot {
        sequence: 0,
        state: Some(Any::pack(&Cover::default())),
        retention: 0,
    });
    expect_status(
        &mut client,
        wrong_snapshot,
        Code::InvalidArgument,
        "snapshot at sequence 0 does not restore: expected a packed `examples.PlayerState`",
    )
    .await;

    let accepted = client
        .handle(contextual("player", vec![], register()))
        .await;
    assert!(accepted.is_ok(), "a good call after bad ones: {accepted:?}");
    let _ = running.stop.send(());
    running.finished.await.unwrap().unwrap();
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let running = start(Server::new().aggregate(Player).max_message_size(1024)).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let huge = Any::pack(&RegisterPlayer {
        display_name: "x".repeat(4096),
        email: "big@example.com".into(),
        ..Default::default()
    });
    let status = client
        .handle(contextual("player", vec![], huge))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{}", status.message());
    assert!(status.message().contains("1024"), "{}", status.message());
    assert!(client
        .handle(contextual("player", vec![], register()))
        .await
        .is_ok());
}

/// A panic in `domain`'s SitOut handler fails that call with INTERNAL
/// naming the panic, and the next call (SitIn) is answered with its event.
async fn a_panic_fails_its_call_only(server: Server, domain: &str, panic: &str) {
    let running = start(server).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let status = client
        .handle(contextual(domain, vec![], Any::pack(&SitOut::default())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        status.message(),
        format!("internal error: the handler panicked: {panic}")
    );

    let sit_in = Any::pack(&SitIn {
        table_root: vec![1],
    });
    let after = client
        .handle(contextual(domain, vec![], sit_in))
        .await
        .expect("the next call succeeds")
        .into_inner();
    let Some(angzarr_client::proto::business_response::Result::Events(book)) = after.result else {
        panic!("events expected: {after:?}");
    };
    assert_eq!(book.pages.len(), 1);
    assert_eq!(book.pages[0].sequence(), Some(0));
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_only() {
    a_panic_fails_its_call_only(
        Server::new().aggregate(Faulty),
        "faulty",
        "the table collapsed",
    )
    .await;
}

#[tokio::test]
async fn a_panic_decided_in_place_fails_its_call_only() {
    a_panic_fails_its_call_only(
        Server::new().aggregate(Brittle),
        "brittle",
        "the chair broke",
    )
    .await;
}

#[test]
fn aggregates_without_async_handlers_are_synchronous() {
    use angzarr_client::Aggregate;
    assert!(Player.synchronous());
    assert!(Brittle.synchronous());
    assert!(!Faulty.synchronous(), "sit_in is async");
    let router = CommandRouter::new("counter", examples::proto::PlayerState::default);
    assert!(router.synchronous());
}

#[tokio::test]
async fn a_synchronous_aggregate_that_awaits_fails_with_internal() {
    let running = start(Server::new().aggregate(Impatient)).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let request = contextual(
        "faulty",
        vec![],
        Any::pack(&SitIn {
            table_root: vec![1],
        }),
    );
    let expected =
        "internal error: aggregate Impatient declares itself synchronous, but a handler awaited";
    expect_status(&mut client, request.clone(), Code::Internal, expected).await;

    // The same in process, where the request arrives decoded.
    use angzarr_client::proto::command_handler_service_server::CommandHandlerService;
    let service = angzarr_client::AggregateService::new(Impatient);
    let status = CommandHandlerService::handle(&service, tonic::Request::new(request))
        .await
        .expect_err("refused in process too");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), expected);
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish() {
    let running = start(
        Server::new()
            .aggregate(Faulty)
            .shutdown_grace(Duration::from_secs(5)),
    )
    .await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let slow = tokio::spawn(async move {
        client
            .handle(contextual(
                "faulty",
                vec![],
                Any::pack(&SitIn {
                    table_root: vec![7],
                }),
            ))
            .await
    });
    SIT_IN_STARTED.notified().await;
    let _ = running.stop.send(());
    let answer = slow.await.unwrap().expect("the in-flight call completes");
    assert!(answer.into_inner().result.is_some());
    running.finished.await.unwrap().expect("a clean stop");
}

async fn unix_channel(path: PathBuf) -> Channel {
    Endpoint::try_from("http://localhost")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
        .expect("connect over the Unix socket")
}

#[tokio::test]
async fn unix_sockets_replace_stale_ones_and_are_removed_on_shutdown() {
    let dir = std::env::temp_dir().join(format!("angzarr-serving-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("deeper").join("business-player.sock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A socket left behind by a crashed run.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let (stop, stopped) = oneshot::channel::<()>();
    let bound = Server::new()
        .aggregate(Player)
        .listen(ListenAddress::Unix(path.clone()))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind()
        .await
        .expect("the stale socket is replaced");
    assert_eq!(
        bound.local_address().to_string(),
        format!("unix:{}", path.display())
    );
    let finished = tokio::spawn(bound.serve());

    let mut client = CommandHandlerServiceClient::new(unix_channel(path.clone()).await);
    assert!(client
        .handle(contextual("player", vec![], register()))
        .await
        .is_ok());

    let _ = stop.send(());
    finished.await.unwrap().unwrap();
    assert!(!path.exists(), "the socket file is removed");

    // A regular file is never clobbered.
    std::fs::write(&path, b"not a socket").unwrap();
    let refused = Server::new()
        .aggregate(Player)
        .listen(ListenAddress::Unix(path.clone()))
        .bind()
        .await;
    match refused {
        Err(ServeError::NotASocket { path: reported }) => assert_eq!(reported, path),
        Err(other) => panic!("expected NotASocket, got {other}"),
        Ok(_) => panic!("expected NotASocket, got a server"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_taken_port_is_a_bind_error_naming_the_address() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = taken.local_addr().unwrap();
    let error = match Server::new().aggregate(Player).listen(address).bind().await {
        Err(error) => error,
        Ok(_) => panic!("the port is taken"),
    };
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {address}:")),
        "{error}"
    );
}

/// Collects what a `tracing` subscriber prints.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// What this thread logs at INFO and above, from now until the guard
    /// goes (the tests' runtime is this thread, so the server's lines too).
    fn at_info() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn long_roots_and_correlation_ids_are_cut_in_spans_and_logs() {
    let (captured, _guard) = Captured::at_info();

    let running = start(Server::new().aggregate(Player)).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let mut request = contextual("player", vec![registered()], register());
    let mut cover =
        Cover::new("player", uuid::Uuid::from_u128(1)).with_correlation_id("c".repeat(100_000));
    cover.root = Some(angzarr_client::proto::Uuid {
        value: vec![0xab; 100_000],
    });
    request.command.as_mut().unwrap().cover = Some(cover);
    let status = client.handle(request).await.unwrap_err();
    assert_eq!(status.message(), "Player already exists");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("command rejected"))
        .unwrap_or_else(|| panic!("no rejection logged in:\n{text}"));
    assert!(line.len() < 1_000, "{} characters: {line}", line.len());
    assert!(
        line.contains(&format!("root=\"{}…\"", "ab".repeat(64))),
        "{line}"
    );
    assert!(
        line.contains(&format!("correlation_id=\"{}…\"", "c".repeat(128))),
        "{line}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn every_call_is_traced_with_its_command() {
    let (captured, _guard) = Captured::at_info();

    let running = start(Server::new().aggregate(Player)).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    let mut request = contextual("player", vec![registered()], register());
    request.command.as_mut().unwrap().cover =
        Some(Cover::new("player", uuid::Uuid::from_u128(0xabc)).with_correlation_id("trace-me"));
    let status = client.handle(request).await.unwrap_err();
    assert_eq!(status.message(), "Player already exists");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("command rejected"))
        .unwrap_or_else(|| panic!("no rejection logged in:\n{text}"));
    assert!(line.contains(" INFO "), "{line}");
    for field in [
        "domain=\"player\"",
        "root=\"00000000000000000000000000000abc\"",
        "correlation_id=\"trace-me\"",
        "command=\"examples.RegisterPlayer\"",
        "sequence=1",
        "reason=\"Player already exists\"",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert!(text.contains("server listening"), "{text}");
}

#[tokio::test]
async fn tower_layers_wrap_every_call() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let server = Server::new()
        .aggregate(Player)
        .layer(tower::util::MapRequestLayer::new(
            move |request: tonic::codegen::http::Request<tonic::body::Body>| {
                // Layers see the connection as under tonic's transport.
                let from_loopback = request
                    .extensions()
                    .get::<tonic::transport::server::TcpConnectInfo>()
                    .and_then(|info| info.remote_addr)
                    .is_some_and(|address| address.ip().is_loopback());
                if from_loopback {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                request
            },
        ));
    let bound = server
        .listen(ListenAddress::Tcp("127.0.0.1:0".parse().unwrap()))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(std::future::pending())
        .bind()
        .await
        .unwrap();
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let channel = Endpoint::try_from(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = CommandHandlerServiceClient::new(channel);
    client
        .handle(contextual("player", vec![], register()))
        .await
        .unwrap();
    let _ = client
        .handle(contextual("player", vec![], Any::pack(&SitOut::default())))
        .await;
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tls_serves_with_the_given_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.pem();
    let key = certified.signing_key.serialize_pem();

    let (stop, stopped) = oneshot::channel::<()>();
    let bound = Server::new()
        .aggregate(Player)
        .tls(&certificate, &key)
        .listen(ListenAddress::Tcp("127.0.0.1:0".parse().unwrap()))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind()
        .await
        .expect("bind with TLS");
    let ListenAddress::Tcp(address) = bound.local_address().clone() else {
        unreachable!()
    };
    let finished = tokio::spawn(bound.serve());

    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&certificate))
        .domain_name("localhost");
    let channel = Endpoint::try_from(format!("https://localhost:{}", address.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("a TLS connection");
    let mut client = CommandHandlerServiceClient::new(channel);
    assert!(client
        .handle(contextual("player", vec![], register()))
        .await
        .is_ok());

    // A plaintext client cannot talk to it: the connection is made lazily,
    // so the call itself reports the failure.
    let plain = Endpoint::try_from(format!("http://127.0.0.1:{}", address.port()))
        .unwrap()
        .connect_lazy();
    let refused = CommandHandlerServiceClient::new(plain)
        .handle(contextual("player", vec![], register()))
        .await
        .expect_err("a plaintext call to a TLS server fails");
    // The TLS server hangs up on the plaintext preface: tonic reports the
    // broken connection as UNAVAILABLE or UNKNOWN "transport error",
    // depending on when the hang-up is seen.
    assert!(
        matches!(refused.code(), Code::Unavailable | Code::Unknown)
            && refused.message().contains("transport error")
            || refused.code() == Code::Unavailable,
        "{refused:?}"
    );

    let _ = stop.send(());
    finished.await.unwrap().unwrap();
}

/// A request body of raw bytes: what a caller that frames its own
/// messages (or frames them wrongly) sends.
struct RawBody(Option<bytes::Bytes>);

impl http_body::Body for RawBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        std::task::Poll::Ready(self.0.take().map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

/// What a server answers to `Handle` with `body` as the request's bytes and
/// `headers` beside the usual ones: the status code and message (from the
/// headers or the trailers) and the answer's message bytes, if any.
async fn raw_handle(
    channel: &Channel,
    body: Vec<u8>,
    headers: &[(&'static str, &'static str)],
) -> (String, String, Vec<u8>) {
    raw_call(
        channel,
        "/angzarr.CommandHandlerService/Handle",
        body,
        headers,
    )
    .await
}

/// A gRPC call of `path` with `body` as its bytes and `headers` beside the
/// usual ones.
fn grpc_request(
    path: &str,
    headers: &[(&'static str, &'static str)],
    body: Vec<u8>,
) -> tonic::codegen::http::Request<RawBody> {
    let mut request = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(RawBody(Some(body.into()))).unwrap()
}

/// What a server answers to a call of `path` with `body` as the request's
/// bytes.
async fn raw_call(
    channel: &Channel,
    path: &str,
    body: Vec<u8>,
    headers: &[(&'static str, &'static str)],
) -> (String, String, Vec<u8>) {
    use tower::ServiceExt;
    let request = grpc_request(path, headers, body).map(tonic::body::Body::new);
    read_answer(channel.clone().oneshot(request).await.unwrap()).await
}

/// What a server answers to a call of `path` over a bare HTTP/2
/// connection: with no deadline on the caller's side, what a
/// `grpc-timeout` header brings is the server's own answer.
async fn bare_call(
    address: std::net::SocketAddr,
    path: &str,
    body: Vec<u8>,
    headers: &[(&'static str, &'static str)],
) -> (String, String, Vec<u8>) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = grpc_request(path, headers, body);
    read_answer(sender.send_request(request).await.unwrap()).await
}

/// The status code and message of an answer (from its headers or its
/// trailers) and its message bytes.
async fn read_answer<B>(response: tonic::codegen::http::Response<B>) -> (String, String, Vec<u8>)
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let mut body = std::pin::pin!(body);
    let (mut data, mut trailers) = (Vec::new(), parts.headers.clone());
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.unwrap();
        if let Some(bytes) = frame.data_ref() {
            data.extend_from_slice(bytes);
        }
        if let Ok(more) = frame.into_trailers() {
            trailers.extend(more);
        }
    }
    let text = |name: &str| {
        trailers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (text("grpc-status"), text("grpc-message"), data)
}

fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// `Handle` is answered by this crate's own unary path; tonic's generated
/// server, over the same aggregate, is the independent statement of what a
/// gRPC server answers to each request, bad ones included.
#[tokio::test]
async fn handle_answers_as_tonics_generated_server_does_on_every_framing() {
    use angzarr_client::proto::command_handler_service_server::CommandHandlerServiceServer;
    use angzarr_client::AggregateService;
    let limit = 1024;
    let ours = start(Server::new().aggregate(Player).max_message_size(limit)).await;
    let generated = CommandHandlerServiceServer::new(AggregateService::new(Player))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let tonic_server = start_tonic(generated).await;

    let good = prost::Message::encode_to_vec(&contextual("player", vec![], register()));
    let refused =
        prost::Message::encode_to_vec(&contextual("player", vec![], Any::pack(&SitOut::default())));
    let oversized = prost::Message::encode_to_vec(&contextual(
        "player",
        vec![],
        Any::pack(&RegisterPlayer {
            display_name: "x".repeat(2 * limit),
            ..Default::default()
        }),
    ));
    type Headers = &'static [(&'static str, &'static str)];
    let cases: Vec<(&str, Vec<u8>, Headers)> = vec![
        ("a good request", framed(0, &good), &[]),
        ("a refused command", framed(0, &refused), &[]),
        ("a request over the limit", framed(0, &oversized), &[]),
        ("no message", Vec::new(), &[]),
        ("a cut prefix", framed(0, &good)[..3].to_vec(), &[]),
        ("a cut message", framed(0, &good)[..20].to_vec(), &[]),
        ("a compressed flag", framed(1, &good), &[]),
        ("an unknown flag", framed(7, &good), &[]),
        ("gzip", framed(0, &good), &[("grpc-encoding", "gzip")]),
        (
            "identity",
            framed(0, &good),
            &[("grpc-encoding", "identity")],
        ),
    ];
    for (case, body, headers) in cases {
        let (code, message, answer) = raw_handle(&ours.channel, body.clone(), headers).await;
        let (their_code, their_message, their_answer) =
            raw_handle(&tonic_server.channel, body, headers).await;
        assert_eq!((&code, &message), (&their_code, &their_message), "{case}");
        // Answers differ only in when the events were made: compare what
        // they decided.
        let decided = |answer: &[u8]| {
            if answer.is_empty() {
                return Vec::new();
            }
            let response: angzarr_client::proto::BusinessResponse =
                prost::Message::decode(&answer[5..]).unwrap();
            let Some(angzarr_client::proto::business_response::Result::Events(book)) =
                response.result
            else {
                panic!("{case}: events expected");
            };
            book.pages
                .iter()
                .map(|page| (page.sequence(), page.event().unwrap().type_url.clone()))
                .collect()
        };
        assert_eq!(decided(&answer), decided(&their_answer), "{case}");
        if case == "a good request" || case == "identity" {
            assert_eq!(code, "0", "{case}: {message}");
            assert_eq!(decided(&answer).len(), 1, "{case}");
        } else {
            assert_ne!(code, "0", "{case}");
        }
    }
    // One deliberate difference: bytes that are no request are the
    // caller's fault, INVALID_ARGUMENT naming the message expected, where
    // tonic's codec answers INTERNAL.
    let not_a_request = framed(0, &[0xff; 4]);
    let (code, message, _) = raw_handle(&ours.channel, not_a_request.clone(), &[]).await;
    assert_eq!(code, "3", "{message}");
    assert!(message.contains("angzarr.ContextualCommand"), "{message}");
    let (code, _, _) = raw_handle(&tonic_server.channel, not_a_request, &[]).await;
    assert_eq!(code, "13");
    let _ = ours.stop.send(());
    let _ = tonic_server.stop.send(());
}

/// Every kind's `Handle` (and the upcaster's `Upcast`) is answered on the
/// same path as the aggregate's:
/// bytes that are not its request are refused naming the message expected,
/// and a well-framed request is answered.
#[tokio::test]
async fn every_kind_names_the_request_it_could_not_decode() {
    use examples::buy_in::BuyIn;
    use examples::feed::PokerEvents;
    use examples::sagas::TablePlayerSaga;
    let running = start(
        Server::new()
            .aggregate(Player)
            .projector(PokerEvents)
            .process_manager(BuyIn)
            .upcaster(examples::upcaster::PlayerUpcaster),
    )
    .await;
    let saga = start(Server::new().saga(TablePlayerSaga)).await;
    let table = prost::Message::encode_to_vec(&EventBook {
        cover: Some(Cover::new("table", uuid::Uuid::from_u128(3))),
        ..Default::default()
    });
    for (channel, path, request, good) in [
        (
            &running.channel,
            "/angzarr.CommandHandlerService/Handle",
            "ContextualCommand",
            prost::Message::encode_to_vec(&contextual("player", vec![], register())),
        ),
        (
            &saga.channel,
            "/angzarr.SagaService/Handle",
            "SagaHandleRequest",
            prost::Message::encode_to_vec(&angzarr_client::proto::SagaHandleRequest {
                source: Some(prost::Message::decode(table.as_slice()).unwrap()),
                ..Default::default()
            }),
        ),
        (
            &running.channel,
            "/angzarr.ProcessManagerService/Handle",
            "ProcessManagerHandleRequest",
            prost::Message::encode_to_vec(&angzarr_client::proto::ProcessManagerHandleRequest {
                trigger: Some(prost::Message::decode(table.as_slice()).unwrap()),
                ..Default::default()
            }),
        ),
        (
            &running.channel,
            "/angzarr.ProjectorService/Handle",
            "EventBook",
            table.clone(),
        ),
        (
            &running.channel,
            "/angzarr.UpcasterService/Upcast",
            "UpcastRequest",
            prost::Message::encode_to_vec(&angzarr_client::proto::UpcastRequest {
                domain: "player".into(),
                events: vec![registered()],
            }),
        ),
    ] {
        let (code, message, _) = raw_call(channel, path, framed(0, &[0xff; 4]), &[]).await;
        assert_eq!(code, "3", "{path}: {message}");
        assert!(
            message.contains(&format!("does%20not%20decode%20as%20angzarr.{request}")),
            "{path}: {message}"
        );
        let (code, message, answer) = raw_call(channel, path, framed(0, &good), &[]).await;
        assert_eq!(code, "0", "{path}: {message}");
        assert!(answer.len() >= 5, "{path}: an answer");
    }
    let _ = running.stop.send(());
    let _ = saga.stop.send(());
}

/// A caller's `grpc-timeout` bounds its call on the server, as tonic's own
/// transport has it; a header that does not parse is ignored, as there.
#[tokio::test]
async fn a_callers_grpc_timeout_ends_the_call_as_tonic_does() {
    use angzarr_client::proto::command_handler_service_server::CommandHandlerServiceServer;
    use angzarr_client::AggregateService;
    let ours = start(Server::new().aggregate(Gated)).await;
    let theirs = start_tonic(CommandHandlerServiceServer::new(AggregateService::new(
        Gated,
    )))
    .await;
    let never = framed(
        0,
        &prost::Message::encode_to_vec(&contextual("gated", vec![], sit_in(b"never"))),
    );
    let quick = framed(
        0,
        &prost::Message::encode_to_vec(&contextual("gated", vec![], sit_in(b"now"))),
    );
    let cases = [
        ("past its timeout", &never, "30m", "1"),
        ("in microseconds", &never, "20000u", "1"),
        ("within its timeout", &quick, "10S", "0"),
        ("an unreadable timeout", &quick, "soon", "0"),
        ("a timeout of nine digits", &quick, "123456789m", "0"),
    ];
    for (case, body, timeout, expected) in cases {
        let path = "/angzarr.CommandHandlerService/Handle";
        let headers = &[("grpc-timeout", timeout)];
        // Bounded, so that a server ignoring the header fails the test
        // rather than hanging it.
        let bounded = |address| {
            let call = bare_call(address, path, body.clone(), headers);
            async move {
                tokio::time::timeout(Duration::from_secs(10), call)
                    .await
                    .unwrap_or_else(|_| panic!("{case}: no answer in 10 s"))
            }
        };
        let answer = bounded(ours.address).await;
        let their_answer = bounded(theirs.address).await;
        assert_eq!(
            (&answer.0, &answer.1),
            (&their_answer.0, &their_answer.1),
            "{case}"
        );
        assert_eq!(answer.0, expected, "{case}: {}", answer.1);
    }
    let _ = ours.stop.send(());
    let _ = theirs.stop.send(());
}

/// With a concurrency limit of one, a second call on the same connection
/// waits for the first to finish rather than running beside it.
#[tokio::test]
async fn a_concurrency_limit_holds_back_calls_beyond_it() {
    use std::sync::atomic::Ordering;
    let running = start(Server::new().aggregate(Gated).concurrency_limit(1)).await;
    let mut first = CommandHandlerServiceClient::new(running.channel.clone());
    let held = tokio::spawn(async move {
        first
            .handle(contextual("gated", vec![], sit_in(b"gate")))
            .await
    });
    GATE_ARRIVED.notified().await;
    let mut second = CommandHandlerServiceClient::new(running.channel.clone());
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        second.handle(contextual("gated", vec![], sit_in(b"gate"))),
    )
    .await;
    assert!(waited.is_err(), "the second call must wait: {waited:?}");
    assert_eq!(GATE_ENTERED.load(Ordering::SeqCst), 1, "only one call ran");
    GATE.notify_one();
    held.await.unwrap().expect("the first call finishes");
    // The abandoned call gave its place back.
    second
        .handle(contextual("gated", vec![], Any::pack(&SitOut::default())))
        .await
        .expect("a later call runs");
    let _ = running.stop.send(());
}

/// A service added with [`Server::service`] learns who called it, as under
/// tonic's own transport; its failures are logged in words, not in the
/// percent-encoding `grpc-message` travels in.
#[tokio::test]
async fn services_see_the_callers_address_and_their_failures_are_logged_in_words() {
    let (captured, _guard) = Captured::at_info();
    use angzarr_client::proto::command_handler_service_server::{
        CommandHandlerService, CommandHandlerServiceServer,
    };
    use angzarr_client::proto::{BusinessResponse, FactRequest, ReplayRequest, ReplayResponse};
    struct Peer;
    fn peer<T>(request: &tonic::Request<T>) -> tonic::Status {
        let caller = request
            .remote_addr()
            .map(|address| address.ip().to_string())
            .unwrap_or_default();
        tonic::Status::unavailable(format!("{caller} is unreachable: 100% gone"))
    }
    #[tonic::async_trait]
    impl CommandHandlerService for Peer {
        async fn handle(
            &self,
            request: tonic::Request<ContextualCommand>,
        ) -> Result<tonic::Response<BusinessResponse>, tonic::Status> {
            Err(peer(&request))
        }
        async fn handle_fact(
            &self,
            request: tonic::Request<FactRequest>,
        ) -> Result<tonic::Response<EventBook>, tonic::Status> {
            Err(peer(&request))
        }
        async fn replay(
            &self,
            request: tonic::Request<ReplayRequest>,
        ) -> Result<tonic::Response<ReplayResponse>, tonic::Status> {
            Err(peer(&request))
        }
    }
    let running = start(Server::new().service(CommandHandlerServiceServer::new(Peer))).await;
    let mut client = CommandHandlerServiceClient::new(running.channel.clone());
    expect_status(
        &mut client,
        contextual("player", vec![], register()),
        Code::Unavailable,
        "127.0.0.1 is unreachable: 100% gone",
    )
    .await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("call failed"))
        .unwrap_or_else(|| panic!("no failure logged in:\n{text}"));
    assert!(line.contains(" WARN "), "{line}");
    assert!(
        line.contains("code=Unavailable reason=\"127.0.0.1 is unreachable: 100% gone\""),
        "{line}"
    );
    let _ = running.stop.send(());
}

/// Settings that cannot work stop the server at `bind`, saying which.
#[tokio::test]
async fn unusable_settings_are_refused_at_bind() {
    let refusal = |result: Result<angzarr_client::BoundServer, ServeError>| match result {
        Err(error) => error.to_string(),
        Ok(_) => panic!("bound"),
    };
    let loopback = || ListenAddress::Tcp("127.0.0.1:0".parse().unwrap());
    let zero = Server::new()
        .aggregate(Player)
        .concurrency_limit(0)
        .listen(loopback())
        .bind()
        .await;
    assert_eq!(
        refusal(zero),
        "Server::concurrency_limit: a limit of 0 calls per connection would answer none; use 1 or more"
    );

    // A key that is not the certificate's.
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let mismatched = Server::new()
        .aggregate(Player)
        .tls(one.cert.pem(), other.signing_key.serialize_pem())
        .listen(loopback())
        .bind()
        .await;
    let message = refusal(mismatched);
    assert!(
        message.starts_with("cannot serve TLS: the certificate and key do not go together"),
        "{message}"
    );
    let keyless = Server::new()
        .aggregate(Player)
        .tls(one.cert.pem(), "no key here")
        .listen(loopback())
        .bind()
        .await;
    let message = refusal(keyless);
    assert!(
        message.starts_with("cannot serve TLS: the private key PEM holds no usable key"),
        "{message}"
    );
}
