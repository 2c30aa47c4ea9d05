//! angzarr-local delivering published books to sagas, process managers and
//! projectors, in process and over gRPC: ASYNC through the outbox, SIMPLE
//! and CASCADE before the answer, rejections compensated, deferred commands
//! run at most once, upcasters on loaded history.

use std::sync::Arc;

use angzarr_client::proto::{
    page_header, AngzarrDeferredSequence, AnyExt, CascadeErrorMode, CommandBook, CommandPage,
    CommandRequest, Cover, EventPage, PageHeader, Revocation, SyncMode,
};
use angzarr_client::{DomainClient, ListenAddress, Server};
use angzarr_local::{
    Coordinator, DeliveryOptions, LocalCoordinator, LocalCoordinatorBuilder, MemoryStore,
    SqliteStore, Subscription, REVOCATION_DOMAIN,
};
use examples::player::{amount, chips, Player};
use examples::proto::{DepositFunds, RegisterPlayer, WithdrawFunds};

#[path = "support/bank.rs"]
mod bank;
use bank::{
    Audit, AuditFlagged, AuditOpened, OldDeposit, OldDeposits, Overdraw, Recorder, Seen, Welcome,
};

struct System {
    client: DomainClient,
    coordinator: Arc<Coordinator>,
}

fn fast_retries() -> DeliveryOptions {
    DeliveryOptions {
        retry_initial: std::time::Duration::from_millis(5),
        retry_max: std::time::Duration::from_millis(50),
        ..DeliveryOptions::default()
    }
}

async fn start(builder: LocalCoordinatorBuilder) -> System {
    start_with(builder, fast_retries()).await
}

async fn start_with(builder: LocalCoordinatorBuilder, options: DeliveryOptions) -> System {
    let local = builder
        .delivery_options(options)
        .try_build()
        .expect("a valid system");
    let coordinator = Arc::clone(local.coordinator());
    let bound = local
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await
        .expect("angzarr-local binds");
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let client = DomainClient::connect(&address).await.expect("connects");
    System {
        client,
        coordinator,
    }
}

/// [`start`], with the ledger recording what it is given from `domains`.
async fn start_with_ledger(
    builder: LocalCoordinatorBuilder,
    domains: &[&str],
) -> (System, Recorder) {
    let recorder = Recorder::new("ledger");
    let subscriptions = domains.iter().copied().map(Subscription::domain).collect();
    let system =
        start(builder.projector_logic("ledger", Ok(subscriptions), recorder.clone())).await;
    (system, recorder)
}

/// Players and the ledger recording their books, delivered with `options`.
async fn players_with_ledger(options: DeliveryOptions) -> (System, Recorder) {
    let recorder = Recorder::new("ledger");
    let builder = LocalCoordinator::builder()
        .domain_aggregate(Player)
        .projector_logic(
            "ledger",
            Ok(vec![Subscription::domain("player")]),
            recorder.clone(),
        );
    (start_with(builder, options).await, recorder)
}

fn register(name: &str) -> RegisterPlayer {
    RegisterPlayer {
        display_name: name.into(),
        email: format!("{name}@example.com"),
        ..Default::default()
    }
}

fn deposit(n: i64) -> DepositFunds {
    DepositFunds {
        amount: Some(chips(n)),
    }
}

impl System {
    async fn register(
        &self,
        root: uuid::Uuid,
        correlation_id: &str,
        mode: SyncMode,
    ) -> angzarr_client::proto::CommandResponse {
        self.client
            .command("player", root)
            .with_command(&register("p"))
            .with_correlation_id(correlation_id)
            .with_sync_mode(mode)
            .execute()
            .await
            .expect("registered")
    }

    /// Sends `command` to the player `root` at `sequence` in the workflow
    /// `correlation_id`, and expects it stored.
    async fn play(
        &self,
        root: uuid::Uuid,
        sequence: u32,
        correlation_id: &str,
        command: &impl prost::Name,
    ) {
        self.client
            .command("player", root)
            .with_command(command)
            .with_sequence(sequence)
            .with_correlation_id(correlation_id)
            .execute()
            .await
            .expect("the command is stored");
    }

    /// Sends [`deferred_deposit`] through `HandleCommand`, as a saga behind
    /// its own sidecar would.
    async fn deferred(
        &self,
        root: uuid::Uuid,
        source: &Cover,
        source_seq: u32,
    ) -> angzarr_client::proto::CommandResponse {
        self.client
            .aggregate()
            .handle_command(deferred_deposit(root, source, source_seq))
            .await
            .unwrap()
    }

    async fn history(&self, domain: &str, root: uuid::Uuid) -> Vec<EventPage> {
        self.client.query(domain, root).get_pages().await.unwrap()
    }

    async fn settled(&self) {
        tokio::time::timeout(bank::PATIENCE, self.coordinator.settled())
            .await
            .expect("delivery settles")
            .unwrap();
    }
}

