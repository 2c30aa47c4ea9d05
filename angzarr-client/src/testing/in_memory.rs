//! gRPC without a network: a channel whose every connection is an
//! in-memory pipe to tonic routes served in this process.

use std::convert::Infallible;

use hyper_util::rt::TokioIo;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Uri};

/// How much a pipe buffers in each direction before a writer waits.
const PIPE_BYTES: usize = 256 * 1024;

/// A channel to `routes`, served in this process over in-memory pipes: the
/// whole gRPC stack (HTTP/2, encoding, status codes and details) runs, but
/// no port is bound and no socket file made, so tests run in parallel
/// without choosing addresses. The server lives as long as the channel (and
/// its clones). Call it inside a Tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use angzarr_client::testing::in_memory_channel;
/// use tonic::service::Routes;
///
/// let (_, health) = tonic_health::server::health_reporter();
/// let channel = in_memory_channel(Routes::new(health));
/// let answer = tonic_health::pb::health_client::HealthClient::new(channel)
///     .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
///     .await
///     .unwrap();
/// assert_eq!(answer.into_inner().status, 1); // SERVING
/// # }
/// ```
pub fn in_memory_channel(routes: Routes) -> Channel {
    let (connections, incoming) =
        tokio::sync::mpsc::unbounded_channel::<Result<tokio::io::DuplexStream, Infallible>>();
    tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(UnboundedReceiverStream::new(incoming))
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the in-memory server stopped");
        }
    });
    Endpoint::from_static("http://in-memory.invalid").connect_with_connector_lazy(
        tower::service_fn(move |_: Uri| {
            let (client, server) = tokio::io::duplex(PIPE_BYTES);
            let sent = connections.send(Ok(server));
            async move {
                sent.map_err(|_| std::io::Error::other("the in-memory server has stopped"))?;
                Ok::<_, std::io::Error>(TokioIo::new(client))
            }
        }),
    )
}
