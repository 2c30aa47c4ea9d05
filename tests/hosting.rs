//! Hosting as an orchestrator sees it, over real loopback TCP with a real
//! health client: readiness gates SERVING, shutdown reports NOT_SERVING and
//! keeps answering for the drain period, an application's own service runs
//! beside the components, and message sizes and call deadlines hold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::prelude::*;
use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::event_query_service_client::EventQueryServiceClient;
use angzarr_client::proto::event_query_service_server::EventQueryServiceServer;
use angzarr_client::proto::{
    AnyExt, CommandBook, CommandPage, ContextualCommand, Cover, NoOp, Query,
};
use angzarr_client::testing::FakeCoordinator;
use angzarr_client::{
    ClientError, ConnectOptions, DomainClient, ListenAddress, ServeError, Server, Target,
};
use examples::player::Player;
use examples::proto::{PlayerReturningToPlay, RegisterPlayer, SitIn};
use prost_types::Any;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

struct Running {
    address: ListenAddress,
    stop: Option<oneshot::Sender<()>>,
    finished: tokio::task::JoinHandle<Result<(), ServeError>>,
}

/// Where a test server listens: loopback TCP, or a Unix socket of its own.
#[derive(Clone, Copy)]
enum Transport {
    Tcp,
    Unix,
}

impl Transport {
    fn address(self) -> ListenAddress {
        match self {
            Transport::Tcp => ListenAddress::Tcp("127.0.0.1:0".parse().unwrap()),
            Transport::Unix => ListenAddress::Unix(std::env::temp_dir().join(format!(
                "angzarr-hosting-{}-{}.sock",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ))),
        }
    }
}

impl Running {
    async fn start(server: Server) -> Running {
        Running::start_on(server, Transport::Tcp).await
    }

    async fn start_on(server: Server, transport: Transport) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let bound = server
            .listen(transport.address())
            .shutdown_signal(async {
                let _ = stopped.await;
            })
            .bind()
            .await
            .expect("bind");
        Running {
            address: bound.local_address().clone(),
            stop: Some(stop),
            finished: tokio::spawn(bound.serve()),
        }
    }

    fn target(&self) -> Target {
        Target::parse(&self.address.to_string()).unwrap()
    }

    /// A new connection (a new caller, as a load balancer would send).
    async fn channel(&self) -> Channel {
        angzarr_client::connect(&self.target(), &ConnectOptions::default())
            .await
            .expect("connect")
    }

    fn shut_down(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
    }
}

async fn status(health: &mut HealthClient<Channel>, service: &str) -> i32 {
    health
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status
}