fn types(pages: &[EventPage]) -> Vec<String> {
    pages
        .iter()
        .filter_map(|page| page.event())
        .map(|event| {
            event
                .type_name()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn book_count(seen: &[Seen], domain: &str, root: uuid::Uuid) -> usize {
    seen.iter()
        .filter(|s| s.domain == domain && s.root == root)
        .count()
}

#[tokio::test]
async fn async_delivery_reaches_sagas_and_projectors_in_order() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .saga(Welcome),
        &["player"],
    )
    .await;
    let roots: Vec<_> = (0..20).map(|_| uuid::Uuid::new_v4()).collect();
    for root in &roots {
        let answer = system.register(*root, "signup", SyncMode::Async).await;
        assert!(
            answer.projections.is_empty(),
            "ASYNC answers before projecting"
        );
    }
    recorder
        .wait_until("every player's registration and bonus", |seen| {
            roots
                .iter()
                .all(|root| book_count(seen, "player", *root) == 2)
        })
        .await;
    for root in &roots {
        let books = &recorder.by_aggregate()[&("player".to_owned(), *root)];
        assert_eq!(books[0].sequences, [0], "in order per aggregate");
        assert_eq!(books[0].types, ["PlayerRegistered"]);
        assert_eq!(books[1].sequences, [1]);
        assert_eq!(books[1].types, ["FundsDeposited"]);
        assert_eq!(
            books[1].correlation_id, "signup",
            "the saga's command keeps the correlation id"
        );
        assert_eq!(
            types(&system.history("player", *root).await),
            ["PlayerRegistered", "FundsDeposited"]
        );
    }
    system.settled().await;
    assert_eq!(recorder.seen().len(), 40, "each book once");
}

#[tokio::test]
async fn simple_mode_answers_with_the_projections_and_is_not_delivered_again() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder().domain_aggregate(Player),
        &["player"],
    )
    .await;
    let root = uuid::Uuid::new_v4();
    let answer = system.register(root, "simple", SyncMode::Simple).await;
    assert_eq!(answer.projections.len(), 1);
    assert_eq!(answer.projections[0].projector, "ledger");
    assert_eq!(answer.projections[0].sequence, 0);
    assert_eq!(recorder.seen().len(), 1, "projected before the answer");
    system.settled().await;
    assert_eq!(
        recorder.seen().len(),
        1,
        "the outbox leaves a book served synchronously alone"
    );
}

#[tokio::test]
async fn cascade_runs_sagas_depth_first_before_answering_and_delivers_once() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .saga(Welcome),
        &["player"],
    )
    .await;
    let root = uuid::Uuid::new_v4();
    let answer = system.register(root, "cascade", SyncMode::Cascade).await;
    assert!(
        answer.cascade_errors.is_empty(),
        "{:?}",
        answer.cascade_errors
    );
    assert_eq!(
        types(&system.history("player", root).await),
        ["PlayerRegistered", "FundsDeposited"],
        "the saga's command ran before the answer"
    );
    let projected: Vec<u32> = answer.projections.iter().map(|p| p.sequence).collect();
    assert_eq!(
        projected,
        [0, 1],
        "a book reaches the projectors before the saga's command stores the next one"
    );
    system.settled().await;
    let seen: Vec<Vec<u32>> = recorder
        .seen()
        .iter()
        .filter(|seen| seen.root == root)
        .map(|seen| seen.sequences.clone())
        .collect();
    assert_eq!(
        seen,
        [vec![0], vec![1]],
        "once per consumer, and in the aggregate's order"
    );
}

#[tokio::test]
async fn a_rejected_saga_command_is_compensated_and_the_revocation_recorded() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .saga(Overdraw),
        &["player", REVOCATION_DOMAIN],
    )
    .await;
    let root = uuid::Uuid::new_v4();
    system.register(root, "greedy", SyncMode::Async).await;
    let answer = system
        .client
        .command("player", root)
        .with_command(&deposit(13))
        .with_sequence(1)
        .with_correlation_id("greedy")
        .with_sync_mode(SyncMode::Cascade)
        .with_cascade_error_mode(CascadeErrorMode::CascadeErrorContinue)
        .execute()
        .await
        .unwrap();
    assert_eq!(
        answer.cascade_errors.len(),
        1,
        "{:?}",
        answer.cascade_errors
    );
    let error = &answer.cascade_errors[0];
    assert_eq!(
        (
            error.component_name.as_str(),
            error.component_type.as_str(),
            error.source_domain.as_str()
        ),
        ("overdraw", "saga", "player")
    );
    assert_eq!(
        error.error_message,
        "examples.WithdrawFunds to player rejected: Insufficient funds"
    );
    assert_eq!(
        types(&system.history("player", root).await),
        ["PlayerRegistered", "FundsDeposited"],
        "the withdrawal was refused; the player has no compensation handler"
    );
    let revocations = system.history(REVOCATION_DOMAIN, root).await;
    assert_eq!(revocations.len(), 1, "the revocation is recorded");
    let revocation: Revocation = revocations[0].event_as().unwrap();
    assert_eq!(revocation.target.unwrap().domain, "player");
    assert_eq!(revocation.cascade_id, "greedy");
    assert!(
        revocation.reason.contains("WithdrawFunds"),
        "{}",
        revocation.reason
    );
    system.settled().await;
    assert_eq!(book_count(&recorder.seen(), REVOCATION_DOMAIN, root), 1);
}

