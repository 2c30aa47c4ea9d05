//! angzarr-local answers as the real coordinator does (shared/coordinator-behaviour.md),
//! over real loopback gRPC, with the player aggregate behind it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use angzarr_client::proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_client::proto::event_query_service_client::EventQueryServiceClient;
use angzarr_client::proto::{
    page_header, query, temporal_query, AnyExt, BusinessResponse, CommandBook, CommandPage,
    CommandRequest, ContextualCommand, Cover, EventBook, EventPage, EventRequest,
    ExternalDeferredSequence, FactRequest, MergeStrategy, PageHeader, Query, SequenceRange,
    SequenceSet, SpeculateCommandHandlerRequest, TemporalQuery, Uuid,
};
use angzarr_client::AggregateService;
use angzarr_local::component::AggregateLogic;
use angzarr_local::{LocalCoordinator, LocalCoordinatorBuilder, MemoryStore};
use examples::player::{chips, Player};
use examples::proto::{DepositFunds, FundsDeposited, PlayerState, RegisterPlayer};
use prost::Message;
use prost_types::Any;
use tonic::transport::Channel;
use tonic::Code;

struct Local {
    channel: Channel,
    commands: CommandHandlerCoordinatorServiceClient<Channel>,
    queries: EventQueryServiceClient<Channel>,
}

async fn start(builder: LocalCoordinatorBuilder) -> Local {
    let coordinator: LocalCoordinator = builder.try_build().expect("a valid coordinator");
    let bound = coordinator
        .bind(
            angzarr_client::ListenAddress::loopback(0),
            std::future::pending(),
        )
        .await
        .unwrap();
    let address = bound.local_address().tcp().unwrap();
    tokio::spawn(bound.serve());
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Local {
        commands: CommandHandlerCoordinatorServiceClient::new(channel.clone()),
        queries: EventQueryServiceClient::new(channel.clone()),
        channel,
    }
}

async fn with_player() -> Local {
    start(LocalCoordinator::builder().domain_aggregate(Player)).await
}

fn root() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x5eed)
}

fn command(sequence: u32, payload: Any) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover::new("player", root()).with_correlation_id("corr-1")),
            pages: vec![CommandPage::new(sequence, payload)],
        }),
        ..Default::default()
    }
}

fn register() -> Any {
    Any::pack(&RegisterPlayer {
        display_name: "Alice".into(),
        email: "alice@example.com".into(),
        ..Default::default()
    })
}

fn deposit(amount: i64) -> Any {
    Any::pack(&DepositFunds {
        amount: Some(chips(amount)),
    })
}

/// Registers and deposits twice: events 0..2.
async fn three_events(local: &mut Local) {
    local
        .commands
        .handle_command(command(0, register()))
        .await
        .unwrap();
    local
        .commands
        .handle_command(command(1, deposit(10)))
        .await
        .unwrap();
    local
        .commands
        .handle_command(command(2, deposit(5)))
        .await
        .unwrap();
}

async fn expect(local: &mut Local, request: CommandRequest, code: Code, message: &str) {
    let status = local.commands.handle_command(request).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (code, message));
}

