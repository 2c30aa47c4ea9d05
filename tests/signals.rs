//! The operating system's stop signal, as a server meets it: a process of
//! its own, since the signal goes to every server in it.

use angzarr_client::{ListenAddress, Server};
use examples::player::Player;

/// A server listens for SIGTERM from the moment it is bound: a signal that
/// arrives before it has served anything (an orchestrator stopping a pod
/// that just reported SERVING) stops it cleanly instead of killing the
/// process.
#[tokio::test]
async fn a_sigterm_right_after_bind_stops_the_server_cleanly() {
    let bound = Server::new()
        .aggregate(Player)
        .listen(ListenAddress::loopback(0))
        .shutdown_drain(std::time::Duration::ZERO)
        .bind()
        .await
        .expect("binds");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    tokio::time::timeout(std::time::Duration::from_secs(60), bound.serve())
        .await
        .expect("the signal stops the server")
        .expect("a clean stop");
}
