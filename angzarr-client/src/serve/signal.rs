//! The operating system's request to stop.

use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Completes on SIGINT or SIGTERM: the default shutdown signal of every
/// server, and of angzarr-local.
///
/// Called inside a Tokio runtime, it listens from that moment on, not from
/// its first poll: a signal arriving between the call and the first `.await`
/// (say, right after a server reported SERVING and before it polled its
/// shutdown) is kept rather than killing the process. Called outside one, it
/// listens from its first poll.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let listening = tokio::runtime::Handle::try_current().is_ok().then(|| {
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    });
    async move {
        let (interrupt, terminate) = match listening {
            Some(listening) => listening,
            None => (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ),
        };
        tokio::select! {
            () = received(interrupt, "SIGINT") => {}
            () = received(terminate, "SIGTERM") => {}
        }
    }
}

/// Completes when `signal` arrives; never, with a warning, when it cannot
/// be listened for.
async fn received(signal: std::io::Result<Signal>, name: &str) {
    match signal {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}