#[tokio::test]
async fn validation_matches_the_real_coordinator() {
    let mut local = with_player().await;
    expect(
        &mut local,
        CommandRequest::default(),
        Code::InvalidArgument,
        "CommandRequest must have a command",
    )
    .await;

    let mut request = command(0, register());
    request.command.as_mut().unwrap().cover = None;
    expect(
        &mut local,
        request,
        Code::InvalidArgument,
        "CommandBook must have a cover",
    )
    .await;

    let mut request = command(0, register());
    request
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .root = None;
    expect(
        &mut local,
        request,
        Code::InvalidArgument,
        "Cover must have a root UUID",
    )
    .await;

    let mut request = command(0, register());
    request
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .root = Some(Uuid { value: vec![1; 5] });
    expect(
        &mut local,
        request,
        Code::InvalidArgument,
        "Invalid UUID: invalid length: expected 16 bytes, found 5",
    )
    .await;

    for (domain, message) in [
        ("", "domain name cannot be empty"),
        ("Player", "domain name must start with lowercase letter"),
        ("1player", "domain name must start with lowercase letter"),
        (
            "pla yer",
            "domain name contains invalid characters (allowed: a-z, 0-9, _, -)",
        ),
        (
            &"p".repeat(65),
            "domain name exceeds maximum length (max: 64, got: 65)",
        ),
    ] {
        let mut request = command(0, register());
        request
            .command
            .as_mut()
            .unwrap()
            .cover
            .as_mut()
            .unwrap()
            .domain = domain.to_owned();
        expect(&mut local, request, Code::InvalidArgument, message).await;
    }
    for (correlation, message) in [
        (
            "a b".to_owned(),
            "correlation_id contains invalid characters (allowed: a-zA-Z0-9_-)",
        ),
        (
            "c".repeat(129),
            "correlation_id exceeds maximum length (max: 128, got: 129)",
        ),
    ] {
        let mut request = command(0, register());
        request
            .command
            .as_mut()
            .unwrap()
            .cover
            .as_mut()
            .unwrap()
            .correlation_id = correlation;
        expect(&mut local, request, Code::InvalidArgument, message).await;
    }

    let mut request = command(0, register());
    request.command.as_mut().unwrap().pages = vec![CommandPage::new(0, register()); 101];
    expect(
        &mut local,
        request,
        Code::InvalidArgument,
        "command book exceeds maximum pages (max: 100, got: 101)",
    )
    .await;

    let big = Any {
        type_url: RegisterPlayer::type_url(),
        value: vec![0; 307_212],
    };
    expect(
        &mut local,
        command(0, big),
        Code::InvalidArgument,
        "page payload exceeds maximum size at page 0 (max: 262144 bytes, got: 307212 bytes)",
    )
    .await;

    let mut request = command(0, register());
    request.command.as_mut().unwrap().pages.clear();
    expect(
        &mut local,
        request,
        Code::InvalidArgument,
        "command book has no pages",
    )
    .await;
}

use prost::Name;

#[tokio::test]
async fn stale_sequences_are_rejected_with_the_current_book_except_aggregate_handles() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    for strategy in [
        MergeStrategy::MergeStrict,
        MergeStrategy::MergeCommutative,
        MergeStrategy::MergeManual,
    ] {
        for expected in [1, 9] {
            let mut request = command(expected, deposit(1));
            request.command.as_mut().unwrap().pages[0].merge_strategy = strategy.into();
            let status = local.commands.handle_command(request).await.unwrap_err();
            assert_eq!(status.code(), Code::FailedPrecondition);
            assert_eq!(
                status.message(),
                format!("Sequence mismatch: command expects {expected}, aggregate at 3")
            );
            let current =
                EventBook::decode(status.details()).expect("the current book in the details");
            assert_eq!(current.next_sequence, 3);
            assert!(current.pages.is_empty(), "no page after the snapshot");
            if expected == 1 {
                // The pages from 1 on are below the player's snapshot: the
                // snapshot stands for them.
                assert_eq!(current.snapshot.map(|s| s.sequence), Some(2));
            } else {
                assert!(current.snapshot.is_none(), "nothing the command missed");
            }
        }
    }

    let mut request = command(1, deposit(1));
    request.command.as_mut().unwrap().pages[0].merge_strategy =
        MergeStrategy::MergeAggregateHandles.into();
    let response = local
        .commands
        .handle_command(request)
        .await
        .unwrap()
        .into_inner();
    let events = response.events.unwrap();
    assert_eq!(events.pages.len(), 1, "only the newly persisted page");
    assert_eq!(events.pages[0].sequence(), Some(3));
    assert_eq!(events.next_sequence, 4);
}

#[tokio::test]
async fn aggregate_rejections_pass_through_unchanged() {
    let mut local = with_player().await;
    expect(
        &mut local,
        command(0, deposit(5)),
        Code::FailedPrecondition,
        "Player does not exist",
    )
    .await;
}

