//! The `table` example as an operator runs it: on the `PORT` the
//! environment gives, answering the coordinator's calls, stopping on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    business_response, Any, AnyExt, CommandBook, CommandPage, ContextualCommand, Cover,
};
use examples::proto::{CreateTable, TableCreated};
use tonic::transport::Channel;

#[tokio::test(flavor = "multi_thread")]
async fn serves_on_the_environment_port_and_exits_cleanly_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_table-server"))
        .env("PORT", port.to_string())
        .env_remove("TRANSPORT_TYPE")
        .env("RUST_LOG", "warn")
        .env("SHUTDOWN_DRAIN", "0")
        .stdin(Stdio::null())
        .spawn()
        .expect("start the table server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let channel = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited early: {status}");
        }
        match Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(error) => panic!("the table server never listened: {error}"),
        }
    };
    let cover = Cover::new("table", uuid::Uuid::new_v4());
    let create = CreateTable {
        table_name: "Main".into(),
        small_blind: 5,
        big_blind: 10,
        max_players: 6,
        ..Default::default()
    };
    let answer = CommandHandlerServiceClient::new(channel)
        .handle(ContextualCommand {
            events: None,
            command: Some(CommandBook {
                cover: Some(cover),
                pages: vec![CommandPage::new(0, Any::pack(&create))],
            }),
        })
        .await
        .expect("the table answers")
        .into_inner();
    let Some(business_response::Result::Events(book)) = answer.result else {
        panic!("events expected: {answer:?}");
    };
    let created: TableCreated = book.pages[0].event_as().unwrap();
    assert_eq!((created.min_buy_in, created.max_buy_in), (200, 1000));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
}
