//! Sagas, process managers, projectors and upcasters served over real
//! loopback gRPC by the one `Server`: several components per process, health
//! with the coordinator's short names, reflection, bad input answered with a
//! clear status, panics isolated, Unix sockets, and CloudEvents as JSON.

use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::process_manager_service_client::ProcessManagerServiceClient;
use angzarr_client::proto::projector_service_client::ProjectorServiceClient;
use angzarr_client::proto::saga_service_client::SagaServiceClient;
use angzarr_client::proto::upcaster_service_client::UpcasterServiceClient;
use angzarr_client::proto::{
    page_header, AnyExt, CloudEventsResponse, Cover, EventBook, EventPage,
    ProcessManagerHandleRequest, ProcessManagerPrepareRequest, SagaHandleRequest, UpcastRequest,
};
use angzarr_client::testing::prelude::*;
use angzarr_client::{BoundServer, ListenAddress, ServeError, Server};
use examples::player::{chips, Player};
use examples::proto::{
    FundsDeposited, FundsReleased, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds, SitIn, SitOut,
};
use prost_types::Any;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

// ---- the components ----

/// Releases the player's reservation when a table reports it released.
struct Releaser;

#[saga(name = "saga-table-player", source = "table", target = "player")]
impl Releaser {
    #[handles(FundsReleased)]
    async fn release(&self, event: &FundsReleased, ctx: &SagaContext) -> Command<ReleaseFunds> {
        Command::new(
            ctx.root(),
            ReleaseFunds {
                table_root: event.table_root.clone(),
            },
        )
    }

    #[handles(SitOut)]
    fn explode(&self, _event: &SitOut) -> Option<Command<ReleaseFunds>> {
        panic!("the saga fell over");
    }
}

/// Another saga, to show that two need two addresses.
struct Second;

#[saga(name = "second", source = "table", target = "player")]
impl Second {
    #[handles(FundsReleased)]
    fn release(&self, _event: &FundsReleased) -> Option<Command<ReleaseFunds>> {
        None
    }
}

/// Reserves on registration, in a workflow keyed by correlation id.
struct Welcome;

#[process_manager(name = "welcome", sources = ["player"], targets = ["player"], state = PlayerState)]
impl Welcome {
    #[prepares(PlayerRegistered)]
    fn who(&self, _event: &PlayerRegistered, _state: &PlayerState) -> Cover {
        Cover::new("player", uuid::Uuid::from_u128(1))
    }

    #[handles(PlayerRegistered)]
    fn greet(&self, event: PlayerRegistered, state: &PlayerState, ctx: &PmContext) -> PmOutput {
        PmOutput::new()
            .event(FundsDeposited {
                amount: Some(chips(10)),
                new_balance: Some(chips(10)),
                deposited_at: None,
            })
            .command(Command::new(
                ctx.root(),
                ReserveFunds {
                    amount: Some(chips(
                        i64::from(ctx.destination_sequence("player").unwrap_or(0))
                            + i64::from(state.display_name.len() as u32)
                            + event.display_name.len() as i64,
                    )),
                    table_root: vec![1],
                },
            ))
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: &FundsDeposited) {
        state.bankroll = event.new_balance.clone();
    }
}

/// Counts reservations; answers CloudEvents.
struct Feed;

#[projector(name = "feed", domains = ["player"])]
impl Feed {
    #[handles(FundsReserved)]
    fn reserved(&self, event: &FundsReserved, ctx: &ProjectionContext) -> CloudEvent {
        CloudEvent::new(event).with_extension(
            "speculative",
            if ctx.is_speculative() { "yes" } else { "no" },
        )
    }
}

/// Upgrades `SitIn` (an "old" registration) to `PlayerRegistered`.
struct Upgrade;

#[upcaster(domain = "player")]
impl Upgrade {
    #[upcasts(SitIn)]
    fn sit_in(_old: SitIn) -> PlayerRegistered {
        PlayerRegistered {
            display_name: "upgraded".into(),
            ..Default::default()
        }
    }
}

// ---- serving ----

struct Running {
    channel: Channel,
    stop: oneshot::Sender<()>,
    finished: tokio::task::JoinHandle<Result<(), ServeError>>,
}

async fn bind(server: Server) -> (BoundServer, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let bound = server
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind()
        .await
        .expect("bind");
    (bound, stop)
}

