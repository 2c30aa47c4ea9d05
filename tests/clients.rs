//! The clients and builders against angzarr-local over loopback: every
//! method, builder option and error predicate, and the failures a network has.

use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::{
    business_response, page_header, AnyExt, CommandRequest, EventBook, EventPage, EventRequest,
    ExternalDeferredSequence, MergeStrategy, Notification, PageHeader, Query,
    RejectionNotification, SpeculateProjectorRequest, SyncMode,
};
use angzarr_client::{
    ClientError, ConnectOptions, DomainClient, ListenAddress, PointInTime, Target,
};
use angzarr_local::LocalCoordinator;
use examples::player::{chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, PlayerRegistered, PlayerReturningToPlay, RegisterPlayer, SitIn,
    WithdrawFunds,
};
use prost_types::Any;
use tokio::net::TcpListener;

/// A slow aggregate, for deadlines and lost connections.
struct Slow;

/// Told each time the slow aggregate starts deciding: a call is in flight.
static SLOW_STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

#[aggregate(domain = "slow", state = examples::proto::PlayerState)]
impl Slow {
    #[handles(SitIn)]
    async fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        SLOW_STARTED.notify_one();
        tokio::time::sleep(Duration::from_millis(400)).await;
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

async fn local() -> String {
    let coordinator = LocalCoordinator::builder()
        .domain_aggregate(Player)
        .domain_aggregate(Slow)
        .try_build()
        .unwrap();
    let bound = coordinator
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await
        .unwrap();
    let address = bound.local_address().tcp().unwrap();
    tokio::spawn(bound.serve());
    address.to_string()
}

fn register() -> RegisterPlayer {
    RegisterPlayer {
        display_name: "Alice".into(),
        email: "alice@example.com".into(),
        ..Default::default()
    }
}

fn deposit(amount: i64) -> DepositFunds {
    DepositFunds {
        amount: Some(chips(amount)),
    }
}

#[tokio::test]
async fn commands_and_queries_through_the_builders() {
    let client = DomainClient::connect(&local().await).await.unwrap();
    let root = uuid::Uuid::new_v4();
    let registered = client
        .command("player", root)
        .with_command(&register())
        .with_correlation_id("signup-1")
        .with_sync_mode(SyncMode::Simple)
        .execute()
        .await
        .unwrap();
    let events = registered.events.unwrap();
    assert_eq!(events.pages.len(), 1);
    assert_eq!(events.next_sequence, 1);
    assert_eq!(events.correlation_id(), "signup-1");

    for (sequence, amount) in [(1, 10), (2, 20), (3, 30)] {
        client
            .command("player", root)
            .with_command(&deposit(amount))
            .with_sequence(sequence)
            .execute()
            .await
            .unwrap();
    }

    let seqs = |pages: Vec<EventPage>| {
        pages
            .iter()
            .map(|p| p.sequence().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(client.query("player", root).get_pages().await.unwrap()),
        [0, 1, 2, 3]
    );
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .range(1..3)
                .get_pages()
                .await
                .unwrap()
        ),
        [1, 2]
    );
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .range(2..)
                .get_pages()
                .await
                .unwrap()
        ),
        [2, 3]
    );
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .range(..=1)
                .get_pages()
                .await
                .unwrap()
        ),
        [0, 1]
    );
    assert!(client
        .query("player", root)
        .range(0..0)
        .get_pages()
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .sequences([0, 3])
                .get_pages()
                .await
                .unwrap()
        ),
        [0, 3]
    );
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .as_of_sequence(1)
                .get_pages()
                .await
                .unwrap()
        ),
        [0, 1]
    );
    assert_eq!(
        seqs(
            client
                .query("player", root)
                .range(0..1)
                .as_of_sequence(2)
                .get_pages()
                .await
                .unwrap()
        ),
        [0, 1, 2],
        "the last selection wins"
    );
    let now = angzarr_client::proto::time::now();
    assert_eq!(
        client
            .query("player", root)
            .as_of_time(now)
            .get_pages()
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(client
        .query("player", root)
        .as_of_rfc3339("2000-01-01T00:00:00Z")
        .get_pages()
        .await
        .unwrap()
        .is_empty());

    let correlated = client
        .query_domain("player")
        .by_correlation_id("signup-1")
        .get_event_book()
        .await
        .unwrap();
    assert_eq!(correlated.pages.len(), 1);
    let by_root = client
        .query("player", root)
        .by_correlation_id("signup-1")
        .build()
        .unwrap();
    assert!(
        by_root.cover.unwrap().root.is_none(),
        "by_correlation_id clears the root"
    );

    let book = client.query("player", root).get_event_book().await.unwrap();
    let deposits: Vec<i64> = book
        .events_of::<FundsDeposited>()
        .map(|event| event.unwrap().amount.unwrap().amount)
        .collect();
    assert_eq!(deposits, [10, 20, 30]);
    let first: PlayerRegistered = book.pages[0].event_as().unwrap();
    assert_eq!(first.email, "alice@example.com");
    assert!(book.pages[0].event_as::<FundsDeposited>().is_err());

    let mut corrupt = book.clone();
    if let Some(angzarr_client::proto::event_page::Payload::Event(event)) =
        &mut corrupt.pages[1].payload
    {
        event.value = vec![0x0a, 0xff];
    }
    assert!(
        corrupt
            .events_of::<FundsDeposited>()
            .next()
            .unwrap()
            .is_err(),
        "a corrupt payload is an error"
    );

    let mut stream = client.query("player", root).get_events().await.unwrap();
    use tokio_stream::StreamExt;
    assert_eq!(stream.next().await.unwrap().unwrap().pages.len(), 4);
    let collected = client
        .queries()
        .get_events_collected(client.query("player", root).build().unwrap())
        .await
        .unwrap();
    assert_eq!(collected.len(), 1);
    let synced = client
        .queries()
        .synchronize(vec![
            client.query("player", root).sequences([1]).build().unwrap(),
            client.query("player", root).build().unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(
        synced.iter().map(|b| b.pages.len()).collect::<Vec<_>>(),
        [1, 4]
    );
    let roots = client.queries().aggregate_roots().await.unwrap();
    assert!(roots
        .iter()
        .any(|r| r.root.as_ref().and_then(|u| u.to_uuid().ok()) == Some(root)));

    // An edition that has not diverged reads the whole main timeline: a
    // command there must expect the main timeline's next sequence.
    let edition = client
        .command("player", root)
        .with_command(&deposit(1))
        .with_edition("what-if")
        .with_sequence(0)
        .execute()
        .await;
    let refused = edition.expect_err("the edition shows the main timeline's four events");
    assert_eq!(
        refused.code(),
        Some(tonic::Code::FailedPrecondition),
        "{refused:?}"
    );
    assert_eq!(
        refused.message(),
        "Sequence mismatch: command expects 0, aggregate at 4"
    );
    let inherited = client
        .query("player", root)
        .edition("what-if")
        .get_pages()
        .await
        .unwrap();
    assert_eq!(inherited.len(), 4);
    let diverged = client
        .command("player", root)
        .with_command(&deposit(1))
        .with_edition("what-if")
        .with_sequence(4)
        .execute()
        .await
        .expect("the edition takes the command at sequence 4");
    assert_eq!(
        diverged.events.unwrap().pages[0].sequence(),
        Some(4),
        "the edition continues the timeline it copied"
    );
    assert_eq!(
        client
            .query("player", root)
            .edition("what-if")
            .get_pages()
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        client
            .query("player", root)
            .get_pages()
            .await
            .unwrap()
            .len(),
        4,
        "the main timeline is untouched"
    );
}

#[tokio::test]
async fn errors_tell_rejections_from_conflicts() {
    let client = DomainClient::connect(&format!("http://{}", local().await))
        .await
        .unwrap();
    let root = uuid::Uuid::new_v4();
    client
        .command("player", root)
        .with_command(&register())
        .execute()
        .await
        .unwrap();

    let rejected = client
        .command("player", root)
        .with_command(&WithdrawFunds {
            amount: Some(chips(5)),
        })
        .with_sequence(1)
        .execute()
        .await
        .unwrap_err();
    assert!(rejected.is_rejection() && rejected.is_precondition_failed());
    assert!(!rejected.is_sequence_conflict() && !rejected.is_retryable());
    assert_eq!(rejected.message(), "Insufficient funds");
    assert_eq!(rejected.code(), Some(tonic::Code::FailedPrecondition));

    let stale = client
        .command("player", root)
        .with_command(&deposit(5))
        .with_merge_strategy(MergeStrategy::MergeStrict)
        .execute()
        .await
        .unwrap_err();
    assert!(stale.is_sequence_conflict() && stale.is_retryable() && !stale.is_rejection());
    assert_eq!(stale.current_event_book().unwrap().next_sequence, 1);

    let retried = client
        .command("player", root)
        .with_command(&deposit(5))
        .execute_retrying(3, |_| Ok(deposit(5)))
        .await
        .unwrap();
    assert_eq!(retried.events.unwrap().pages[0].sequence(), Some(1));

    let unknown = client
        .command("hand", root)
        .with_command(&deposit(1))
        .execute()
        .await
        .unwrap_err();
    assert!(unknown.is_not_found());

    let invalid = client
        .command("Player", root)
        .with_command(&deposit(1))
        .execute()
        .await
        .unwrap_err();
    assert!(invalid.is_invalid_argument() && invalid.status().is_some());

    let unset = client.command("player", root).build().unwrap_err();
    assert!(unset.is_invalid_argument());
    assert_eq!(unset.message(), "command not set");
    assert!(unset.code().is_none());

    let bad_time = client
        .query("player", root)
        .as_of_rfc3339("yesterday")
        .build()
        .unwrap_err();
    assert!(matches!(bad_time, ClientError::InvalidTimestamp(_)) && bad_time.is_invalid_argument());
}

#[tokio::test]
async fn speculation_facts_and_compensation() {
    let client = DomainClient::connect(&local().await).await.unwrap();
    let root = uuid::Uuid::new_v4();
    client
        .command("player", root)
        .with_command(&register())
        .execute()
        .await
        .unwrap();
    client
        .command("player", root)
        .with_command(&deposit(50))
        .with_sequence(1)
        .execute()
        .await
        .unwrap();

    let dry = client
        .command("player", root)
        .with_command(&deposit(1))
        .with_sequence(1)
        .speculate(PointInTime::AsOfSequence(0))
        .await
        .unwrap();
    let would: FundsDeposited = dry.events.unwrap().pages[0].event_as().unwrap();
    assert_eq!(would.new_balance, Some(chips(1)));
    assert_eq!(
        client
            .query("player", root)
            .get_pages()
            .await
            .unwrap()
            .len(),
        2,
        "nothing stored"
    );

    let direct = client
        .speculative()
        .aggregate(angzarr_client::proto::SpeculateCommandHandlerRequest {
            command: Some(
                client
                    .command("player", root)
                    .with_command(&deposit(2))
                    .build()
                    .unwrap(),
            ),
            point_in_time: Some(angzarr_client::proto::TemporalQuery {
                point_in_time: Some(PointInTime::AsOfSequence(1)),
            }),
        })
        .await
        .unwrap();
    assert_eq!(direct.events.unwrap().pages.len(), 1);
    let projector = client
        .speculative()
        .projector(SpeculateProjectorRequest::default())
        .await
        .unwrap_err();
    // angzarr-local serves projector dry runs; a request without events is
    // refused as such.
    assert_eq!(projector.code(), Some(tonic::Code::InvalidArgument));
    assert_eq!(
        projector.message(),
        "SpeculateProjectorRequest must have events"
    );

    let mut fact = EventPage::new(0, Any::pack(&deposit(3)));
    fact.header = Some(PageHeader {
        sequence_type: Some(page_header::SequenceType::ExternalDeferred(
            ExternalDeferredSequence {
                external_id: "bank-1".into(),
                description: String::new(),
            },
        )),
    });
    let request = EventRequest {
        events: Some(EventBook {
            cover: Some(angzarr_client::proto::Cover::new("player", root)),
            pages: vec![fact],
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = client
        .aggregate()
        .handle_event(request.clone())
        .await
        .unwrap();
    let again = client.aggregate().handle_event(request).await.unwrap();
    assert!(!first.already_processed && again.already_processed);

    let notification = Notification {
        payload: Some(Any::pack(&RejectionNotification {
            rejected_command: Some(
                client
                    .command("table", uuid::Uuid::nil())
                    .with_command(&deposit(1))
                    .build()
                    .unwrap(),
            ),
            rejection_reason: "full".into(),
        })),
        ..Default::default()
    };
    let compensation = client
        .aggregate()
        .handle_compensation(CommandRequest {
            command: Some(
                client
                    .command("player", root)
                    .with_any(Any::pack(&notification))
                    .with_sequence(3)
                    .build()
                    .unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        compensation.result,
        Some(business_response::Result::Revocation(_))
    ));

    let book = client
        .command_new("player")
        .with_command(&register())
        .build()
        .unwrap();
    let handled = client.aggregate().handle(book).await.unwrap();
    assert_eq!(handled.events.unwrap().pages.len(), 1);
}

#[tokio::test]
async fn connection_failures_are_connection_errors() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = DomainClient::connect(&closed.to_string())
        .await
        .unwrap_err();
    assert!(refused.is_connection_error() && refused.is_retryable());
    assert!(
        refused
            .to_string()
            .starts_with(&format!("cannot connect to http://{closed}")),
        "{refused}"
    );
    // Each cause once: "tcp connect error" is not said twice.
    assert_eq!(
        refused.message().matches("tcp connect error").count(),
        1,
        "{}",
        refused.message()
    );

    // The same for a lazy client, whose connection fails during its first call.
    let target = Target::parse(&closed.to_string()).unwrap();
    let lazy = ConnectOptions {
        lazy: true,
        ..Default::default()
    };
    let during = DomainClient::connect_with(&target, &lazy)
        .await
        .unwrap()
        .queries()
        .aggregate_roots()
        .await
        .unwrap_err();
    assert!(during.is_connection_error(), "{during:?}");
    assert_eq!(
        during.message().matches("tcp connect error").count(),
        1,
        "{}",
        during.message()
    );

    let missing = DomainClient::connect("unix:/tmp/angzarr-no-such-dir/ch-player.sock")
        .await
        .unwrap_err();
    assert!(missing.is_connection_error());
    assert!(
        missing.to_string().contains("No such file or directory"),
        "{missing}"
    );

    let invalid = DomainClient::connect("no port here").await.unwrap_err();
    assert!(invalid.is_connection_error());
    assert_eq!(invalid.to_string(), "cannot connect to no port here: expected host:port, http(s)://host:port, unix:/path or a socket path");

    let lazy = DomainClient::connect_with(
        &Target::parse(&closed.to_string()).unwrap(),
        &ConnectOptions {
            lazy: true,
            ..Default::default()
        },
    )
    .await
    .expect("a lazy client connects on first use");
    let failed = lazy
        .command_new("player")
        .with_command(&register())
        .execute()
        .await
        .unwrap_err();
    assert!(failed.is_connection_error(), "{failed:?}");
}

#[tokio::test]
async fn unix_sockets_and_environment_endpoints() {
    let dir = std::env::temp_dir().join(format!("angzarr-clients-{}", std::process::id()));
    let path = dir.join("ch-player.sock");
    let coordinator = LocalCoordinator::builder()
        .domain_aggregate(Player)
        .try_build()
        .unwrap();
    let bound = coordinator
        .bind(ListenAddress::Unix(path.clone()), std::future::pending())
        .await
        .unwrap();
    tokio::spawn(bound.serve());
    let client = DomainClient::connect(&format!("unix:{}", path.display()))
        .await
        .unwrap();
    client
        .command_new("player")
        .with_command(&register())
        .execute()
        .await
        .unwrap();

    // Unset and empty variables mean the default.
    let variable = format!("ANGZARR_TEST_ENDPOINT_{}", std::process::id());
    let from_default = DomainClient::from_env(&variable, &path.display().to_string())
        .await
        .unwrap();
    from_default
        .command_new("player")
        .with_command(&register())
        .execute()
        .await
        .unwrap();
    assert_eq!(
        Target::from_env(&variable, "localhost:1").unwrap(),
        Target::Http("http://localhost:1".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn deadlines_and_lost_connections() {
    let address = local().await;
    let impatient = DomainClient::connect_with(
        &Target::parse(&address).unwrap(),
        &ConnectOptions {
            call_timeout: Some(Duration::from_millis(100)),
            keep_alive: Some(Duration::from_secs(10)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let late = impatient
        .command_new("slow")
        .with_command(&SitIn {
            table_root: vec![1],
        })
        .execute()
        .await
        .unwrap_err();
    assert!(late.is_deadline_exceeded(), "{late:?}");

    // A proxy that dies mid-call stands in for a network failure.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_address = proxy.local_addr().unwrap();
    let upstream = address.clone();
    let forwarding = tokio::spawn(async move {
        let (mut inbound, _) = proxy.accept().await.unwrap();
        let mut outbound = tokio::net::TcpStream::connect(upstream).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    });
    let client = DomainClient::connect(&proxy_address.to_string())
        .await
        .unwrap();
    let call = tokio::spawn(async move {
        client
            .command_new("slow")
            .with_command(&SitIn {
                table_root: vec![2],
            })
            .execute()
            .await
    });
    // Cut the connection once the call has reached the aggregate.
    SLOW_STARTED.notified().await;
    forwarding.abort();
    let lost = call.await.unwrap().unwrap_err();
    assert!(lost.is_connection_error(), "{lost:?}");
}

#[tokio::test]
async fn raw_requests_and_clients_share_one_channel() {
    let client = DomainClient::connect(&local().await).await.unwrap();
    let clone = client.clone();
    let root = uuid::Uuid::new_v4();
    clone
        .command("player", root)
        .with_command(&register())
        .execute()
        .await
        .unwrap();
    let book = client.queries().get_event_book(Query {
        cover: Some(angzarr_client::proto::Cover::new("player", root)),
        selection: None,
    });
    assert_eq!(book.await.unwrap().pages.len(), 1);
}

#[tokio::test]
async fn https_endpoints_trust_the_given_ca() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.pem();
    let bound = angzarr_client::Server::new()
        .aggregate(Player)
        .tls(&certificate, certified.signing_key.serialize_pem())
        .listen(angzarr_client::ListenAddress::Tcp(
            "127.0.0.1:0".parse().unwrap(),
        ))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(std::future::pending())
        .bind()
        .await
        .unwrap();
    let angzarr_client::ListenAddress::Tcp(address) = bound.local_address().clone() else {
        unreachable!()
    };
    tokio::spawn(bound.serve());
    let target = Target::parse(&format!("https://localhost:{}", address.port())).unwrap();
    let trusted = DomainClient::connect_with(
        &target,
        &ConnectOptions {
            ca_certificate: Some(certificate.into_bytes()),
            ..Default::default()
        },
    )
    .await
    .expect("the TLS handshake succeeds with the given CA");
    // The aggregate server is not a coordinator: the call itself is refused,
    // over a working TLS connection.
    let refused = trusted
        .command_new("player")
        .with_command(&register())
        .execute()
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(tonic::Code::Unimplemented),
        "{refused:?}"
    );

    let untrusted = DomainClient::connect_with(&target, &ConnectOptions::default()).await;
    assert!(
        untrusted.is_err_and(|error| error.is_connection_error()),
        "a self-signed certificate is not in the system roots"
    );
}

#[test]
fn an_empty_environment_variable_means_the_default() {
    let variable = format!("ANGZARR_TEST_EMPTY_{}", std::process::id());
    std::env::set_var(&variable, "");
    assert_eq!(
        Target::from_env(&variable, "localhost:7").unwrap(),
        Target::Http("http://localhost:7".into())
    );
    std::env::set_var(&variable, "unix:/run/ch.sock");
    assert_eq!(
        Target::from_env(&variable, "localhost:7").unwrap(),
        Target::Unix("/run/ch.sock".into())
    );
    std::env::remove_var(&variable);
}