/// Waits, on health's Watch stream, until `service` reports `wanted`.
async fn watch_until(health: &mut HealthClient<Channel>, service: &str, wanted: ServingStatus) {
    let mut updates = health
        .watch(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health watches")
        .into_inner();
    while let Some(update) = updates.next().await {
        if update.expect("a health update").status == wanted as i32 {
            return;
        }
    }
    panic!("the health stream ended before {service:?} was {wanted:?}");
}

fn register() -> ContextualCommand {
    ContextualCommand {
        events: None,
        command: Some(CommandBook {
            cover: Some(Cover::new("player", uuid::Uuid::new_v4())),
            pages: vec![CommandPage::new(
                0,
                Any::pack(&RegisterPlayer {
                    display_name: "Alice".into(),
                    email: "alice@example.com".into(),
                    ..Default::default()
                }),
            )],
        }),
    }
}

#[tokio::test]
async fn not_serving_until_every_readiness_check_passes_over_tcp() {
    readiness_gates_serving(Transport::Tcp).await;
}

#[tokio::test]
async fn not_serving_until_every_readiness_check_passes_over_a_unix_socket() {
    readiness_gates_serving(Transport::Unix).await;
}

async fn readiness_gates_serving(transport: Transport) {
    let open = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(tokio::sync::Notify::new());
    let (flag, told) = (Arc::clone(&open), Arc::clone(&asked));
    let mut server = Running::start_on(
        Server::new()
            .aggregate(Player)
            .shutdown_drain(Duration::ZERO)
            .readiness_check("read model", move || {
                let ready = flag.load(Ordering::SeqCst);
                told.notify_one();
                async move {
                    if ready {
                        Ok(())
                    } else {
                        Err("the database is not open yet")
                    }
                }
            }),
        transport,
    )
    .await;
    let mut health = HealthClient::new(server.channel().await);
    asked.notified().await;
    for service in ["", "angzarr.CommandHandlerService", "CommandHandler"] {
        assert_eq!(
            status(&mut health, service).await,
            ServingStatus::NotServing as i32,
            "{service:?} before the check passes"
        );
    }
    // Calls are answered all along: health is what routes them.
    let answered = CommandHandlerServiceClient::new(server.channel().await)
        .handle(register())
        .await;
    assert!(answered.is_ok(), "{answered:?}");

    open.store(true, Ordering::SeqCst);
    watch_until(&mut health, "", ServingStatus::Serving).await;
    assert_eq!(
        status(&mut health, "angzarr.CommandHandlerService").await,
        ServingStatus::Serving as i32
    );
    server.shut_down();
    server.finished.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_reports_not_serving_then_answers_through_the_drain_over_tcp() {
    drains(Transport::Tcp).await;
}

#[tokio::test]
async fn shutdown_reports_not_serving_then_answers_through_the_drain_over_a_unix_socket() {
    drains(Transport::Unix).await;
}

async fn drains(transport: Transport) {
    let drain = Duration::from_secs(3);
    let mut server = Running::start_on(
        Server::new().aggregate(Player).shutdown_drain(drain),
        transport,
    )
    .await;
    let target = server.target();
    let mut health = HealthClient::new(server.channel().await);
    assert_eq!(status(&mut health, "").await, ServingStatus::Serving as i32);

    let asked_to_stop = Instant::now();
    server.shut_down();
    watch_until(&mut health, "", ServingStatus::NotServing).await;
    assert_eq!(
        status(&mut health, "angzarr.CommandHandlerService").await,
        ServingStatus::NotServing as i32
    );
    // A caller that has not heard yet is still answered, on a new connection.
    let late = CommandHandlerServiceClient::new(server.channel().await)
        .handle(register())
        .await;
    assert!(late.is_ok(), "answered during the drain: {late:?}");
    assert!(
        asked_to_stop.elapsed() < drain,
        "the checks took the whole drain; it proves nothing"
    );

    server.finished.await.unwrap().unwrap();
    assert!(
        asked_to_stop.elapsed() >= drain,
        "the listeners closed before the drain period ended"
    );
    let refused = angzarr_client::connect(&target, &ConnectOptions::default()).await;
    assert!(refused.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn an_application_service_is_served_beside_the_components() {
    let read_model = FakeCoordinator::new();
    let root = uuid::Uuid::from_u128(9);
    read_model.given("table", root, [NoOp::default()]);
    let mut server = Running::start(
        Server::new()
            .aggregate(Player)
            .service(EventQueryServiceServer::new(read_model.clone()))
            .shutdown_drain(Duration::ZERO),
    )
    .await;
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone());
    assert_eq!(
        status(&mut health, "angzarr.EventQueryService").await,
        ServingStatus::Serving as i32
    );
    let book = EventQueryServiceClient::new(channel.clone())
        .get_event_book(Query {
            cover: Some(Cover::new("table", root)),
            selection: None,
        })
        .await
        .expect("the application's own service answers")
        .into_inner();
    assert_eq!(book.pages.len(), 1);
    // The component on the same port still answers.
    assert!(CommandHandlerServiceClient::new(channel)
        .handle(register())
        .await
        .is_ok());
    // A refused call of the application's service reaches its caller as is.
    let refused = EventQueryServiceClient::new(server.channel().await)
        .get_event_book(Query::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    server.shut_down();
    server.finished.await.unwrap().unwrap();
}

/// An aggregate whose one handler waits for ever.
struct Stuck;

#[aggregate(domain = "stuck", state = examples::proto::PlayerState)]
impl Stuck {
    #[handles(SitIn)]
    async fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        std::future::pending::<()>().await;
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

#[tokio::test]
async fn a_call_past_the_servers_deadline_is_ended() {
    let mut server = Running::start(
        Server::new()
            .aggregate(Stuck)
            .call_timeout(Duration::from_millis(100))
            .shutdown_drain(Duration::ZERO),
    )
    .await;
    let request = ContextualCommand {
        events: None,
        command: Some(CommandBook {
            cover: Some(Cover::new("stuck", uuid::Uuid::new_v4())),
            pages: vec![CommandPage::new(0, Any::pack(&SitIn::default()))],
        }),
    };
    let error = CommandHandlerServiceClient::new(server.channel().await)
        .handle(request)
        .await
        .unwrap_err();
    // tonic's word for a server-side timeout; this crate's clients call it
    // DEADLINE_EXCEEDED.
    assert_eq!(
        (error.code(), error.message()),
        (Code::Cancelled, "Timeout expired")
    );
    assert!(ClientError::from(error).is_deadline_exceeded());
    server.shut_down();
    server.finished.await.unwrap().unwrap();
}

#[tokio::test]
async fn histories_past_tonics_four_mebibytes_pass_by_default_and_the_limit_is_settable() {
    // 48 events of 100 KiB: a 4.8 MiB book, over tonic's own 4 MiB default.
    let store = FakeCoordinator::new();
    let root = uuid::Uuid::from_u128(11);
    let big = NoOp {
        reason: "x".repeat(100 * 1024),
        ..Default::default()
    };
    store.given("player", root, std::iter::repeat_n(big, 48));
    let mut server = Running::start(
        Server::new()
            .aggregate(Player)
            .service(
                EventQueryServiceServer::new(store.clone()).max_encoding_message_size(64 << 20),
            )
            .shutdown_drain(Duration::ZERO),
    )
    .await;
    let target = server.target();
    let client = DomainClient::connect_with(&target, &ConnectOptions::default())
        .await
        .unwrap();
    let pages = client.query("player", root).get_pages().await.unwrap();
    assert_eq!(pages.len(), 48);

    let small = ConnectOptions {
        max_message_size: 1 << 20,
        ..ConnectOptions::default()
    };
    let limited = DomainClient::connect_with(&target, &small).await.unwrap();
    let refused = limited.query("player", root).get_pages().await.unwrap_err();
    assert!(
        refused.message().contains("message length too large"),
        "{refused}"
    );

    // The server's limit, in the other direction: a component refuses a
    // request larger than it was told to accept.
    let mut strict = Running::start(
        Server::new()
            .aggregate(Player)
            .max_message_size(64 * 1024)
            .shutdown_drain(Duration::ZERO),
    )
    .await;
    let mut oversized = register();
    if let Some(book) = oversized.command.as_mut() {
        book.pages[0].payload = Some(angzarr_client::proto::command_page::Payload::Command(
            Any::pack(&RegisterPlayer {
                display_name: "x".repeat(100 * 1024),
                ..Default::default()
            }),
        ));
    }
    let refused = CommandHandlerServiceClient::new(strict.channel().await)
        .max_encoding_message_size(1 << 20)
        .handle(oversized)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    strict.shut_down();
    strict.finished.await.unwrap().unwrap();
    server.shut_down();
    server.finished.await.unwrap().unwrap();
}