/// A saga that fails its first calls (the consumer is "down").
struct Flaky {
    failures: std::sync::atomic::AtomicUsize,
}

#[tonic::async_trait]
impl angzarr_local::component::SagaLogic for Flaky {
    async fn handle(
        &self,
        request: angzarr_client::proto::SagaHandleRequest,
    ) -> Result<angzarr_client::proto::SagaResponse, tonic::Status> {
        if self
            .failures
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |left| left.checked_sub(1),
            )
            .is_ok()
        {
            return Err(tonic::Status::unavailable("flaky is down"));
        }
        let _ = request;
        Ok(Default::default())
    }

    fn describe(&self) -> String {
        "flaky saga".into()
    }
}

#[tokio::test]
async fn fail_fast_stops_the_cascade_and_continue_goes_on() {
    // The projector's turn comes first; of the two sagas, the failing one
    // is registered before the one whose bonus only CONTINUE reaches.
    for (mode, projected) in [
        (CascadeErrorMode::CascadeErrorFailFast, vec![0]),
        (CascadeErrorMode::CascadeErrorContinue, vec![0, 1]),
    ] {
        let (system, recorder) = start_with_ledger(
            LocalCoordinator::builder()
                .domain_aggregate(Player)
                .saga_logic("flaky", "player", Flaky { failures: 1.into() })
                .saga(Welcome),
            &["player"],
        )
        .await;
        let root = uuid::Uuid::new_v4();
        let answer = system
            .client
            .command("player", root)
            .with_command(&register("f"))
            .with_sync_mode(SyncMode::Cascade)
            .with_cascade_error_mode(mode)
            .execute()
            .await
            .unwrap();
        assert_eq!(answer.cascade_errors.len(), 1, "{mode:?}");
        assert!(
            answer.cascade_errors[0]
                .error_message
                .contains("flaky is down"),
            "{:?}",
            answer.cascade_errors[0]
        );
        let sequences: Vec<u32> = answer.projections.iter().map(|p| p.sequence).collect();
        assert_eq!(sequences, projected, "{mode:?}");
        // What the cascade did not deliver, the outbox does: the flaky saga
        // once it is back, and under FAIL_FAST the welcome saga, whose
        // bonus then reaches the projector.
        system.settled().await;
        assert_eq!(book_count(&recorder.seen(), "player", root), 2, "{mode:?}");
        assert_eq!(
            types(&system.history("player", root).await),
            ["PlayerRegistered", "FundsDeposited"],
            "{mode:?}: one bonus, whichever path delivered the registration"
        );
    }
}