#[tokio::test]
async fn unknown_domains_and_unreachable_aggregates_are_named() {
    let mut local = start(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .domain_endpoint("table", "http://127.0.0.1:9")
            .unwrap(),
    )
    .await;
    let mut request = command(0, register());
    request
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .domain = "hand".into();
    expect(
        &mut local,
        request,
        Code::NotFound,
        "domain `hand` not found; this coordinator serves: player, table",
    )
    .await;

    let mut request = command(0, register());
    request
        .command
        .as_mut()
        .unwrap()
        .cover
        .as_mut()
        .unwrap()
        .domain = "table".into();
    let status = local.commands.handle_command(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .starts_with("aggregate at http://127.0.0.1:9 is unreachable"),
        "{}",
        status.message()
    );
}

async fn book(local: &mut Local, selection: Option<query::Selection>) -> Vec<Option<u32>> {
    let book = local
        .queries
        .get_event_book(Query {
            cover: Some(Cover::new("player", root())),
            selection,
        })
        .await
        .unwrap()
        .into_inner();
    book.pages.iter().map(EventPage::sequence).collect()
}

#[tokio::test]
async fn queries_select_ranges_sets_and_points() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    assert_eq!(book(&mut local, None).await, [Some(0), Some(1), Some(2)]);
    let range = query::Selection::Range(SequenceRange {
        lower: 1,
        upper: Some(2),
    });
    assert_eq!(book(&mut local, Some(range)).await, [Some(1), Some(2)]);
    let set = query::Selection::Sequences(SequenceSet { values: vec![0, 2] });
    assert_eq!(book(&mut local, Some(set)).await, [Some(0), Some(2)]);
    let at = query::Selection::Temporal(TemporalQuery {
        point_in_time: Some(temporal_query::PointInTime::AsOfSequence(1)),
    });
    assert_eq!(book(&mut local, Some(at)).await, [Some(0), Some(1)]);
    let now = query::Selection::Temporal(TemporalQuery {
        point_in_time: Some(temporal_query::PointInTime::AsOfTime(
            angzarr_client::proto::time::now(),
        )),
    });
    assert_eq!(book(&mut local, Some(now)).await.len(), 3);

    let status = local
        .queries
        .get_event_book(Query {
            cover: Some(Cover::new("player", root())),
            selection: Some(query::Selection::Temporal(TemporalQuery {
                point_in_time: None,
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "temporal query needs a point in time: set as_of_sequence or as_of_time"
    );

    let status = local
        .queries
        .get_event_book(Query::default())
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        "Query must have a cover with domain/root or correlation_id"
    );

    let unknown = local
        .queries
        .get_event_book(Query {
            cover: Some(Cover::new("nobody", uuid::Uuid::from_u128(1))),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.pages.is_empty());

    let by_correlation = local
        .queries
        .get_event_book(Query {
            cover: Some(Cover {
                correlation_id: "corr-1".into(),
                ..Default::default()
            }),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_correlation.pages.len(), 3);

    let mut stream = local
        .queries
        .get_events(Query {
            cover: Some(Cover::new("player", root())),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    let streamed = stream.message().await.unwrap().unwrap();
    assert_eq!(streamed.pages.len(), 3);
    assert!(stream.message().await.unwrap().is_none());

    let queries = vec![
        Query {
            cover: Some(Cover::new("player", root())),
            selection: Some(query::Selection::Sequences(SequenceSet { values: vec![1] })),
        },
        Query {
            cover: Some(Cover::new("player", root())),
            selection: None,
        },
    ];
    let mut answers = local
        .queries
        .synchronize(tokio_stream::iter(queries))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answers.message().await.unwrap().unwrap().pages.len(), 1);
    assert_eq!(answers.message().await.unwrap().unwrap().pages.len(), 3);

    let mut roots = local
        .queries
        .get_aggregate_roots(())
        .await
        .unwrap()
        .into_inner();
    let first = roots.message().await.unwrap().unwrap();
    assert_eq!(first.domain, "player");
    assert_eq!(first.root.unwrap().to_uuid(), Ok(root()));
}

#[tokio::test]
async fn speculative_commands_see_history_at_a_point_and_store_nothing() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let status = local
        .commands
        .handle_sync_speculative(SpeculateCommandHandlerRequest {
            command: command(2, deposit(1)).command,
            point_in_time: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        "Speculative requires either as_of_sequence or as_of_timestamp"
    );

    let response = local
        .commands
        .handle_sync_speculative(SpeculateCommandHandlerRequest {
            command: command(2, deposit(1)).command,
            point_in_time: Some(TemporalQuery {
                point_in_time: Some(temporal_query::PointInTime::AsOfSequence(1)),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let events = response.events.unwrap();
    assert_eq!(events.pages[0].sequence(), Some(2));
    let deposited: FundsDeposited = events.pages[0].event().unwrap().unpack().unwrap();
    assert_eq!(
        deposited.new_balance,
        Some(chips(11)),
        "it saw events 0..1 only"
    );
    assert_eq!(book(&mut local, None).await.len(), 3, "nothing was stored");
}

fn fact(external_id: &str) -> EventRequest {
    let mut page = EventPage::new(
        0,
        Any::pack(&FundsDeposited {
            amount: Some(chips(7)),
            new_balance: Some(chips(7)),
            deposited_at: None,
        }),
    );
    page.header = Some(PageHeader {
        sequence_type: Some(page_header::SequenceType::ExternalDeferred(
            ExternalDeferredSequence {
                external_id: external_id.into(),
                description: "bank transfer".into(),
            },
        )),
    });
    EventRequest {
        events: Some(EventBook {
            cover: Some(Cover::new("player", root())),
            pages: vec![page],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn facts_are_stored_once_per_external_id() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let mut plain = fact("x");
    plain.events.as_mut().unwrap().pages[0].header = Some(PageHeader::at_sequence(0));
    let status = local.commands.handle_event(plain).await.unwrap_err();
    assert_eq!(
        status.message(),
        "Fact events must have ExternalDeferredSequence markers"
    );

    let first = local
        .commands
        .handle_event(fact("wire-42"))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.already_processed);
    assert_eq!(first.events.as_ref().unwrap().pages[0].sequence(), Some(3));
    let second = local
        .commands
        .handle_event(fact("wire-42"))
        .await
        .unwrap()
        .into_inner();
    assert!(second.already_processed);
    assert_eq!(second.events.unwrap().pages, first.events.unwrap().pages);
    assert_eq!(book(&mut local, None).await.len(), 4);
}

/// A fact that is the first write on a named edition copies the main
/// timeline below it into the edition; what it records, and answers again
/// to a repeat, is its own pages only.
#[tokio::test]
async fn a_fact_first_on_an_edition_answers_its_own_pages_when_repeated() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let on_edition = || {
        let mut request = fact("wire-7");
        request.events.as_mut().unwrap().cover =
            Some(Cover::new("player", root()).with_edition("what-if"));
        request
    };
    let first = local
        .commands
        .handle_event(on_edition())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.already_processed);
    let sequences = |book: &EventBook| {
        book.pages
            .iter()
            .map(EventPage::sequence)
            .collect::<Vec<_>>()
    };
    assert_eq!(sequences(first.events.as_ref().unwrap()), [Some(3)]);
    let again = local
        .commands
        .handle_event(on_edition())
        .await
        .unwrap()
        .into_inner();
    assert!(again.already_processed);
    assert_eq!(
        sequences(again.events.as_ref().unwrap()),
        [Some(3)],
        "the repeat answers the fact's pages, not the inherited ones"
    );
}

/// Records what the coordinator sends, then lets the player decide.
struct Spy {
    inner: AggregateService<Player>,
    seen: Arc<Mutex<Vec<ContextualCommand>>>,
}

#[tonic::async_trait]
impl AggregateLogic for Spy {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, tonic::Status> {
        self.seen.lock().unwrap().push(command.clone());
        self.inner.handle(command).await
    }
    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, tonic::Status> {
        self.inner.handle_fact(facts).await
    }
    fn describe(&self) -> String {
        "spy".into()
    }
}

#[tokio::test]
async fn the_next_command_carries_the_latest_snapshot_and_later_pages_only() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let spy = Spy {
        inner: AggregateService::new(Player),
        seen: Arc::clone(&seen),
    };
    let mut local = start(
        LocalCoordinator::builder()
            .store(MemoryStore::new())
            .domain_logic("player", spy),
    )
    .await;
    three_events(&mut local).await;
    local
        .commands
        .handle_command(command(3, deposit(1)))
        .await
        .unwrap();
    let last = seen.lock().unwrap().last().cloned().unwrap();
    let history = last.events.unwrap();
    let snapshot = history.snapshot.expect("the player's snapshot");
    assert_eq!(snapshot.sequence, 2);
    let state: PlayerState = snapshot.state.unwrap().unpack().unwrap();
    assert_eq!(state.bankroll, Some(chips(15)));
    assert!(history.pages.is_empty(), "no pages after the snapshot");
    assert_eq!(history.next_sequence, 3);
}

#[tokio::test]
async fn concurrent_writers_leave_a_gapless_history() {
    let local = with_player().await;
    let mut commands = local.commands.clone();
    commands
        .handle_command(command(0, register()))
        .await
        .unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let mut commands = local.commands.clone();
            let accepted = Arc::clone(&accepted);
            tokio::spawn(async move {
                for _ in 0..10 {
                    let mut request = command(0, deposit(1));
                    request.command.as_mut().unwrap().pages[0].merge_strategy =
                        MergeStrategy::MergeAggregateHandles.into();
                    commands.handle_command(request).await.unwrap();
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut local = local;
    let sequences = book(&mut local, None).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 160);
    assert_eq!(sequences, (0..=160).map(Some).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_grpc_aggregate_and_sqlite_behave_the_same() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bound = angzarr_client::Server::new()
        .aggregate(Player)
        .listen(angzarr_client::ListenAddress::Tcp(
            "127.0.0.1:0".parse().unwrap(),
        ))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(async {
            let _ = stopped.await;
        })
        .bind()
        .await
        .unwrap();
    let endpoint = format!("http://{}", bound.local_address());
    let server = tokio::spawn(bound.serve());

    let dir = std::env::temp_dir().join(format!("angzarr-local-grpc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = angzarr_local::SqliteStore::open(dir.join("events.db")).unwrap();
    let mut local = start(
        LocalCoordinator::builder()
            .store(store)
            .domain_endpoint("player", &endpoint)
            .unwrap(),
    )
    .await;
    three_events(&mut local).await;
    assert_eq!(book(&mut local, None).await, [Some(0), Some(1), Some(2)]);
    expect(
        &mut local,
        command(
            3,
            Any::pack(&examples::proto::WithdrawFunds {
                amount: Some(chips(99)),
            }),
        ),
        Code::FailedPrecondition,
        "Insufficient funds",
    )
    .await;
    let status = local
        .commands
        .handle_command(command(0, deposit(1)))
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        "Sequence mismatch: command expects 0, aggregate at 3"
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_edition_reads_the_main_timeline_below_its_divergence_and_writes_to_itself() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let mut edition_cover = Cover::new("player", root()).with_edition("what-if");
    edition_cover.edition.as_mut().unwrap().divergences.push(
        angzarr_client::proto::DomainDivergence {
            domain: "player".into(),
            sequence: 2,
        },
    );
    let mut request = command(2, deposit(100));
    request.command.as_mut().unwrap().cover = Some(edition_cover.clone());
    let response = local
        .commands
        .handle_command(request)
        .await
        .unwrap()
        .into_inner();
    let deposited: FundsDeposited = response.events.unwrap().pages[0]
        .event()
        .unwrap()
        .unpack()
        .unwrap();
    assert_eq!(
        deposited.new_balance,
        Some(chips(110)),
        "saw events 0..1 of the main timeline"
    );

    let edition = local
        .queries
        .get_event_book(Query {
            cover: Some(edition_cover),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        edition
            .pages
            .iter()
            .map(EventPage::sequence)
            .collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(
        book(&mut local, None).await.len(),
        3,
        "the main timeline is untouched"
    );
}

#[tokio::test]
async fn compensation_reaches_the_aggregate_and_health_reports_serving() {
    use angzarr_client::proto::{business_response, Notification, RejectionNotification};
    let mut local = with_player().await;
    three_events(&mut local).await;
    let rejection = RejectionNotification {
        rejected_command: Some(CommandBook {
            cover: Some(Cover::new("table", uuid::Uuid::from_u128(3))),
            pages: vec![CommandPage::new(0, deposit(1))],
        }),
        rejection_reason: "Table is full".into(),
    };
    let notification = Any::pack(&Notification {
        payload: Some(Any::pack(&rejection)),
        ..Default::default()
    });
    let response = local
        .commands
        .handle_compensation(command(3, notification))
        .await
        .unwrap()
        .into_inner();
    let Some(business_response::Result::Revocation(revocation)) = response.result else {
        panic!("the player has no compensation, so it revokes: {response:?}");
    };
    assert!(revocation.emit_system_revocation);
    assert!(
        revocation
            .reason
            .ends_with("of domain table: Table is full"),
        "{}",
        revocation.reason
    );
    assert_eq!(
        book(&mut local, None).await.len(),
        3,
        "a revocation stores nothing"
    );

    let mut health = tonic_health::pb::health_client::HealthClient::new(local.channel.clone());
    for service in [
        "",
        "angzarr.CommandHandlerCoordinatorService",
        "angzarr.EventQueryService",
    ] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    }
}

fn no_op_pages(from: u32, count: u32) -> Vec<EventPage> {
    (from..from + count)
        .map(|sequence| {
            EventPage::new(
                sequence,
                angzarr_client::proto::Any::pack(&angzarr_client::proto::NoOp::default()),
            )
        })
        .collect()
}

fn stored(
    store: &dyn angzarr_local::EventStore,
    key: &angzarr_local::AggregateKey,
    pages: &[EventPage],
) {
    store
        .append(&angzarr_local::store::Append {
            key,
            at: pages[0].sequence().unwrap(),
            pages,
            snapshot: None,
            correlation_id: "",
            fact: None,
            publish: None,
            outcome: None,
        })
        .unwrap();
}

fn player_key() -> angzarr_local::AggregateKey {
    angzarr_local::AggregateKey {
        domain: "player".into(),
        edition: "angzarr".into(),
        root: root(),
    }
}

#[tokio::test]
async fn a_conflict_on_a_long_history_keeps_its_details_under_the_metadata_limit() {
    let store = Arc::new(MemoryStore::new());
    stored(store.as_ref(), &player_key(), &no_op_pages(0, 10_000));
    let mut local = start(
        LocalCoordinator::builder()
            .store(Arc::clone(&store))
            .domain_aggregate(Player),
    )
    .await;
    for (expected, pages) in [(0, 0), (9_990, 10), (12_000, 0)] {
        let mut request = command(expected, deposit(1));
        request.command.as_mut().unwrap().pages[0].merge_strategy =
            MergeStrategy::MergeStrict.into();
        let status = local.commands.handle_command(request).await.unwrap_err();
        assert_eq!(
            status.message(),
            format!("Sequence mismatch: command expects {expected}, aggregate at 10000")
        );
        let details = status.details();
        assert!(
            details.len() <= angzarr_local::coordinator::MAX_CONFLICT_DETAILS,
            "{} bytes of details",
            details.len()
        );
        // What travels: the details base64-encoded, beside the message.
        let on_the_wire = details.len().div_ceil(3) * 4 + status.message().len();
        assert!(on_the_wire < 8192, "{on_the_wire} bytes of metadata");
        let current = EventBook::decode(details).unwrap();
        assert_eq!(current.next_sequence, 10_000);
        assert_eq!(current.cover.unwrap().domain, "player");
        assert_eq!(current.pages.len(), pages, "expected {expected}");
        if pages > 0 {
            assert_eq!(current.pages[0].sequence(), Some(expected));
        }
    }
}

#[tokio::test]
async fn the_end_of_the_sequence_space_is_out_of_range_never_a_wrap() {
    let dir = std::env::temp_dir().join(format!("angzarr-exhausted-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.db");
    let store = angzarr_local::SqliteStore::open(&path).unwrap();
    // A history cannot grow to four billion events in a test: store its
    // last one by hand.
    let connection = rusqlite::Connection::open(&path).unwrap();
    let last = EventPage::new(
        u32::MAX,
        angzarr_client::proto::Any::pack(&angzarr_client::proto::NoOp::default()),
    );
    connection
        .execute(
            "INSERT INTO events (domain, edition, root, sequence, correlation_id, page)
             VALUES ('player', 'angzarr', ?1, ?2, '', ?3)",
            rusqlite::params![
                root().as_bytes().as_slice(),
                i64::from(u32::MAX),
                last.encode_to_vec()
            ],
        )
        .unwrap();
    let mut local = start(
        LocalCoordinator::builder()
            .store(store)
            .domain_aggregate(Player),
    )
    .await;
    let mut request = command(0, deposit(1));
    request.command.as_mut().unwrap().pages[0].merge_strategy =
        MergeStrategy::MergeAggregateHandles.into();
    let status = local.commands.handle_command(request).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains("4294967295"),
        "{}",
        status.message()
    );
    let read = book(&mut local, None).await;
    assert_eq!(read.len(), 1, "the history still reads");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn editions_follow_the_real_coordinators_rules_and_names_are_checked() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let edition = |name: &str| Cover::new("player", root()).with_edition(name);
    // No divergence and no events of its own: the whole main timeline.
    let inherited = local
        .queries
        .get_event_book(Query {
            cover: Some(edition("what-if")),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inherited.pages.len(), 3);
    assert_eq!(inherited.next_sequence, 3);
    let mut request = command(3, deposit(1));
    request.command.as_mut().unwrap().cover = Some(edition("what-if"));
    let stored = local
        .commands
        .handle_command(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.events.unwrap().pages[0].sequence(), Some(3));
    assert_eq!(book(&mut local, None).await.len(), 3, "main is untouched");

    for (name, message) in [
        ("What-If", "edition name must start with lowercase letter"),
        (
            "what if",
            "edition name contains invalid characters (allowed: a-z, 0-9, _, -)",
        ),
    ] {
        let mut request = command(0, deposit(1));
        request.command.as_mut().unwrap().cover = Some(edition(name));
        let status = local.commands.handle_command(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), message);
        let status = local
            .queries
            .get_event_book(Query {
                cover: Some(edition(name)),
                selection: None,
            })
            .await
            .unwrap_err();
        assert_eq!(status.message(), message);
    }
    let long = "e".repeat(65);
    let mut request = command(0, deposit(1));
    request.command.as_mut().unwrap().cover = Some(edition(&long));
    let status = local.commands.handle_command(request).await.unwrap_err();
    assert_eq!(
        status.message(),
        "edition name exceeds maximum length (max: 64, got: 65)"
    );
}

#[tokio::test]
async fn a_sequence_set_beyond_the_limit_is_refused() {
    let mut local = with_player().await;
    three_events(&mut local).await;
    let status = local
        .queries
        .get_event_book(Query {
            cover: Some(Cover::new("player", root())),
            selection: Some(query::Selection::Sequences(SequenceSet {
                values: (0..=angzarr_local::coordinator::MAX_QUERY_SEQUENCES as u32).collect(),
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "sequence set exceeds maximum size (max: 10000, got: 10001)"
    );
}

#[tokio::test]
async fn idle_aggregates_leave_no_lock_behind() {
    let local = LocalCoordinator::builder()
        .domain_aggregate(Player)
        .try_build()
        .unwrap();
    let coordinator = Arc::clone(local.coordinator());
    for n in 0..200u128 {
        let mut request = command(0, register());
        request.command.as_mut().unwrap().cover =
            Some(Cover::new("player", uuid::Uuid::from_u128(n)));
        coordinator.handle_command(request).await.unwrap();
    }
    assert_eq!(coordinator.lock_entries(), 0);
}

/// Dry runs of consumers find theirs by name, or by the only one reading
/// the book's domain; they store and send nothing.
#[tokio::test]
async fn dry_runs_find_their_component_by_name_or_by_the_domain_it_reads() {
    use angzarr_client::proto::{
        ProcessManagerHandleRequest, SagaHandleRequest, SpeculatePmRequest,
        SpeculateProjectorRequest, SpeculateSagaRequest,
    };
    use angzarr_client::{
        Command, ProcessManagerRouter, ProjectorRouter, SagaRouter, SpeculativeClient,
    };

    let projector =
        |name: &str| ProjectorRouter::new(name, ["player"]).on(|event: FundsDeposited| event);
    let saga = SagaRouter::new("refund", "player")
        .target("player")
        .on_with_context(
            |event: FundsDeposited, ctx: &angzarr_client::SagaContext<'_>| {
                Command::new(
                    ctx.root(),
                    DepositFunds {
                        amount: event.amount,
                    },
                )
            },
        );
    let pm = ProcessManagerRouter::new("watch", || ())
        .source("player")
        .target("player")
        .on(|event: FundsDeposited, _: &()| event);
    let local = start(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .projector(projector("ledger"))
            .projector(projector("audit"))
            .saga(saga)
            .process_manager(pm),
    )
    .await;
    let client = SpeculativeClient::from_channel(local.channel.clone());
    let deposited = FundsDeposited {
        amount: Some(chips(5)),
        new_balance: Some(chips(5)),
        deposited_at: None,
    };
    let book = |correlation_id: &str| EventBook {
        cover: Some(Cover::new("player", root()).with_correlation_id(correlation_id)),
        pages: vec![EventPage::new(0, Any::pack(&deposited))],
        ..Default::default()
    };
    let projected = |name: Option<&str>| {
        let client = match name {
            Some(name) => client.for_component(name),
            None => client.clone(),
        };
        let request = SpeculateProjectorRequest {
            events: Some(book("c-1")),
        };
        async move { client.projector(request).await }
    };

    let ambiguous = projected(None).await.unwrap_err();
    assert_eq!(ambiguous.code(), Some(Code::InvalidArgument));
    assert_eq!(
        ambiguous.message(),
        "several projectors read domain `player` (ledger, audit): name one with `x-angzarr-component` metadata"
    );
    let audit = projected(Some("audit")).await.unwrap();
    assert_eq!(audit.projector, "audit");
    assert_eq!(
        audit
            .projection
            .unwrap()
            .unpack::<FundsDeposited>()
            .unwrap(),
        deposited
    );
    let missing = projected(Some("nope")).await.unwrap_err();
    assert_eq!(missing.code(), Some(Code::NotFound));
    assert_eq!(
        missing.message(),
        "no projector called `nope`; this coordinator runs: ledger, audit"
    );

    // The only saga reading the domain; its command is returned, not sent.
    let saga = client
        .saga(SpeculateSagaRequest {
            request: Some(SagaHandleRequest {
                source: Some(book("c-1")),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    assert_eq!(saga.commands.len(), 1);
    let mut queries = local.queries.clone();
    let stored = queries
        .get_event_book(Query {
            cover: Some(Cover::new("player", root())),
            selection: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stored.pages.is_empty(), "nothing was sent: {stored:?}");

    let pm = |correlation_id: &str| SpeculatePmRequest {
        request: Some(ProcessManagerHandleRequest {
            trigger: Some(book(correlation_id)),
            ..Default::default()
        }),
    };
    let decided = client.process_manager(pm("c-1")).await.unwrap();
    assert_eq!(decided.process_events.unwrap().pages.len(), 1);
    let uncorrelated = client.process_manager(pm("")).await.unwrap_err();
    assert_eq!(uncorrelated.code(), Some(Code::InvalidArgument));
    assert!(
        uncorrelated.message().contains("correlation id"),
        "{uncorrelated}"
    );

    // The bus's entry points are the sidecars': angzarr-local says so.
    let mut projectors =
        angzarr_client::proto::projector_coordinator_service_client::ProjectorCoordinatorServiceClient::new(
            local.channel.clone(),
        );
    let refused = projectors.handle(book("c-1")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(refused
        .message()
        .contains("delivers books to its components itself"));

    // A name that cannot be metadata is refused before anything is sent.
    let bad = client
        .for_component("bad\nname")
        .projector(SpeculateProjectorRequest::default())
        .await
        .unwrap_err();
    assert!(bad.is_invalid_argument(), "{bad:?}");
}
