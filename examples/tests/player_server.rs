//! The `player` example as an operator runs it: environment-chosen Unix
//! socket, health, and a graceful exit on SIGTERM.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// The `player` example, built as the `player-server` binary.
fn player_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_player-server"))
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
        .stdin(Stdio::null())
        .spawn()
        .expect("start the player server");

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
    drop(health);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(!socket.exists(), "the socket file is removed on shutdown");
    let _ = std::fs::remove_dir_all(&base);
}