#[tokio::test]
async fn a_process_manager_keeps_state_per_correlation_and_hears_of_its_rejections() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .process_manager(Audit),
        &["audit"],
    )
    .await;
    let root = uuid::Uuid::new_v4();
    let correlation = "audit-1";
    system.register(root, correlation, SyncMode::Async).await;
    system.play(root, 1, correlation, &deposit(7)).await;
    system.settled().await;
    let workflow = system
        .client
        .query_domain("audit")
        .by_correlation_id(correlation)
        .get_pages()
        .await
        .unwrap();
    // The process manager's own events, then (by correlation) the player's.
    let audit_events: Vec<&EventPage> = workflow
        .iter()
        .filter(|page| {
            page.event()
                .is_some_and(|e| e.type_name().starts_with("audit."))
        })
        .collect();
    assert_eq!(audit_events.len(), 3, "{:?}", types(&workflow));
    let opened: AuditOpened = audit_events[0].event_as().unwrap();
    assert_eq!(opened.player_root, root.as_bytes().to_vec());
    let flagged: AuditFlagged = audit_events[1].event_as().unwrap();
    assert_eq!(flagged.reason, "lucky seven");
    assert_eq!(
        flagged.player_next_sequence, 2,
        "Prepare made the coordinator fetch the player's sequence"
    );
    let refused: AuditFlagged = audit_events[2].event_as().unwrap();
    assert_eq!(refused.reason, "refused: Insufficient funds");
    assert_eq!(
        audit_events
            .iter()
            .map(|p| p.sequence().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    // Then the aggregate whose book triggered it is told: no handler, so a
    // revocation is recorded.
    assert_eq!(system.history(REVOCATION_DOMAIN, root).await.len(), 1);
    let books = recorder.seen();
    assert!(books
        .iter()
        .all(|b| b.domain == "audit" && b.correlation_id == correlation));
    assert_eq!(
        books
            .iter()
            .flat_map(|b| b.sequences.clone())
            .collect::<Vec<_>>(),
        [0, 1, 2],
        "the process manager's books are published too"
    );
    // Another correlation id is another workflow.
    let other = uuid::Uuid::new_v4();
    system.register(other, "audit-2", SyncMode::Async).await;
    system.settled().await;
    let second = system
        .client
        .query_domain("audit")
        .by_correlation_id("audit-2")
        .get_pages()
        .await
        .unwrap();
    assert_eq!(types(&second), ["PlayerRegistered", "AuditOpened"]);
}

/// An empty directory of this test run's own.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("angzarr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A count from the SQLite file at `db`, read beside the running system.
fn count(db: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// The player on a SQLite file.
async fn players_on(db: &std::path::Path) -> System {
    start(
        LocalCoordinator::builder()
            .store(SqliteStore::open(db).unwrap())
            .domain_aggregate(Player),
    )
    .await
}

fn deferred_deposit(target: uuid::Uuid, source: &Cover, source_seq: u32) -> CommandRequest {
    let mut page = CommandPage::new(0, angzarr_client::proto::Any::pack(&deposit(5)));
    page.header = Some(PageHeader {
        sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
            AngzarrDeferredSequence {
                source: Some(source.clone()),
                source_seq,
            },
        )),
    });
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover::new("player", target)),
            pages: vec![page],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_deferred_command_runs_at_most_once_even_after_a_restart() {
    let dir = fresh_dir("dedup");
    let db = dir.join("events.db");
    let root = uuid::Uuid::new_v4();
    let source = Cover::new("table", uuid::Uuid::new_v4());
    let first = {
        let system = players_on(&db).await;
        system.register(root, "dedup", SyncMode::Async).await;
        let first = system.deferred(root, &source, 4).await;
        assert_eq!(
            first.events.as_ref().unwrap().pages[0].sequence(),
            Some(1),
            "stamped by the target"
        );
        let again = system.deferred(root, &source, 4).await;
        assert_eq!(
            again.events, first.events,
            "a repeat answers the first outcome"
        );
        first
    };
    let system = players_on(&db).await;
    let after_restart = system.deferred(root, &source, 4).await;
    assert_eq!(after_restart.events, first.events);
    let next = system.deferred(root, &source, 5).await;
    assert_eq!(
        next.events.unwrap().pages[0].sequence(),
        Some(2),
        "another source sequence is another command"
    );
    assert_eq!(
        types(&system.history("player", root).await),
        ["PlayerRegistered", "FundsDeposited", "FundsDeposited"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed protocol carries no command index, so two commands one source
/// page sends to one aggregate differ only in what they say: each runs,
/// and so does the same command to another edition of that aggregate.
#[tokio::test]
async fn different_deferred_commands_from_one_source_page_each_run() {
    let system = start(LocalCoordinator::builder().domain_aggregate(Player)).await;
    let root = uuid::Uuid::new_v4();
    let source = Cover::new("table", uuid::Uuid::new_v4());
    system.register(root, "fan-out", SyncMode::Async).await;
    let aggregate = system.client.aggregate();
    let mut seven = deferred_deposit(root, &source, 4);
    seven.command.as_mut().unwrap().pages[0].payload =
        Some(angzarr_client::proto::command_page::Payload::Command(
            angzarr_client::proto::Any::pack(&deposit(7)),
        ));
    let mut on_edition = deferred_deposit(root, &source, 4);
    on_edition.command.as_mut().unwrap().cover =
        Some(Cover::new("player", root).with_edition("what-if"));
    let five = aggregate
        .handle_command(deferred_deposit(root, &source, 4))
        .await
        .unwrap();
    let seven = aggregate.handle_command(seven).await.unwrap();
    let sequence = |response: &angzarr_client::proto::CommandResponse| {
        response.events.as_ref().unwrap().pages[0].sequence()
    };
    assert_eq!(
        (sequence(&five), sequence(&seven)),
        (Some(1), Some(2)),
        "both deposits ran"
    );
    let edition = aggregate.handle_command(on_edition).await.unwrap();
    assert_eq!(
        edition
            .events
            .as_ref()
            .unwrap()
            .cover
            .as_ref()
            .unwrap()
            .edition
            .as_ref()
            .map(|e| e.name.as_str()),
        Some("what-if")
    );
    // A redelivery of either is still answered with its first outcome.
    let again = aggregate
        .handle_command(deferred_deposit(root, &source, 4))
        .await
        .unwrap();
    assert_eq!(again.events, five.events);
    assert_eq!(
        types(&system.history("player", root).await),
        ["PlayerRegistered", "FundsDeposited", "FundsDeposited"]
    );
}

/// A compensation redelivered is answered with its first outcome and
/// records its revocation once.
#[tokio::test]
async fn a_repeated_compensation_records_one_revocation() {
    use angzarr_client::proto::{business_response, Notification, RejectionNotification};
    let system = start(LocalCoordinator::builder().domain_aggregate(Player)).await;
    let root = uuid::Uuid::new_v4();
    system.register(root, "revoked", SyncMode::Async).await;
    let source = Cover::new("table", uuid::Uuid::new_v4());
    let compensation = || {
        let mut request = deferred_deposit(root, &source, 9);
        let notification = Notification {
            payload: Some(angzarr_client::proto::Any::pack(&RejectionNotification {
                rejected_command: Some(CommandBook {
                    cover: Some(source.clone()),
                    pages: vec![CommandPage::new(
                        0,
                        angzarr_client::proto::Any::pack(&deposit(1)),
                    )],
                }),
                rejection_reason: "Table is full".into(),
            })),
            ..Default::default()
        };
        request.command.as_mut().unwrap().pages[0].payload =
            Some(angzarr_client::proto::command_page::Payload::Command(
                angzarr_client::proto::Any::pack(&notification),
            ));
        request
    };
    let aggregate = system.client.aggregate();
    let first = aggregate.handle_compensation(compensation()).await.unwrap();
    assert!(
        matches!(&first.result, Some(business_response::Result::Revocation(r)) if r.emit_system_revocation),
        "{first:?}"
    );
    let again = aggregate.handle_compensation(compensation()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(system.history(REVOCATION_DOMAIN, root).await.len(), 1);
}

#[tokio::test]
async fn components_over_grpc_get_what_was_published_while_they_were_down() {
    let dir = fresh_dir("down");
    let projector_socket = dir.join("projector-ledger.sock");
    let saga_socket = dir.join("saga-welcome.sock");
    // One failed attempt would make a dead letter: calls that reach nothing
    // are not attempts.
    let system = start_with(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .saga_endpoint(
                "welcome",
                "player",
                &format!("unix:{}", saga_socket.display()),
            )
            .unwrap()
            .projector_endpoint(
                "ledger",
                &[Subscription::domain("player")],
                &format!("unix:{}", projector_socket.display()),
            )
            .unwrap(),
        DeliveryOptions {
            max_attempts: 1,
            ..fast_retries()
        },
    )
    .await;
    let roots: Vec<_> = (0..5).map(|_| uuid::Uuid::new_v4()).collect();
    for root in &roots {
        system.register(*root, "down", SyncMode::Async).await;
    }
    // Nothing listens yet: the outbox keeps retrying. Now the components
    // come up, over Unix sockets.
    let recorder = Recorder::new("ledger");
    let components = Server::new()
        .saga(Welcome)
        .listen_component("welcome", ListenAddress::Unix(saga_socket.clone()))
        .service(recorder.clone().into_server())
        .listen(ListenAddress::Unix(projector_socket.clone()))
        .bind()
        .await;
    let components = match components {
        Ok(bound) => bound,
        Err(error) => panic!("{error}"),
    };
    tokio::spawn(components.serve());
    recorder
        .wait_until("every registration and bonus", |seen| {
            roots
                .iter()
                .all(|root| book_count(seen, "player", *root) == 2)
        })
        .await;
    for root in &roots {
        let books = &recorder.by_aggregate()[&("player".to_owned(), *root)];
        assert_eq!(books[0].sequences, [0]);
        assert_eq!(books[1].sequences, [1], "in order, none skipped");
    }
    system.settled().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_upcaster_runs_on_history_loaded_for_commands() {
    let root = uuid::Uuid::new_v4();
    let store = MemoryStore::new();
    bank::store_pages(&store, root, &bank::old_history(50));
    let without = start(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .store(store),
    )
    .await;
    // The player does not know the old event: its bankroll is 0.
    let refused = without
        .client
        .command("player", root)
        .with_command(&WithdrawFunds {
            amount: Some(chips(30)),
        })
        .with_sequence(2)
        .execute()
        .await
        .unwrap_err();
    assert_eq!(refused.message(), "Insufficient funds");
    let _ = without;

    let store = MemoryStore::new();
    bank::store_pages(&store, root, &bank::old_history(50));
    let with = start(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .upcaster_logic("player", OldDeposits)
            .store(store),
    )
    .await;
    let withdrawn = with
        .client
        .command("player", root)
        .with_command(&WithdrawFunds {
            amount: Some(chips(30)),
        })
        .with_sequence(2)
        .execute()
        .await
        .expect("the upcast deposit pays for it");
    let event: examples::proto::FundsWithdrawn =
        withdrawn.events.unwrap().pages[0].event_as().unwrap();
    assert_eq!(amount(event.new_balance.as_ref()), 20);
    // Queries read what is stored, not upcast.
    let stored = with.history("player", root).await;
    assert!(stored[1].event().unwrap().is::<OldDeposit>());
}

/// An aggregate that never answers `SitIn` for a table root of `never`.
struct Stuck;

#[angzarr_client::aggregate(domain = "stuck", state = examples::proto::PlayerState)]
impl Stuck {
    #[handles(examples::proto::SitIn)]
    async fn sit_in(&self, cmd: examples::proto::SitIn) -> examples::proto::PlayerReturningToPlay {
        if cmd.table_root == b"never" {
            std::future::pending::<()>().await;
        }
        examples::proto::PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

/// A component that hangs holds its aggregate only until the call's
/// deadline: the command is answered DEADLINE_EXCEEDED naming it, and the
/// next command to the same aggregate runs.
#[tokio::test]
async fn a_hung_component_fails_its_call_at_the_deadline_and_lets_go() {
    let bound = Server::new()
        .aggregate(Stuck)
        .listen(ListenAddress::loopback(0))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(std::future::pending())
        .bind()
        .await
        .unwrap();
    let endpoint = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let system = start(
        LocalCoordinator::builder()
            .call_timeout(std::time::Duration::from_millis(200))
            .domain_endpoint("stuck", &endpoint)
            .unwrap(),
    )
    .await;
    let root = uuid::Uuid::new_v4();
    let sit_in = |table: &[u8]| examples::proto::SitIn {
        table_root: table.to_vec(),
    };
    let hung = tokio::time::timeout(
        bank::PATIENCE,
        system
            .client
            .command("stuck", root)
            .with_command(&sit_in(b"never"))
            .execute(),
    )
    .await
    .expect("the call ends at its deadline")
    .unwrap_err();
    assert!(hung.is_deadline_exceeded(), "{hung:?}");
    assert!(
        hung.message()
            .contains("did not answer Handle within 200ms"),
        "{hung:?}"
    );
    assert!(hung.message().contains(&endpoint), "{hung:?}");
    system
        .client
        .command("stuck", root)
        .with_command(&sit_in(b"now"))
        .execute()
        .await
        .expect("the aggregate is free again");
    let refused = LocalCoordinator::builder()
        .call_timeout(std::time::Duration::ZERO)
        .try_build()
        .err()
        .expect("a deadline of 0 is refused");
    assert_eq!(
        refused.to_string(),
        "call_timeout: a deadline of 0 would fail every call; give one above 0"
    );
}

/// A process manager that decides nothing for a book (no events, commands
/// or facts) leaves nothing behind: a redelivery decides nothing again, so
/// there is nothing to remember.
#[tokio::test]
async fn a_process_manager_deciding_nothing_stores_no_decision() {
    let dir = fresh_dir("idle-pm");
    let db = dir.join("events.db");
    let system = start(
        LocalCoordinator::builder()
            .store(SqliteStore::open(&db).unwrap())
            .domain_aggregate(Player)
            .process_manager(Audit),
    )
    .await;
    let decisions = || {
        count(
            &db,
            "SELECT COUNT(*) FROM outcomes WHERE key LIKE '%:decision'",
        )
    };
    let root = uuid::Uuid::new_v4();
    let correlation = "idle-1";
    system.register(root, correlation, SyncMode::Async).await;
    system.settled().await;
    assert_eq!(decisions(), 1, "the registration opened the audit");
    system.play(root, 1, correlation, &deposit(8)).await;
    system.settled().await;
    // Only a deposit of 7 makes the audit act.
    assert_eq!(decisions(), 1, "a deposit of 8 is decided on, to nothing");
    // The audit has no handler for a withdrawal at all.
    system
        .play(
            root,
            2,
            correlation,
            &WithdrawFunds {
                amount: Some(chips(5)),
            },
        )
        .await;
    system.settled().await;
    assert_eq!(decisions(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outcomes are kept for `outcome_retention` (7 days by default): within
/// it a repeat is answered with the first outcome (see the restart test
/// above); past it the outcome is forgotten when delivery starts, and the
/// same command runs again.
#[tokio::test]
async fn outcomes_past_their_retention_are_forgotten() {
    let dir = fresh_dir("retention");
    let db = dir.join("events.db");
    let root = uuid::Uuid::new_v4();
    let source = Cover::new("table", uuid::Uuid::new_v4());
    let outcomes = || count(&db, "SELECT COUNT(*) FROM outcomes");
    {
        let system = players_on(&db).await;
        system.register(root, "kept", SyncMode::Async).await;
        let first = system.deferred(root, &source, 4).await;
        assert_eq!(first.events.unwrap().pages[0].sequence(), Some(1));
    }
    assert_eq!(outcomes(), 1);
    let local = LocalCoordinator::builder()
        .store(SqliteStore::open(&db).unwrap())
        .domain_aggregate(Player)
        .delivery_options(DeliveryOptions {
            outcome_retention: std::time::Duration::ZERO,
            ..fast_retries()
        })
        .try_build()
        .unwrap();
    let bound = local
        .bind(ListenAddress::loopback(0), std::future::pending())
        .await
        .unwrap();
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    let forgotten = async {
        while outcomes() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(bank::PATIENCE, forgotten)
        .await
        .expect("delivery's start forgets the old outcome");
    let client = DomainClient::connect(&address).await.unwrap();
    let again = client
        .aggregate()
        .handle_command(deferred_deposit(root, &source, 4))
        .await
        .unwrap();
    assert_eq!(
        again.events.unwrap().pages[0].sequence(),
        Some(2),
        "with its outcome forgotten, the command ran again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_book_a_consumer_keeps_failing_is_set_aside_and_the_consumer_moves_on() {
    let (system, recorder) = players_with_ledger(DeliveryOptions {
        max_attempts: 3,
        ..fast_retries()
    })
    .await;
    let (refused, next, discarded) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    recorder.fail_next(3);
    system.register(refused, "poison", SyncMode::Async).await;
    system.register(next, "poison", SyncMode::Async).await;

    let letters = match system.coordinator.settled().await {
        Err(angzarr_local::SettleError::DeadLetters(letters)) => letters,
        other => panic!("expected dead letters, got {other:?}"),
    };
    assert_eq!(letters.len(), 1, "{letters:#?}");
    let letter = &letters[0];
    assert_eq!(letter.consumer, "projector:ledger");
    assert_eq!(letter.domain, "player");
    assert_eq!(letter.attempts, 3);
    assert_eq!(letter.code(), tonic::Code::Unavailable);
    assert_eq!(letter.message, "the recorder is down for now");
    assert_eq!(letter.book.root_uuid().ok(), Some(refused));
    assert_eq!(recorder.calls(), 4, "three attempts, then the next book");
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].root, next, "the consumer moved on to the next book");
    let unsettled = system.coordinator.settled().await.unwrap_err().to_string();
    assert!(
        unsettled.starts_with("delivery settled with 1 dead letter(s); #")
            && unsettled.contains("projector:ledger failed player entry")
            && unsettled.ends_with("3 time(s): Unavailable: the recorder is down for now"),
        "{unsettled}"
    );

    // Replayed: delivered to that consumer alone, after what it saw since.
    let entry = system
        .coordinator
        .replay_dead_letter(letter.id)
        .await
        .unwrap()
        .expect("the dead letter is there");
    assert!(entry > letter.entry);
    system.settled().await;
    let seen = recorder.seen();
    assert_eq!(
        seen.iter().map(|s| s.root).collect::<Vec<_>>(),
        [next, refused]
    );
    assert_eq!(
        system
            .coordinator
            .replay_dead_letter(letter.id)
            .await
            .unwrap(),
        None
    );

    // Discarded: gone, never delivered.
    recorder.fail_next(3);
    system.register(discarded, "poison", SyncMode::Async).await;
    let letters = match system.coordinator.settled().await {
        Err(angzarr_local::SettleError::DeadLetters(letters)) => letters,
        other => panic!("expected dead letters, got {other:?}"),
    };
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].book.root_uuid().ok(), Some(discarded));
    let removed = system
        .coordinator
        .discard_dead_letter(letters[0].id)
        .await
        .unwrap()
        .expect("the dead letter is there");
    assert_eq!(removed.id, letters[0].id);
    system.settled().await;
    assert!(system.coordinator.dead_letters().await.unwrap().is_empty());
    assert!(recorder.seen().iter().all(|s| s.root != discarded));

    let refused = LocalCoordinator::builder()
        .max_attempts(0)
        .try_build()
        .err()
        .expect("0 attempts are refused");
    assert_eq!(
        refused.to_string(),
        "max_attempts: 0 attempts would deliver nothing; give 1 or more"
    );
}

/// A saga whose commands go to a domain nobody registered.
struct Stray;

#[angzarr_client::saga(name = "stray", source = "player", target = "bank")]
impl Stray {
    #[handles(examples::proto::PlayerRegistered)]
    fn open(
        &self,
        _: &examples::proto::PlayerRegistered,
        ctx: &angzarr_client::SagaContext,
    ) -> angzarr_client::Command<DepositFunds> {
        angzarr_client::Command::new(ctx.root(), deposit(1))
    }
}

/// A command to a domain angzarr-local does not serve was never the
/// business's to refuse: it is retried, and becomes a dead letter of the
/// saga's book, with nothing compensated or revoked.
#[tokio::test]
async fn a_saga_command_to_an_unregistered_domain_is_retried_not_compensated() {
    let (system, recorder) = start_with_ledger(
        LocalCoordinator::builder()
            .domain_aggregate(Player)
            .saga(Stray),
        &["player", REVOCATION_DOMAIN],
    )
    .await;
    let root = uuid::Uuid::new_v4();
    system.register(root, "stray", SyncMode::Async).await;
    let letters = match system.coordinator.settled().await {
        Err(angzarr_local::SettleError::DeadLetters(letters)) => letters,
        other => panic!("expected the saga's book in the dead letters, got {other:?}"),
    };
    assert_eq!(letters.len(), 1, "{letters:#?}");
    assert_eq!(letters[0].consumer, "saga:stray");
    assert_eq!(letters[0].code(), tonic::Code::NotFound);
    assert!(
        letters[0].message.starts_with("domain `bank` not found"),
        "{}",
        letters[0].message
    );
    assert_eq!(letters[0].attempts, fast_retries().max_attempts);
    assert!(
        system.history(REVOCATION_DOMAIN, root).await.is_empty(),
        "nothing revoked"
    );
    assert_eq!(
        types(&system.history("player", root).await),
        ["PlayerRegistered"]
    );
    assert!(
        recorder.seen().iter().all(|seen| seen.domain == "player"),
        "{:#?}",
        recorder.seen()
    );
}

/// The client's and delivery's one meaning of "rejection": a business
/// refusal is one; angzarr-local's own checks of a request are not, and say
/// which check with a code.
#[tokio::test]
async fn the_coordinators_own_refusals_are_coded_and_are_not_rejections() {
    let system = start(LocalCoordinator::builder().domain_aggregate(Player)).await;
    let root = uuid::Uuid::new_v4();
    let unknown = system
        .client
        .command("bank", root)
        .with_command(&deposit(1))
        .execute()
        .await
        .unwrap_err();
    assert!(unknown.is_not_found(), "{unknown}");
    assert_eq!(unknown.error_code().as_deref(), Some("UNKNOWN_DOMAIN"));
    assert!(!unknown.is_rejection());
    let malformed = system
        .client
        .command("Bank", root)
        .with_command(&deposit(1))
        .execute()
        .await
        .unwrap_err();
    assert!(malformed.is_invalid_argument(), "{malformed}");
    assert_eq!(
        malformed.message(),
        "domain name must start with lowercase letter"
    );
    assert_eq!(malformed.error_code().as_deref(), Some("INVALID_DOMAIN"));
    assert!(!malformed.is_rejection());

    system.register(root, "coded", SyncMode::Async).await;
    let refused = system
        .client
        .command("player", root)
        .with_command(&WithdrawFunds {
            amount: Some(chips(bank::TOO_MUCH)),
        })
        .with_sequence(1)
        .execute()
        .await
        .unwrap_err();
    assert!(refused.is_rejection(), "{refused}");
    assert_eq!(refused.message(), "Insufficient funds");
    assert_eq!(
        refused.error_code(),
        None,
        "the example gives no code of its own"
    );
    let unhandled = system
        .client
        .command("player", root)
        .with_command(&AuditOpened::default())
        .with_sequence(1)
        .execute()
        .await
        .unwrap_err();
    assert_eq!(
        unhandled.error_code().as_deref(),
        Some("NO_HANDLER_REGISTERED"),
        "{unhandled}"
    );
    assert!(!unhandled.is_rejection());
}

/// A SIMPLE command's book does not overtake an earlier book of the same
/// aggregate still queued for the projector: it waits for the outbox to
/// deliver that one, then is projected before the answer, in order.
#[tokio::test]
async fn a_synchronous_book_waits_behind_an_earlier_one_still_queued() {
    let (system, recorder) = players_with_ledger(DeliveryOptions {
        retry_initial: std::time::Duration::from_millis(200),
        ..fast_retries()
    })
    .await;
    let root = uuid::Uuid::new_v4();
    recorder.fail_next(1);
    system.register(root, "queued", SyncMode::Async).await;
    // The registration's first delivery failed: it waits for its retry.
    recorder.wait_for_calls(1).await;
    let answer = system
        .client
        .command("player", root)
        .with_command(&deposit(5))
        .with_sequence(1)
        .with_sync_mode(SyncMode::Simple)
        .execute()
        .await
        .unwrap();
    assert_eq!(answer.projections.len(), 1, "{:?}", answer.projections);
    assert_eq!(answer.projections[0].sequence, 1);
    let seen = recorder
        .wait_until("both books", |seen| book_count(seen, "player", root) == 2)
        .await;
    let sequences: Vec<_> = seen.iter().map(|s| s.sequences.clone()).collect();
    assert_eq!(sequences, [vec![0], vec![1]], "in order");
    system.settled().await;
}

/// Under COMPENSATE a consumer's failure is compensated at the book's
/// aggregate and the outbox does not retry it: the book is then a dead
/// letter of that consumer, accounted for and replayable, not lost.
#[tokio::test]
async fn a_compensated_failure_is_a_dead_letter_of_its_consumer() {
    let (system, recorder) = players_with_ledger(fast_retries()).await;
    let root = uuid::Uuid::new_v4();
    recorder.fail_next(1);
    let answer = system
        .client
        .command("player", root)
        .with_command(&register("compensated"))
        .with_sync_mode(SyncMode::Cascade)
        .with_cascade_error_mode(CascadeErrorMode::CascadeErrorCompensate)
        .execute()
        .await
        .unwrap();
    assert_eq!(answer.cascade_errors.len(), 1, "{answer:?}");
    let letters = match system.coordinator.settled().await {
        Err(angzarr_local::SettleError::DeadLetters(letters)) => letters,
        other => panic!("expected the compensated book as a dead letter, got {other:?}"),
    };
    assert_eq!(letters.len(), 1, "{letters:#?}");
    let letter = &letters[0];
    assert_eq!(letter.consumer, "projector:ledger");
    assert_eq!(letter.book.root_uuid().ok(), Some(root));
    assert_eq!(letter.attempts, 1);
    assert_eq!(letter.message, "the recorder is down for now");
    assert_eq!(book_count(&recorder.seen(), "player", root), 0);
    assert_eq!(
        system.history(REVOCATION_DOMAIN, root).await.len(),
        1,
        "the failure was compensated"
    );

    system
        .coordinator
        .replay_dead_letter(letter.id)
        .await
        .unwrap()
        .expect("the dead letter is there");
    system.settled().await;
    assert_eq!(book_count(&recorder.seen(), "player", root), 1);
}
