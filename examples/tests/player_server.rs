//! The `player` example as an operator runs it: environment-chosen Unix
//! socket, health, a drain on SIGTERM that a second signal ends, and
//! settings from the environment refused by name when they do not parse.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{AnyExt, CommandBook, CommandPage, ContextualCommand, Cover};
use examples::proto::RegisterPlayer;

/// The `player` example, built as the `player-server` binary.
fn player_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_player-server"))
}

/// Waits for the server to create `socket`; fails if it exits first or
/// takes longer than 20 s.
async fn wait_for_socket(child: &mut std::process::Child, socket: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "the server never created {}",
            socket.display()
        );
        if let Some(status) = child.try_wait().expect("poll the child") {
            panic!("the server exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn unix_channel(path: PathBuf) -> Channel {
    Endpoint::try_from("http://localhost")
        .expect("static URI")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
        .expect("connect over the Unix socket")
}

#[tokio::test]
async fn serves_on_the_environment_socket_and_exits_cleanly_on_sigterm() {
    let binary = player_binary();
    let base = std::env::temp_dir().join(format!("angzarr-player-test-{}", std::process::id()));
    let socket = base.join("nested").join("business-player.sock");
    let _ = std::fs::remove_dir_all(&base);

    let mut child = Command::new(&binary)
        .env("TRANSPORT_TYPE", "uds")
        .env("UDS_BASE_PATH", base.join("nested"))
        .env_remove("SERVICE_NAME")
        .env_remove("DOMAIN")
        .env("RUST_LOG", "warn")
        // A drain far longer than the test: only the second signal ends it.
        .env("SHUTDOWN_DRAIN", "10m")
        .env("MAX_MESSAGE_SIZE", "64KiB")
        .stdin(Stdio::null())
        .spawn()
        .expect("start the player server");

    wait_for_socket(&mut child, &socket).await;
    let deadline = Instant::now() + Duration::from_secs(20);

    let mut health = HealthClient::new(unix_channel(socket.clone()).await);
    for service in ["", "angzarr.CommandHandlerService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }
    // The environment's message size limit holds.
    let mut oversized = register();
    if let Some(book) = oversized.command.as_mut() {
        book.pages[0] = CommandPage::new(
            0,
            angzarr_client::proto::Any::pack(&RegisterPlayer {
                display_name: "x".repeat(100 * 1024),
                ..Default::default()
            }),
        );
    }
    let refused = CommandHandlerServiceClient::new(unix_channel(socket.clone()).await)
        .handle(oversized)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");

    let signal = |child: &std::process::Child| {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(sent.success());
    };
    signal(&child);
    // NOT_SERVING at once, while calls are still answered.
    let mut updates = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health watches")
        .into_inner();
    loop {
        let update = updates
            .message()
            .await
            .expect("a health update")
            .expect("the stream lasts the drain");
        if update.status == ServingStatus::NotServing as i32 {
            break;
        }
    }
    let answered = CommandHandlerServiceClient::new(unix_channel(socket.clone()).await)
        .handle(register())
        .await;
    assert!(answered.is_ok(), "answered while draining: {answered:?}");
    assert!(child.try_wait().expect("poll").is_none(), "still draining");
    drop(updates);
    drop(health);

    signal(&child);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop after a second SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(!socket.exists(), "the socket file is removed on shutdown");
    let _ = std::fs::remove_dir_all(&base);
}

fn register() -> ContextualCommand {
    ContextualCommand {
        events: None,
        command: Some(CommandBook {
            cover: Some(Cover::new("player", uuid::Uuid::new_v4())),
            pages: vec![CommandPage::new(
                0,
                angzarr_client::proto::Any::pack(&RegisterPlayer {
                    display_name: "Alice".into(),
                    email: "alice@example.com".into(),
                    ..Default::default()
                }),
            )],
        }),
    }
}

#[test]
fn a_setting_that_does_not_parse_is_refused_by_name() {
    for (variable, value) in [
        ("SHUTDOWN_DRAIN", "soon"),
        ("MAX_MESSAGE_SIZE", "lots"),
        ("CALL_TIMEOUT", "5 minutes"),
        ("SLOW_CALL", "sometime"),
    ] {
        let output = Command::new(player_binary())
            .env("PORT", "0")
            .env(variable, value)
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .output()
            .expect("run the player server");
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            said.contains(&format!(
                "environment variable {variable}={value:?} is invalid"
            )),
            "{variable}: {said}"
        );
    }
}

#[tokio::test]
async fn at_info_a_slow_call_is_logged_with_what_identifies_its_command() {
    let base = std::env::temp_dir().join(format!("angzarr-player-slow-{}", std::process::id()));
    let socket = base.join("business-player.sock");
    let _ = std::fs::remove_dir_all(&base);
    let mut child = Command::new(player_binary())
        .env("TRANSPORT_TYPE", "uds")
        .env("UDS_BASE_PATH", &base)
        .env_remove("SERVICE_NAME")
        .env_remove("DOMAIN")
        .env_remove("RUST_LOG")
        .env_remove("ANGZARR_LOG_FORMAT")
        .env("SHUTDOWN_DRAIN", "0")
        // Every call is slower than nothing.
        .env("SLOW_CALL", "0ms")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the player server");
    wait_for_socket(&mut child, &socket).await;
    let mut request = register();
    let root = uuid::Uuid::from_u128(0x5101);
    if let Some(book) = request.command.as_mut() {
        book.cover = Some(Cover::new("player", root).with_correlation_id("slow-one"));
    }
    CommandHandlerServiceClient::new(unix_channel(socket.clone()).await)
        .handle(request)
        .await
        .expect("the registration is decided");
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(sent.success());
    // Waited for off the runtime's thread, so that the client's connection
    // can still answer the server's goodbye (or shutdown waits out its grace).
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("the server stops");
    assert!(output.status.success(), "exit status {}", output.status);
    let said = String::from_utf8_lossy(&output.stderr);
    let line = said
        .lines()
        .find(|line| line.contains("command slow"))
        .unwrap_or_else(|| panic!("no slow call logged in:\n{said}"));
    assert!(line.contains(" WARN "), "{line}");
    for field in [
        "domain=\"player\"".to_owned(),
        format!("root=\"{}\"", root.simple()),
        "correlation_id=\"slow-one\"".to_owned(),
        "command=\"examples.RegisterPlayer\"".to_owned(),
        "threshold=0ns".to_owned(),
    ] {
        assert!(line.contains(&field), "{field} missing in {line}");
    }
    let _ = std::fs::remove_dir_all(&base);
}