async fn start(server: Server) -> Running {
    let (bound, stop) = bind(server.listen(ListenAddress::loopback(0))).await;
    let address = bound.local_address().clone();
    let finished = tokio::spawn(bound.serve());
    let channel = Endpoint::try_from(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    Running {
        channel,
        stop,
        finished,
    }
}

fn everything() -> Server {
    Server::new()
        .aggregate(Player)
        .upcaster(Upgrade)
        .saga(Releaser)
        .process_manager(Welcome)
        .projector(Feed)
}

fn book(domain: &str, correlation: &str, pages: Vec<EventPage>) -> EventBook {
    EventBook {
        cover: Some(Cover::new(domain, uuid::Uuid::from_u128(7)).with_correlation_id(correlation)),
        pages,
        ..Default::default()
    }
}

fn page(sequence: u32, event: impl prost::Name) -> EventPage {
    EventPage::new(sequence, Any::pack(&event))
}

fn corrupt(sequence: u32, type_name: &str) -> EventPage {
    EventPage::new(
        sequence,
        Any {
            type_url: format!("type.googleapis.com/{type_name}"),
            value: vec![0xff, 0xff, 0xff],
        },
    )
}

#[tokio::test]
async fn every_kind_answers_on_one_port_with_health_for_each() {
    let running = start(everything()).await;
    let mut health = HealthClient::new(running.channel.clone());
    for service in [
        "",
        "angzarr.CommandHandlerService",
        "CommandHandler",
        "angzarr.SagaService",
        "Saga",
        "angzarr.ProcessManagerService",
        "ProcessManager",
        "angzarr.ProjectorService",
        "Projector",
        "angzarr.UpcasterService",
        "Upcaster",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("{service}: {status}"))
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }

    let mut saga = SagaServiceClient::new(running.channel.clone());
    let response = saga
        .handle(SagaHandleRequest {
            source: Some(book(
                "table",
                "c-1",
                vec![page(
                    4,
                    FundsReleased {
                        table_root: vec![9],
                        ..Default::default()
                    },
                )],
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.commands.len(), 1);
    let command = &response.commands[0];
    assert_eq!(command.cover.as_ref().unwrap().correlation_id, "c-1");
    match &command.pages[0].header.as_ref().unwrap().sequence_type {
        Some(page_header::SequenceType::AngzarrDeferred(deferred)) => {
            assert_eq!(deferred.source_seq, 4)
        }
        other => panic!("{other:?}"),
    }

    let mut pm = ProcessManagerServiceClient::new(running.channel.clone());
    let trigger = book(
        "player",
        "signup-1",
        vec![page(
            0,
            PlayerRegistered {
                display_name: "ada".into(),
                ..Default::default()
            },
        )],
    );
    let prepared = pm
        .prepare(ProcessManagerPrepareRequest {
            trigger: Some(trigger.clone()),
            process_state: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(prepared.destinations.len(), 1);
    let handled = pm
        .handle(ProcessManagerHandleRequest {
            trigger: Some(trigger),
            process_state: None,
            destination_sequences: [("player".to_owned(), 4)].into(),
        })
        .await
        .unwrap()
        .into_inner();
    let own = handled.process_events.unwrap();
    assert_eq!(own.cover.as_ref().unwrap().domain, "welcome");
    assert_eq!(own.pages[0].sequence(), Some(0));
    let reserve = handled.commands[0].pages[0]
        .command()
        .unwrap()
        .unpack::<ReserveFunds>()
        .unwrap();
    assert_eq!(
        reserve.amount,
        Some(chips(4 + 3)),
        "destination sequence seen"
    );

    let mut projector = ProjectorServiceClient::new(running.channel.clone());
    let reserved = book("player", "c-2", vec![page(2, FundsReserved::default())]);
    for (speculative, marker) in [(false, "no"), (true, "yes")] {
        let projection = if speculative {
            projector.handle_speculative(reserved.clone()).await
        } else {
            projector.handle(reserved.clone()).await
        }
        .unwrap()
        .into_inner();
        assert_eq!(projection.projector, "feed");
        assert_eq!(projection.sequence, 2);
        let events = projection
            .projection
            .unwrap()
            .unpack::<CloudEventsResponse>()
            .unwrap()
            .events;
        assert_eq!(events[0].extensions["speculative"], marker);
    }

    let mut upcaster = UpcasterServiceClient::new(running.channel.clone());
    let upcast = upcaster
        .upcast(UpcastRequest {
            domain: "player".into(),
            events: vec![page(0, SitIn::default()), page(1, FundsReserved::default())],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(upcast.events[0].event().unwrap().is::<PlayerRegistered>());
    assert!(upcast.events[1].event().unwrap().is::<FundsReserved>());

    let _ = running.stop.send(());
    running.finished.await.unwrap().unwrap();
}

#[tokio::test]
async fn bad_input_is_a_clear_status_and_foreign_input_an_empty_answer() {
    let running = start(everything()).await;
    let mut saga = SagaServiceClient::new(running.channel.clone());
    let status = saga.handle(SagaHandleRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "SagaHandleRequest has no source");
    let status = saga
        .handle(SagaHandleRequest {
            source: Some(book(
                "table",
                "",
                vec![corrupt(3, "examples.FundsReleased")],
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("event `examples.FundsReleased` at sequence 3 does not decode"),
        "{}",
        status.message()
    );
    for source in [
        book("player", "", vec![page(0, FundsReleased::default())]),
        book("table", "", vec![]),
        book("table", "", vec![page(0, RegisterPlayer::default())]),
    ] {
        let answer = saga
            .handle(SagaHandleRequest {
                source: Some(source),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(answer.commands.is_empty() && answer.events.is_empty());
    }

    let mut pm = ProcessManagerServiceClient::new(running.channel.clone());
    let status = pm
        .handle(ProcessManagerHandleRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (
            Code::InvalidArgument,
            "ProcessManagerHandleRequest has no trigger"
        )
    );
    let uncorrelated = pm
        .handle(ProcessManagerHandleRequest {
            trigger: Some(book(
                "player",
                "",
                vec![page(0, PlayerRegistered::default())],
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(uncorrelated, Default::default());
    let status = pm
        .handle(ProcessManagerHandleRequest {
            trigger: Some(book(
                "player",
                "c",
                vec![page(0, PlayerRegistered::default())],
            )),
            process_state: Some(book("welcome", "someone-else", vec![])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "process_state belongs to correlation id `someone-else`, the trigger to `c`"
    );
    let status = pm
        .handle(ProcessManagerHandleRequest {
            trigger: Some(book(
                "player",
                "c",
                vec![corrupt(5, "examples.PlayerRegistered")],
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(status.message().contains("at sequence 5 does not decode"));

    let mut projector = ProjectorServiceClient::new(running.channel.clone());
    let status = projector.handle(EventBook::default()).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "EventBook has no cover")
    );
    let framework = projector
        .handle(book(
            "_angzarr",
            "",
            vec![page(0, FundsReserved::default())],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(framework.projection.is_none());

    let mut upcaster = UpcasterServiceClient::new(running.channel.clone());
    let status = upcaster
        .upcast(UpcastRequest {
            domain: "player".into(),
            events: vec![corrupt(8, "examples.SitIn")],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status
        .message()
        .starts_with("event `examples.SitIn` at sequence 8 does not decode"));
    let foreign = upcaster
        .upcast(UpcastRequest {
            domain: "table".into(),
            events: vec![page(0, SitIn::default())],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        foreign.events[0].event().unwrap().is::<SitIn>(),
        "another domain's history passes through"
    );
}

#[tokio::test]
async fn a_panicking_saga_fails_its_call_and_the_server_keeps_serving() {
    let running = start(Server::new().saga(Releaser)).await;
    let mut saga = SagaServiceClient::new(running.channel.clone());
    let status = saga
        .handle(SagaHandleRequest {
            source: Some(book("table", "", vec![page(0, SitOut::default())])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        status.message(),
        "internal error: the handler panicked: the saga fell over"
    );
    let fine = saga
        .handle(SagaHandleRequest {
            source: Some(book("table", "", vec![page(0, FundsReleased::default())])),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fine.commands.len(), 1);
}

#[tokio::test]
async fn two_sagas_need_two_addresses() {
    let address = ListenAddress::loopback(0);
    let refused = Server::new()
        .saga(Releaser)
        .saga(Second)
        .listen(address.clone())
        .bind()
        .await;
    match refused {
        Err(ServeError::Conflict {
            service,
            first,
            second,
            ..
        }) => {
            assert_eq!(service, "angzarr.SagaService");
            assert_eq!(first, "saga saga-table-player");
            assert_eq!(second, "saga second");
        }
        Err(other) => panic!("expected a conflict, got {other}"),
        Ok(_) => panic!("expected a conflict, got a server"),
    }

    let dir = std::env::temp_dir().join(format!("angzarr-sagas-{}", std::process::id()));
    let first_socket = dir.join("saga-saga-table-player.sock");
    let second_socket = dir.join("saga-second.sock");
    let (bound, stop) = bind(
        Server::new()
            .saga(Releaser)
            .saga(Second)
            .listen_component(
                "saga-table-player",
                ListenAddress::Unix(first_socket.clone()),
            )
            .listen_component("second", ListenAddress::Unix(second_socket.clone())),
    )
    .await;
    let listeners: Vec<(String, Vec<String>)> = bound
        .local_addresses()
        .map(|(address, components)| (address.to_string(), components.to_vec()))
        .collect();
    assert_eq!(
        listeners,
        [
            (
                format!("unix:{}", first_socket.display()),
                vec!["saga saga-table-player".to_owned()]
            ),
            (
                format!("unix:{}", second_socket.display()),
                vec!["saga second".to_owned()]
            ),
        ]
    );
    let finished = tokio::spawn(bound.serve());
    for socket in [&first_socket, &second_socket] {
        let channel = unix_channel(socket).await;
        let mut health = HealthClient::new(channel);
        let status = health
            .check(HealthCheckRequest {
                service: "Saga".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32);
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), finished)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
    assert!(
        !first_socket.exists() && !second_socket.exists(),
        "sockets removed"
    );

    let unknown = Server::new()
        .saga(Second)
        .listen_component("nobody", ListenAddress::loopback(0))
        .bind()
        .await;
    match unknown {
        Err(error @ ServeError::UnknownComponent { .. }) => assert_eq!(
            error.to_string(),
            "listen_component names `nobody`, but this server has no such component (it has: second)"
        ),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("expected an error"),
    }
    assert!(matches!(Server::new().bind().await, Err(ServeError::Empty)));
}

async fn unix_channel(path: &std::path::Path) -> Channel {
    let path = path.to_owned();
    Endpoint::try_from("http://localhost")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
        .expect("connect over the Unix socket")
}

#[tokio::test]
async fn shutdown_reports_not_serving_for_every_kind() {
    let running = start(everything()).await;
    let mut health = HealthClient::new(running.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "Projector".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap().status;
    assert_eq!(first, ServingStatus::Serving as i32);
    let _ = running.stop.send(());
    let next = watch.message().await.unwrap().map(|answer| answer.status);
    assert_eq!(next, Some(ServingStatus::NotServing as i32));
    // An open watch is an in-flight call: the server waits for it.
    drop(watch);
    drop(health);
    drop(running.channel);
    running.finished.await.unwrap().unwrap();
}

#[tokio::test]
async fn cloud_events_render_as_structured_json() {
    let outcome = ProjectorTest::new(Feed)
        .with_cover(Cover::new("player", uuid::Uuid::from_u128(0xab)).with_correlation_id("c"))
        .at_sequence(3)
        .when(FundsReserved {
            amount: Some(chips(250)),
            table_root: vec![1, 2],
            ..Default::default()
        });
    let response = outcome
        .projection()
        .unwrap()
        .unpack::<CloudEventsResponse>()
        .unwrap();
    let pool =
        angzarr_client::cloudevents::DescriptorPool::decode(examples::FILE_DESCRIPTOR_SET).unwrap();
    let json = angzarr_client::cloudevents::to_json(&response.events[0], &pool).unwrap();
    let root = "000000000000000000000000000000ab";
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["id"], format!("player:{root}:3"));
    assert_eq!(json["source"], "angzarr/player");
    assert_eq!(json["type"], "examples.FundsReserved");
    assert_eq!(json["subject"], root);
    assert_eq!(json["correlationid"], "c");
    assert_eq!(json["speculative"], "no");
    assert_eq!(json["datacontenttype"], "application/json");
    assert_eq!(json["data"]["amount"]["amount"], "250", "int64 as a string");
    assert_eq!(
        json["data"]["tableRoot"], "AQI=",
        "bytes in base64, camelCase names"
    );
}
