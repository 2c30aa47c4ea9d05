//! What application code does with the clients, end to end: transport
//! failures retried by policy (and business answers never), conflicts
//! decided again on fresh history, facts, cheap next sequences, and the two
//! test doubles (the recording fake and angzarr-local in process).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use angzarr_client::aggregate::runtime::rebuild;
use angzarr_client::proto::{query, MergeStrategy, NoOp};
use angzarr_client::testing::FakeCoordinator;
use angzarr_client::{
    ClientError, ConnectOptions, DomainClient, ListenAddress, Rejection, RetryPolicy, Server,
    Target,
};
use angzarr_local::LocalCoordinator;
use examples::player::{amount, chips, Player};
use examples::proto::{DepositFunds, FundsDeposited, RegisterPlayer, WithdrawFunds};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tonic::Status;

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .with_max_attempts(4)
}

fn register() -> RegisterPlayer {
    RegisterPlayer {
        display_name: "Alice".into(),
        email: "alice@example.com".into(),
        ..Default::default()
    }
}

fn deposit(value: i64) -> DepositFunds {
    DepositFunds {
        amount: Some(chips(value)),
    }
}

/// angzarr-local in process, with one registered player.
async fn registered() -> (DomainClient, uuid::Uuid) {
    let client = LocalCoordinator::builder()
        .domain_aggregate(Player)
        .build()
        .client();
    let root = uuid::Uuid::new_v4();
    client
        .command("player", root)
        .with_command(&register())
        .execute()
        .await
        .unwrap();
    (client, root)
}

/// Serves `fake` on a loopback port; the address.
async fn serve_fake(fake: &FakeCoordinator) -> String {
    use angzarr_client::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
    use angzarr_client::proto::event_query_service_server::EventQueryServiceServer;
    let bound = Server::new()
        .service(CommandHandlerCoordinatorServiceServer::new(fake.clone()))
        .service(EventQueryServiceServer::new(fake.clone()))
        .listen(ListenAddress::Tcp("127.0.0.1:0".parse().unwrap()))
        .shutdown_drain(Duration::ZERO)
        .shutdown_signal(std::future::pending())
        .bind()
        .await
        .unwrap();
    let address = bound.local_address().to_string();
    tokio::spawn(bound.serve());
    address
}

