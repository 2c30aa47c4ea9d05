//! Running an aggregate as a gRPC server: `angzarr.CommandHandlerService`,
//! `grpc.health.v1` and gRPC reflection, on TCP or a Unix socket, with a
//! graceful shutdown.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use angzarr_proto::command_handler_service_server::CommandHandlerServiceServer;
use tokio::net::{TcpListener, UnixListener};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_stream::StreamExt;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::Bytes;
use tonic::service::Routes;
use tonic::transport::server::Router;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower_layer::{Identity, Layer, Stack};
use tower_service::Service;

use crate::{Aggregate, AggregateService, ListenAddress};

/// The fully qualified name of the service aggregates serve; health reports it.
pub const COMMAND_HANDLER_SERVICE: &str = "angzarr.CommandHandlerService";

/// How long in-flight calls may take to finish once shutdown starts, by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listening address that does not parse.
    #[error("invalid listen address {input:?}: {reason}")]
    InvalidAddress {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An environment variable with a value that cannot be used.
    #[error("environment variable {variable}={value:?} is invalid: {reason}")]
    Environment {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The address could not be bound (in use, no permission, ...).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A file exists where the Unix socket should go, and it is not a socket.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
    /// The transport failed while serving.
    #[error("the server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A configurable aggregate server. [`run_aggregate_server`] is the one-line
/// form.
///
/// ```no_run
/// # use angzarr_client::{AggregateServer, CommandRouter};
/// # #[derive(Default)] struct State;
/// # async fn run() -> Result<(), angzarr_client::ServeError> {
/// let aggregate = CommandRouter::new("player", State::default);
/// AggregateServer::new(aggregate)
///     .listen_on("127.0.0.1:50303")?
///     .max_message_size(8 * 1024 * 1024)
///     .concurrency_limit(256)
///     .serve()
///     .await
/// # }
/// ```
pub struct AggregateServer<A, L = Identity> {
    aggregate: A,
    address: Option<ListenAddress>,
    max_message_size: Option<usize>,
    concurrency_limit: Option<usize>,
    shutdown: Option<ShutdownSignal>,
    grace: Duration,
    layer: L,
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl<A: Aggregate> AggregateServer<A> {
    /// A server for `aggregate`, listening where the environment says unless
    /// told otherwise.
    pub fn new(aggregate: A) -> Self {
        AggregateServer {
            aggregate,
            address: None,
            max_message_size: None,
            concurrency_limit: None,
            shutdown: None,
            grace: DEFAULT_SHUTDOWN_GRACE,
            layer: Identity::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl<A: Aggregate, L> AggregateServer<A, L> {
    /// Wraps every service (the aggregate, health and reflection) in a tower
    /// layer, e.g. a timeout, a rate limit or request metrics; the last layer
    /// added runs first.
    pub fn layer<N>(self, layer: N) -> AggregateServer<A, Stack<N, L>> {
        AggregateServer {
            aggregate: self.aggregate,
            address: self.address,
            max_message_size: self.max_message_size,
            concurrency_limit: self.concurrency_limit,
            shutdown: self.shutdown,
            grace: self.grace,
            layer: Stack::new(layer, self.layer),
            #[cfg(feature = "tls")]
            tls: self.tls,
        }
    }

    /// Serves TLS with this certificate chain and private key (PEM).
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        certificate_pem: impl AsRef<[u8]>,
        private_key_pem: impl AsRef<[u8]>,
    ) -> Self {
        let identity = tonic::transport::Identity::from_pem(certificate_pem, private_key_pem);
        self.tls = Some(tonic::transport::ServerTlsConfig::new().identity(identity));
        self
    }

    /// Listens on `address`, overriding the environment.
    pub fn listen(mut self, address: impl Into<ListenAddress>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Listens on an address given as text (see [`ListenAddress::parse`]).
    pub fn listen_on(self, address: &str) -> Result<Self, ServeError> {
        Ok(self.listen(ListenAddress::parse(address)?))
    }

    /// Largest message accepted or sent, in bytes (tonic's default is 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes);
        self
    }

    /// At most this many calls in flight per connection.
    pub fn concurrency_limit(mut self, calls: usize) -> Self {
        self.concurrency_limit = Some(calls);
        self
    }

    /// Shuts down when `signal` completes, instead of on SIGINT or SIGTERM.
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long in-flight calls may take to finish after shutdown starts.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Binds the listener. Health reports SERVING from here on.
    pub async fn bind(self) -> Result<BoundServer<L>, ServeError>
    where
        L: Clone + Send + Sync + 'static,
    {
        let address = match self.address {
            Some(address) => address,
            None => ListenAddress::from_env(self.aggregate.domain())?,
        };
        let listener = Listener::bind(&address).await?;
        let local = listener.local_address(&address);

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", ServingStatus::Serving).await;
        health
            .set_service_status(COMMAND_HANDLER_SERVICE, ServingStatus::Serving)
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|error| ServeError::Reflection(error.to_string()))?;

        let mut service: CommandHandlerServiceServer<AggregateService<A>> =
            AggregateService::new(self.aggregate).into_server();
        if let Some(bytes) = self.max_message_size {
            service = service
                .max_decoding_message_size(bytes)
                .max_encoding_message_size(bytes);
        }
        let mut builder = Server::builder();
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        if let Some(calls) = self.concurrency_limit {
            builder = builder.concurrency_limit_per_connection(calls);
        }
        let router = builder
            .layer(self.layer)
            .add_service(health_service)
            .add_service(reflection)
            .add_service(service);
        tracing::info!(address = %local, "aggregate server listening");
        Ok(BoundServer {
            local,
            listener,
            router,
            health,
            shutdown: self
                .shutdown
                .unwrap_or_else(|| Box::pin(os_shutdown_signal())),
            grace: self.grace,
        })
    }

    /// Binds, then serves until shut down.
    pub async fn serve<ResBody>(self) -> Result<(), ServeError>
    where
        L: Layer<Routes> + Clone + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send,
        <L::Service as Service<Request<Body>>>::Error: Into<tonic::codegen::StdError> + Send,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<tonic::codegen::StdError>,
    {
        self.bind().await?.serve().await
    }
}

/// A server whose listener is bound; [`serve`](Self::serve) runs it.
pub struct BoundServer<L = Identity> {
    local: ListenAddress,
    listener: Listener,
    router: Router<Stack<L, Identity>>,
    health: HealthReporter,
    shutdown: ShutdownSignal,
    grace: Duration,
}

impl<L> BoundServer<L> {
    /// Where the server listens (with the actual port when 0 was asked for).
    pub fn local_address(&self) -> &ListenAddress {
        &self.local
    }

    /// Serves until the shutdown signal, then stops accepting calls, reports
    /// NOT_SERVING, lets in-flight calls finish (bounded by the grace period)
    /// and removes its socket file.
    pub async fn serve<ResBody>(self) -> Result<(), ServeError>
    where
        L: Layer<Routes> + Clone + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send,
        <L::Service as Service<Request<Body>>>::Error: Into<tonic::codegen::StdError> + Send,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<tonic::codegen::StdError>,
    {
        let BoundServer {
            local,
            listener,
            router,
            health,
            shutdown,
            grace,
        } = self;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let socket_path = match &listener {
            Listener::Unix(_, path) => Some(path.clone()),
            Listener::Tcp(_) => None,
        };
        let serving: Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>> =
            match listener {
                Listener::Tcp(listener) => {
                    // Without TCP_NODELAY, small responses wait for delayed ACKs
                    // (about 40 ms per call on Linux).
                    let incoming = TcpListenerStream::new(listener).map(|accepted| {
                        accepted.and_then(|stream| stream.set_nodelay(true).map(|()| stream))
                    });
                    Box::pin(router.serve_with_incoming_shutdown(incoming, stopped))
                }
                Listener::Unix(listener, _) => Box::pin(
                    router.serve_with_incoming_shutdown(UnixListenerStream::new(listener), stopped),
                ),
            };
        let mut serving = serving;
        let result = tokio::select! {
            result = &mut serving => result.map_err(ServeError::from),
            () = shutdown => {
                tracing::info!(address = %local, "shutting down");
                health.set_service_status("", ServingStatus::NotServing).await;
                health.set_service_status(COMMAND_HANDLER_SERVICE, ServingStatus::NotServing).await;
                let _ = stop.send(());
                match tokio::time::timeout(grace, &mut serving).await {
                    Ok(result) => result.map_err(ServeError::from),
                    Err(_) => {
                        tracing::warn!(?grace, "in-flight calls did not finish in time; closing them");
                        Ok(())
                    }
                }
            }
        };
        if let Some(path) = socket_path {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "cannot remove the socket file");
            }
        }
        tracing::info!(address = %local, "aggregate server stopped");
        result
    }
}

/// Serves `aggregate` on `address` (a port, `host:port` or `unix:/path`; empty
/// means the environment's `TRANSPORT_TYPE`/`PORT`/`UDS_BASE_PATH`...) until
/// SIGINT or SIGTERM.
///
/// ```no_run
/// # use angzarr_client::{run_aggregate_server, CommandRouter};
/// # #[derive(Default)] struct State;
/// # async fn run() -> Result<(), angzarr_client::ServeError> {
/// run_aggregate_server(CommandRouter::new("player", State::default), "50303").await
/// # }
/// ```
pub async fn run_aggregate_server<A: Aggregate>(
    aggregate: A,
    address: &str,
) -> Result<(), ServeError> {
    let server = AggregateServer::new(aggregate);
    let server = if address.trim().is_empty() {
        server
    } else {
        server.listen_on(address)?
    };
    server.serve().await
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    async fn bind(address: &ListenAddress) -> Result<Self, ServeError> {
        let bind_error = |source| ServeError::Bind {
            address: address.to_string(),
            source,
        };
        match address {
            ListenAddress::Tcp(socket) => TcpListener::bind(socket)
                .await
                .map(Listener::Tcp)
                .map_err(bind_error),
            ListenAddress::Unix(path) => {
                prepare_socket_path(path).map_err(|error| match error {
                    PrepareError::NotASocket => ServeError::NotASocket { path: path.clone() },
                    PrepareError::Io(source) => bind_error(source),
                })?;
                UnixListener::bind(path)
                    .map(|listener| Listener::Unix(listener, path.clone()))
                    .map_err(bind_error)
            }
        }
    }

    fn local_address(&self, asked: &ListenAddress) -> ListenAddress {
        match self {
            Listener::Tcp(listener) => listener
                .local_addr()
                .map(ListenAddress::Tcp)
                .unwrap_or_else(|_| asked.clone()),
            Listener::Unix(_, path) => ListenAddress::Unix(path.clone()),
        }
    }
}

enum PrepareError {
    NotASocket,
    Io(io::Error),
}

/// Creates the socket's directory and removes a stale socket left by a
/// previous run; anything else at the path is left alone.
fn prepare_socket_path(path: &Path) -> Result<(), PrepareError> {
    use std::os::unix::fs::FileTypeExt;
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(PrepareError::Io)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(PrepareError::Io)
        }
        Ok(_) => Err(PrepareError::NotASocket),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PrepareError::Io(error)),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn os_shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
