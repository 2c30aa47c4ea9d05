//! An `#[aggregate]` served over real loopback gRPC: the generated service
//! answers `Handle`, `HandleFact` and `Replay` as the coordinator expects.

use std::net::SocketAddr;

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    business_response, AnyExt, BusinessResponse, CommandBook, CommandPage, ContextualCommand,
    Cover, EventBook, EventPage, FactRequest, ReplayRequest,
};
use angzarr_client::AggregateService;
use examples::player::{chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer, WithdrawFunds,
};
use prost_types::Any;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};

async fn serve_player() -> CommandHandlerServiceClient<Channel> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address: SocketAddr = listener.local_addr().expect("local address");
    tokio::spawn(
        Server::builder()
            .add_service(AggregateService::new(Player).into_server())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("a valid endpoint")
        .connect()
        .await
        .expect("connect to the aggregate");
    CommandHandlerServiceClient::new(channel)
}

fn contextual(history: Vec<EventPage>, command: Any) -> ContextualCommand {
    let root = uuid::Uuid::from_u128(9);
    let next = u32::try_from(history.len()).unwrap();
    ContextualCommand {
        events: Some(EventBook {
            cover: Some(Cover::new("player", root)),
            pages: history,
            ..Default::default()
        }),
        command: Some(CommandBook {
            cover: Some(Cover::new("player", root).with_correlation_id("grpc-test")),
            pages: vec![CommandPage::new(next, command)],
        }),
    }
}

fn events(response: BusinessResponse) -> EventBook {
    match response.result {
        Some(business_response::Result::Events(book)) => book,
        other => panic!("expected events, got {other:?}"),
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

#[tokio::test]
async fn handle_returns_stamped_events_and_a_snapshot() {
    let mut client = serve_player().await;
    let request = contextual(
        vec![registered()],
        Any::pack(&DepositFunds {
            amount: Some(chips(25)),
        }),
    );
    let book = events(
        client
            .handle(request.clone())
            .await
            .expect("handled")
            .into_inner(),
    );
    // The cover echoed, on the main timeline by name.
    let sent = request.command.unwrap().cover.unwrap();
    assert_eq!(sent.edition, None);
    assert_eq!(book.cover, Some(sent.with_edition("angzarr")));
    assert_eq!(book.next_sequence, 2);
    assert_eq!(book.pages.len(), 1);
    assert_eq!(book.pages[0].sequence(), Some(1));
    assert!(book.pages[0].created_at.is_some());
    let deposited: FundsDeposited = book.pages[0].event().unwrap().unpack().unwrap();
    assert_eq!(deposited.new_balance, Some(chips(25)));
    let snapshot = book.snapshot.expect("the player keeps snapshots");
    assert_eq!(snapshot.sequence, 1);
    let state: PlayerState = snapshot.state.unwrap().unpack().unwrap();
    assert_eq!(state.player_id, "player_alice@example.com");
}

#[tokio::test]
async fn rejections_arrive_as_failed_precondition_with_the_message() {
    let mut client = serve_player().await;
    let status = client
        .handle(contextual(
            vec![registered()],
            Any::pack(&WithdrawFunds {
                amount: Some(chips(1)),
            }),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(status.message(), "Insufficient funds");
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments_naming_the_problem() {
    let mut client = serve_player().await;
    let status = client
        .handle(contextual(vec![], Any::pack(&Cover::default())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status
        .message()
        .contains("does not handle `type.googleapis.com/angzarr.Cover`"));

    let mut no_pages = contextual(vec![], Any::pack(&RegisterPlayer::default()));
    no_pages.command.as_mut().unwrap().pages.clear();
    let status = client.handle(no_pages).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "command book has no pages");

    // The server keeps serving after bad input.
    let ok = client
        .handle(contextual(
            vec![],
            Any::pack(&RegisterPlayer {
                display_name: "Bob".into(),
                email: "bob@example.com".into(),
                ..Default::default()
            }),
        ))
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn facts_come_back_unchanged_and_replay_folds_state() {
    let mut client = serve_player().await;
    let facts = EventBook {
        cover: Some(Cover::new("player", uuid::Uuid::from_u128(3))),
        pages: vec![registered()],
        ..Default::default()
    };
    let answered = client
        .handle_fact(FactRequest {
            facts: Some(facts.clone()),
            prior_events: None,
        })
        .await
        .expect("facts")
        .into_inner();
    assert_eq!(answered, facts);

    let replayed = client
        .replay(ReplayRequest {
            base_snapshot: None,
            events: vec![
                registered(),
                EventPage::new(
                    1,
                    Any::pack(&FundsDeposited {
                        amount: Some(chips(5)),
                        new_balance: Some(chips(5)),
                        deposited_at: None,
                    }),
                ),
            ],
        })
        .await
        .expect("replay")
        .into_inner();
    let state: PlayerState = replayed.state.unwrap().unpack().unwrap();
    assert_eq!(state.bankroll, Some(chips(5)));
}