/// A deposit after the registration, which the scripted answer refuses.
async fn deposit_again(client: &DomainClient, root: uuid::Uuid) -> ClientError {
    client
        .command("player", root)
        .with_sequence(1)
        .with_command(&deposit(5))
        .execute()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn unavailable_is_retried_by_the_policy_and_a_rejection_never() {
    let fake = FakeCoordinator::new();
    let client = DomainClient::connect(&serve_fake(&fake).await)
        .await
        .unwrap();
    let root = uuid::Uuid::new_v4();

    fake.reply_status(Status::unavailable("the sidecar is restarting"))
        .reply_status(Status::unavailable("the sidecar is restarting"));
    let stored = client
        .command("player", root)
        .with_command(&register())
        .with_retry(quick())
        .execute()
        .await;
    assert!(stored.is_ok(), "{stored:?}");
    assert_eq!(fake.commands().len(), 3, "two refusals, then the command");

    // Without a policy nothing is retried: the default.
    fake.reply_status(Status::unavailable("down"));
    let failed = deposit_again(&client, root).await;
    assert!(failed.is_connection_error());
    assert_eq!(fake.commands().len(), 4);

    // A business rejection is an answer, whatever the policy.
    let retrying = client.clone().with_retry(quick());
    fake.reply_rejection(Rejection::precondition("Insufficient funds"));
    let refused = deposit_again(&retrying, root).await;
    assert!(refused.is_rejection());
    assert_eq!(fake.commands().len(), 5);

    // Attempts are bounded.
    for _ in 0..10 {
        fake.reply_status(Status::unavailable("down"));
    }
    let gave_up = deposit_again(&retrying, root).await;
    assert!(gave_up.is_connection_error());
    assert_eq!(fake.commands().len(), 9, "four attempts in all");
}

/// A server whose first `dropped` connections are closed as soon as they
/// are accepted, as a restarting sidecar's are; the address and the count
/// of connections accepted.
async fn flaky(fake: &FakeCoordinator, dropped: usize) -> (String, Arc<AtomicUsize>) {
    use angzarr_client::proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
    use angzarr_client::proto::event_query_service_server::EventQueryServiceServer;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    let incoming = TcpListenerStream::new(listener).filter(move |connection| {
        let seen = counted.fetch_add(1, Ordering::SeqCst);
        !(connection.is_ok() && seen < dropped)
    });
    let routes =
        tonic::service::Routes::new(CommandHandlerCoordinatorServiceServer::new(fake.clone()))
            .add_service(EventQueryServiceServer::new(fake.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(incoming),
    );
    (address, accepted)
}

#[tokio::test]
async fn connecting_is_retried_when_the_connection_is_refused_or_dropped() {
    let fake = FakeCoordinator::new();
    let (address, accepted) = flaky(&fake, 2).await;
    let options = ConnectOptions {
        retry: quick(),
        ..ConnectOptions::default()
    };
    let client = DomainClient::connect_with(&Target::parse(&address).unwrap(), &options)
        .await
        .expect("connected on a later attempt");
    client
        .command("player", uuid::Uuid::new_v4())
        .with_command(&register())
        .execute()
        .await
        .unwrap();
    assert!(
        accepted.load(Ordering::SeqCst) >= 3,
        "two dropped, then one kept"
    );
    assert_eq!(fake.commands().len(), 1);

    // A closed port, retried until the attempts run out.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let refused = DomainClient::connect_with(&Target::parse(&closed).unwrap(), &options)
        .await
        .unwrap_err();
    assert!(refused.is_connection_error(), "{refused}");
}

#[tokio::test]
async fn a_broken_call_is_repeated_only_where_repeating_is_safe() {
    let lazy = ConnectOptions {
        lazy: true,
        retry: quick(),
        ..ConnectOptions::default()
    };
    for (strategy, repeated) in [
        (MergeStrategy::MergeCommutative, true),
        (MergeStrategy::MergeStrict, true),
        // A command that skips the sequence check could run twice.
        (MergeStrategy::MergeAggregateHandles, false),
    ] {
        let fake = FakeCoordinator::new();
        let (address, _) = flaky(&fake, 1).await;
        let client = DomainClient::connect_with(&Target::parse(&address).unwrap(), &lazy)
            .await
            .unwrap();
        let outcome = client
            .command("player", uuid::Uuid::new_v4())
            .with_command(&register())
            .with_merge_strategy(strategy)
            .execute()
            .await;
        if repeated {
            assert!(outcome.is_ok(), "{strategy:?}: {outcome:?}");
            assert_eq!(fake.commands().len(), 1);
        } else {
            assert!(outcome.unwrap_err().is_connection_error(), "{strategy:?}");
            assert!(fake.commands().is_empty());
        }
    }
}

#[tokio::test]
async fn a_conflict_is_decided_again_on_the_fresh_history() {
    let (client, root) = registered().await;
    client
        .command("player", root)
        .with_sequence(1)
        .with_command(&deposit(100))
        .execute()
        .await
        .unwrap();

    // Decided on a bankroll of 100: withdraw half. Meanwhile another writer
    // deposits 100 more.
    let half_of_100 = client
        .command("player", root)
        .with_sequence(2)
        .with_merge_strategy(MergeStrategy::MergeStrict)
        .with_command(&WithdrawFunds {
            amount: Some(chips(50)),
        });
    client
        .command("player", root)
        .with_sequence(2)
        .with_command(&deposit(100))
        .execute()
        .await
        .unwrap();
    let decided = AtomicUsize::new(0);
    let response = half_of_100
        .execute_retrying(3, |history| {
            decided.fetch_add(1, Ordering::SeqCst);
            let (state, _) = rebuild(&Player, Some(history))
                .map_err(|error| ClientError::InvalidArgument(error.to_string()))?;
            Ok(WithdrawFunds {
                amount: Some(chips(amount(state.bankroll.as_ref()) / 2)),
            })
        })
        .await
        .unwrap();
    assert_eq!(decided.load(Ordering::SeqCst), 1, "decided again once");
    let page = &response.events.unwrap().pages[0];
    assert_eq!(page.sequence(), Some(3));
    let withdrawn: examples::proto::FundsWithdrawn = page.event_as().unwrap();
    assert_eq!(withdrawn.amount, Some(chips(100)), "half of the fresh 200");

    // Giving up: the decision's error is the answer, and nothing is sent.
    let stale = client
        .command("player", root)
        .with_sequence(0)
        .with_merge_strategy(MergeStrategy::MergeStrict)
        .with_command(&deposit(1))
        .execute_retrying(3, |_| -> Result<DepositFunds, _> {
            Err(ClientError::InvalidArgument("nothing left to do".into()))
        })
        .await
        .unwrap_err();
    assert_eq!(stale.message(), "nothing left to do");
    assert_eq!(client.next_sequence("player", root).await.unwrap(), 4);
}

#[tokio::test]
async fn every_attempt_of_a_decision_shares_one_correlation_id() {
    let fake = FakeCoordinator::new();
    let client = fake.client();
    let root = uuid::Uuid::new_v4();
    fake.given("player", root, [NoOp::default()]);
    fake.reply_conflict();
    // No command set: the first one is decided from the history too.
    client
        .command("player", root)
        .with_merge_strategy(MergeStrategy::MergeStrict)
        .execute_retrying(3, |history| Ok(deposit(i64::from(history.next_sequence))))
        .await
        .unwrap();
    let sent = fake.commands();
    assert_eq!(sent.len(), 2, "a conflict, then the decision again");
    let correlations: Vec<String> = sent
        .iter()
        .map(|request| {
            request
                .command
                .as_ref()
                .unwrap()
                .correlation_id()
                .to_owned()
        })
        .collect();
    assert!(!correlations[0].is_empty());
    assert_eq!(correlations[0], correlations[1]);
    assert_eq!(
        sent.iter()
            .map(|request| request.command.as_ref().unwrap().expected_sequence())
            .collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(fake.commands_of::<DepositFunds>(), [deposit(1), deposit(1)]);
}

#[tokio::test]
async fn facts_are_stored_once_per_external_id() {
    let (client, root) = registered().await;
    let settled = FundsDeposited {
        amount: Some(chips(70)),
        new_balance: Some(chips(70)),
        deposited_at: None,
    };
    let fact = client
        .fact("player", root)
        .with_event(&settled)
        .external_id("wire-8812")
        .description("bank transfer settled");
    let first = fact.clone().execute().await.unwrap();
    assert!(!first.already_processed);
    assert_eq!(first.events.unwrap().pages[0].sequence(), Some(1));
    let again = fact.execute().await.unwrap();
    assert!(again.already_processed);
    let history = client.query("player", root).get_event_book().await.unwrap();
    assert_eq!(history.pages.len(), 2);
    assert_eq!(
        history.pages[1].event_as::<FundsDeposited>().unwrap(),
        settled
    );

    let unnamed = client
        .fact("player", root)
        .with_event(&settled)
        .execute()
        .await
        .unwrap_err();
    assert_eq!(
        unnamed.message(),
        "a fact needs the external id it is known by outside (external_id)"
    );
    let empty = client
        .fact("player", root)
        .external_id("x")
        .execute()
        .await
        .unwrap_err();
    assert_eq!(
        empty.message(),
        "a fact needs at least one event (with_event)"
    );
    assert_eq!(client.next_sequence("player", root).await.unwrap(), 2);
}

#[tokio::test]
async fn next_sequence_reads_no_history() {
    let fake = FakeCoordinator::new();
    let client = fake.client();
    let root = uuid::Uuid::new_v4();
    fake.given("player", root, (0..1_000).map(|_| NoOp::default()));
    assert_eq!(client.next_sequence("player", root).await.unwrap(), 1_000);
    let asked = fake.queries();
    assert_eq!(asked.len(), 1, "one query");
    assert_eq!(
        asked[0].selection,
        Some(query::Selection::Sequences(Default::default())),
        "selecting no page"
    );
    // A new aggregate: 0, after asking whether page 0 exists.
    assert_eq!(
        client
            .next_sequence("player", uuid::Uuid::new_v4())
            .await
            .unwrap(),
        0
    );
    assert_eq!(fake.queries().len(), 3);
    // On a named edition, from the builder.
    let (local, root) = registered().await;
    assert_eq!(local.next_sequence("player", root).await.unwrap(), 1);
    local
        .command("player", root)
        .with_edition("what-if")
        .with_sequence(1)
        .with_command(&deposit(5))
        .execute()
        .await
        .unwrap();
    assert_eq!(
        local
            .query("player", root)
            .edition("what-if")
            .next_sequence()
            .await
            .unwrap(),
        2
    );
    assert_eq!(local.next_sequence("player", root).await.unwrap(), 1);
    let rootless = local
        .query_domain("player")
        .next_sequence()
        .await
        .unwrap_err();
    assert!(rootless.is_invalid_argument());
}
