//! Serving components over gRPC: one mechanism for every kind, and for any
//! set of components in one process.
//!
//! [`Server`] takes aggregates, sagas, process managers, projectors,
//! upcasters (and any other tonic service) and serves each where it belongs:
//! components that resolve to the same address share one listener (an
//! aggregate and its upcaster on one port, as the coordinator expects), the
//! others get listeners of their own (several sagas over Unix sockets, one
//! socket each). Every listener serves `grpc.health.v1` (`""`, the full
//! service names and the coordinator's short names, SERVING once bound and
//! NOT_SERVING once shutdown starts) and gRPC reflection. Shutdown (SIGINT or
//! SIGTERM by default) stops every listener, lets in-flight calls finish
//! within a grace period and removes socket files.

mod error;
mod listen;
mod listener;
mod signal;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_stream::StreamExt;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::Bytes;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower::util::BoxCloneService;
use tower::ServiceExt;
use tower_layer::{Identity, Layer, Stack};
use tower_service::Service;

pub use error::ServeError;
pub use listen::{ListenAddress, DEFAULT_PORT, DEFAULT_SERVICE_NAME, DEFAULT_UDS_BASE_PATH};
pub use signal::shutdown_signal;

use listener::Listener;

use crate::{
    Aggregate, AggregateService, ComponentKind, ProcessManager, ProcessManagerService, Projector,
    ProjectorService, Saga, SagaService, Upcaster, UpcasterService,
};

/// How long in-flight calls may take to finish once shutdown starts, by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The fully qualified name of the service aggregates serve; health reports it.
pub const COMMAND_HANDLER_SERVICE: &str = "angzarr.CommandHandlerService";

type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;
type AddService = Box<dyn FnOnce(&mut RoutesBuilder, Option<usize>) + Send>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ServedService = BoxCloneService<Request<Body>, Response<Body>, BoxError>;

/// One thing to serve, before it has an address.
struct Registration {
    /// What it is, in messages: `saga saga-table-player`.
    label: String,
    /// The names `listen_component` accepts for it.
    names: [String; 2],
    /// Where the environment puts it.
    kind: Option<ComponentKind>,
    qualifier: String,
    service: &'static str,
    health: Option<&'static str>,
    add: AddService,
}

/// A gRPC server for any set of components: the one way this crate serves
/// aggregates, sagas, process managers, projectors and upcasters.
///
/// ```no_run
/// # use angzarr_client::{CommandRouter, SagaRouter, Server, UpcasterRouter};
/// # #[derive(Default)] struct State;
/// # async fn run() -> Result<(), angzarr_client::ServeError> {
/// Server::new()
///     .aggregate(CommandRouter::new("player", State::default))
///     .upcaster(UpcasterRouter::new("player"))          // same address as its aggregate
///     .saga(SagaRouter::new("saga-table-player", "table").target("player"))
///     .listen_component_on("saga-table-player", "127.0.0.1:50304")?
///     .listen_on("127.0.0.1:50303")?
///     .serve()
///     .await
/// # }
/// ```
///
/// Without an address, each component listens where the environment says
/// ([`ListenAddress::from_env`]): with `TRANSPORT_TYPE=uds` every component
/// gets the socket the coordinator looks for, e.g.
/// `/tmp/angzarr/saga-saga-table-player.sock`.
pub struct Server<L = Identity> {
    registrations: Vec<Registration>,
    address: Option<ListenAddress>,
    component_addresses: Vec<(String, ListenAddress)>,
    descriptor_sets: Vec<&'static [u8]>,
    max_message_size: Option<usize>,
    concurrency_limit: Option<usize>,
    shutdown: Option<ShutdownSignal>,
    grace: Duration,
    layer: L,
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with nothing to serve yet.
    pub fn new() -> Self {
        Server {
            registrations: Vec::new(),
            address: None,
            component_addresses: Vec::new(),
            descriptor_sets: Vec::new(),
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

/// Adds a generated tonic server, with the message size limit applied.
macro_rules! add_sized {
    ($server:expr) => {
        Box::new(move |routes: &mut RoutesBuilder, limit: Option<usize>| {
            let mut server = $server;
            if let Some(bytes) = limit {
                server = server
                    .max_decoding_message_size(bytes)
                    .max_encoding_message_size(bytes);
            }
            routes.add_service(server);
        })
    };
}

impl<L> Server<L> {
    fn register(
        mut self,
        kind: ComponentKind,
        label: String,
        names: [String; 2],
        qualifier: String,
        add: AddService,
    ) -> Self {
        self.registrations.push(Registration {
            label,
            names,
            kind: Some(kind),
            qualifier,
            service: kind.service_name(),
            health: Some(kind.health_name()),
            add,
        });
        self
    }

    /// Serves `aggregate` as `angzarr.CommandHandlerService`.
    pub fn aggregate<A: Aggregate>(self, aggregate: A) -> Self {
        let label = format!(
            "aggregate {} (domain {})",
            aggregate.name(),
            aggregate.domain()
        );
        let names = [aggregate.name().to_owned(), aggregate.domain().to_owned()];
        let qualifier = aggregate.domain().to_owned();
        let service = AggregateService::new(aggregate);
        self.register(
            ComponentKind::Aggregate,
            label,
            names,
            qualifier,
            add_sized!(service.into_server()),
        )
    }

    /// Serves `saga` as `angzarr.SagaService`.
    pub fn saga<S: Saga>(self, saga: S) -> Self {
        let label = format!("saga {}", saga.name());
        let names = [saga.name().to_owned(), saga.name().to_owned()];
        let qualifier = saga.name().to_owned();
        let service = SagaService::new(saga);
        self.register(
            ComponentKind::Saga,
            label,
            names,
            qualifier,
            add_sized!(service.into_server()),
        )
    }

    /// Serves `pm` as `angzarr.ProcessManagerService`.
    pub fn process_manager<P: ProcessManager>(self, pm: P) -> Self {
        let label = format!("process manager {}", pm.name());
        let names = [pm.name().to_owned(), pm.name().to_owned()];
        let qualifier = pm.name().to_owned();
        let service = ProcessManagerService::new(pm);
        self.register(
            ComponentKind::ProcessManager,
            label,
            names,
            qualifier,
            add_sized!(service.into_server()),
        )
    }

    /// Serves `projector` as `angzarr.ProjectorService`.
    pub fn projector<P: Projector>(self, projector: P) -> Self {
        let label = format!("projector {}", projector.name());
        let names = [projector.name().to_owned(), projector.name().to_owned()];
        let qualifier = projector.name().to_owned();
        let service = ProjectorService::new(projector);
        self.register(
            ComponentKind::Projector,
            label,
            names,
            qualifier,
            add_sized!(service.into_server()),
        )
    }

    /// Serves `upcaster` as `angzarr.UpcasterService`, by default on its
    /// domain's aggregate address (where the coordinator calls it).
    pub fn upcaster<U: Upcaster>(self, upcaster: U) -> Self {
        let label = format!(
            "upcaster {} (domain {})",
            upcaster.name(),
            upcaster.domain()
        );
        let names = [upcaster.name().to_owned(), upcaster.name().to_owned()];
        let qualifier = upcaster.domain().to_owned();
        let service = UpcasterService::new(upcaster);
        self.register(
            ComponentKind::Upcaster,
            label,
            names,
            qualifier,
            add_sized!(service.into_server()),
        )
    }

    /// Serves any tonic service (health reports its name), on the server's
    /// address ([`listen`](Self::listen)), or on the listener of the first
    /// component when none was given.
    pub fn service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.registrations.push(Registration {
            label: format!("service {}", S::NAME),
            names: [S::NAME.to_owned(), S::NAME.to_owned()],
            kind: None,
            qualifier: String::new(),
            service: S::NAME,
            health: None,
            add: Box::new(move |routes: &mut RoutesBuilder, _| {
                routes.add_service(service);
            }),
        });
        self
    }

    /// Adds a protobuf `FileDescriptorSet` (encoded) to gRPC reflection, e.g.
    /// the one of your own messages, so that `grpcurl` can show them.
    pub fn reflect(mut self, descriptor_set: &'static [u8]) -> Self {
        self.descriptor_sets.push(descriptor_set);
        self
    }

    /// Listens on `address` (every component without an address of its own),
    /// instead of where the environment says.
    pub fn listen(mut self, address: impl Into<ListenAddress>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Listens on an address given as text (see [`ListenAddress::parse`]).
    pub fn listen_on(self, address: &str) -> Result<Self, ServeError> {
        Ok(self.listen(ListenAddress::parse(address)?))
    }

    /// Serves the component called `name` (an aggregate's type name or
    /// domain; another kind's name) on `address`.
    pub fn listen_component(
        mut self,
        name: impl Into<String>,
        address: impl Into<ListenAddress>,
    ) -> Self {
        self.component_addresses.push((name.into(), address.into()));
        self
    }

    /// [`listen_component`](Self::listen_component) with the address as text.
    pub fn listen_component_on(self, name: &str, address: &str) -> Result<Self, ServeError> {
        Ok(self.listen_component(name, ListenAddress::parse(address)?))
    }

    /// Largest message accepted or sent by the components, in bytes (tonic's
    /// default is 4 MiB).
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

    /// Serves TLS with this certificate chain and private key (PEM), on every
    /// listener.
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

    /// Wraps every service (the components, health and reflection) in a tower
    /// layer, e.g. a timeout, a rate limit or request metrics; the last layer
    /// added runs first.
    pub fn layer<N>(self, layer: N) -> Server<Stack<N, L>> {
        Server {
            registrations: self.registrations,
            address: self.address,
            component_addresses: self.component_addresses,
            descriptor_sets: self.descriptor_sets,
            max_message_size: self.max_message_size,
            concurrency_limit: self.concurrency_limit,
            shutdown: self.shutdown,
            grace: self.grace,
            layer: Stack::new(layer, self.layer),
            #[cfg(feature = "tls")]
            tls: self.tls,
        }
    }

    /// Binds every listener. Health reports SERVING from here on.
    pub async fn bind<ResBody>(self) -> Result<BoundServer, ServeError>
    where
        L: Layer<Routes> + Clone + Send + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        if self.registrations.is_empty() {
            return Err(ServeError::Empty);
        }
        for (name, _) in &self.component_addresses {
            if !self.registrations.iter().any(|r| r.names.contains(name)) {
                let known: Vec<&str> = self
                    .registrations
                    .iter()
                    .filter(|r| r.kind.is_some())
                    .map(|r| r.names[0].as_str())
                    .collect();
                return Err(ServeError::UnknownComponent {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        let groups = self.group()?;
        let Server {
            registrations,
            descriptor_sets,
            max_message_size,
            concurrency_limit,
            shutdown,
            grace,
            layer,
            #[cfg(feature = "tls")]
            tls,
            ..
        } = self;
        let mut slots: Vec<Option<Registration>> = registrations.into_iter().map(Some).collect();
        let mut listeners = Vec::with_capacity(groups.len());
        for (address, members) in groups {
            let members = members
                .into_iter()
                .filter_map(|index| slots.get_mut(index).and_then(Option::take))
                .collect();
            listeners.push(
                BoundListener::bind(
                    address,
                    members,
                    &descriptor_sets,
                    max_message_size,
                    layer.clone(),
                    concurrency_limit,
                    #[cfg(feature = "tls")]
                    tls.clone(),
                )
                .await?,
            );
        }
        Ok(BoundServer {
            listeners,
            shutdown: shutdown.unwrap_or_else(|| Box::pin(shutdown_signal())),
            grace,
        })
    }

    /// Binds, then serves until shut down.
    pub async fn serve<ResBody>(self) -> Result<(), ServeError>
    where
        L: Layer<Routes> + Clone + Send + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        self.bind().await?.serve().await
    }

    /// The registrations grouped by address, in the order first seen, with
    /// no gRPC service twice on one address.
    #[allow(clippy::type_complexity)]
    fn group(&self) -> Result<Vec<(ListenAddress, Vec<usize>)>, ServeError> {
        let mut groups: Vec<(ListenAddress, Vec<usize>)> = Vec::new();
        for (index, registration) in self.registrations.iter().enumerate() {
            let chosen = self
                .component_addresses
                .iter()
                .find(|(name, _)| registration.names.contains(name))
                .map(|(_, address)| address.clone());
            let address = match (chosen, &self.address, registration.kind) {
                (Some(address), _, _) => address,
                (None, Some(address), _) => address.clone(),
                (None, None, Some(kind)) => ListenAddress::from_env(kind, &registration.qualifier)?,
                // A plain service goes with the first component.
                (None, None, None) => match groups.first() {
                    Some((address, _)) => address.clone(),
                    None => ListenAddress::from_env(ComponentKind::Aggregate, "")?,
                },
            };
            match groups.iter_mut().find(|(existing, _)| *existing == address) {
                Some((address, members)) => {
                    if let Some(&other) = members
                        .iter()
                        .find(|&&member| self.registrations[member].service == registration.service)
                    {
                        return Err(ServeError::Conflict {
                            address: address.to_string(),
                            service: registration.service,
                            first: self.registrations[other].label.clone(),
                            second: registration.label.clone(),
                        });
                    }
                    members.push(index);
                }
                None => groups.push((address, vec![index])),
            }
        }
        Ok(groups)
    }
}

/// A server whose listeners are bound; [`serve`](Self::serve) runs them.
pub struct BoundServer {
    listeners: Vec<BoundListener>,
    shutdown: ShutdownSignal,
    grace: Duration,
}

/// What a listener serves: the routes themselves, or behind the layers the
/// user added (boxed, as their type varies).
enum Served {
    Routes(Routes),
    Layered(ServedService),
}

struct BoundListener {
    local: ListenAddress,
    listener: Listener,
    service: Served,
    transport: tonic::transport::Server,
    health: HealthReporter,
    health_names: Vec<&'static str>,
    components: Vec<String>,
}

impl BoundServer {
    /// Where the first listener listens (with the actual port when 0 was
    /// asked for): the address of a single-listener server.
    pub fn local_address(&self) -> &ListenAddress {
        &self.listeners[0].local
    }

    /// Every listener's address, with the components it serves.
    pub fn local_addresses(&self) -> impl Iterator<Item = (&ListenAddress, &[String])> {
        self.listeners
            .iter()
            .map(|listener| (&listener.local, listener.components.as_slice()))
    }

    /// Serves until the shutdown signal, then stops accepting calls, reports
    /// NOT_SERVING, lets in-flight calls finish (bounded by the grace period)
    /// and removes socket files. A listener failing stops the others.
    pub async fn serve(self) -> Result<(), ServeError> {
        let BoundServer {
            listeners,
            shutdown,
            grace,
        } = self;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut running = tokio::task::JoinSet::new();
        let mut reporters = Vec::new();
        let mut sockets = Vec::new();
        for listener in listeners {
            reporters.push((listener.health.clone(), listener.health_names.clone()));
            sockets.extend(listener.listener.socket_path().map(ToOwned::to_owned));
            let mut stopped = stopped.clone();
            running.spawn(listener.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }));
        }

        let drain = |mut running: tokio::task::JoinSet<Result<(), ServeError>>| async move {
            let mut outcome = Ok(());
            while let Some(joined) = running.join_next().await {
                match joined {
                    Ok(Err(error)) if outcome.is_ok() => outcome = Err(error),
                    Err(panic) if outcome.is_ok() && panic.is_panic() => {
                        outcome = Err(ServeError::Listener(panic.to_string()))
                    }
                    _ => {}
                }
            }
            outcome
        };

        let mut shutdown = shutdown;
        let result = tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down");
                for (health, names) in &reporters {
                    for name in names {
                        health.set_service_status(*name, ServingStatus::NotServing).await;
                    }
                }
                let _ = stop.send(true);
                match tokio::time::timeout(grace, drain(running)).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(?grace, "in-flight calls did not finish in time; closing them");
                        Ok(())
                    }
                }
            }
            Some(first) = running.join_next() => {
                let _ = stop.send(true);
                let rest = tokio::time::timeout(grace, drain(running)).await.unwrap_or(Ok(()));
                match first {
                    Ok(Err(error)) => Err(error),
                    Ok(Ok(())) => rest,
                    Err(panic) => Err(ServeError::Listener(panic.to_string())),
                }
            }
        };
        for path in sockets {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "cannot remove the socket file");
            }
        }
        tracing::info!("server stopped");
        result
    }
}

impl BoundListener {
    #[allow(clippy::too_many_arguments)]
    async fn bind<L, ResBody>(
        address: ListenAddress,
        registrations: Vec<Registration>,
        descriptor_sets: &[&'static [u8]],
        limit: Option<usize>,
        layer: L,
        concurrency_limit: Option<usize>,
        #[cfg(feature = "tls")] tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Result<Self, ServeError>
    where
        L: Layer<Routes> + Send + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        let listener = Listener::bind(&address).await?;
        let local = listener.local_address(&address);

        let (health, health_service) = tonic_health::server::health_reporter();
        let mut health_names = vec![""];
        for registration in &registrations {
            health_names.push(registration.service);
            health_names.extend(registration.health);
        }
        health_names.dedup();
        for name in &health_names {
            health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let mut reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for set in descriptor_sets {
            reflection = reflection.register_encoded_file_descriptor_set(set);
        }
        let reflection = reflection
            .build_v1()
            .map_err(|error| ServeError::Reflection(error.to_string()))?;

        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        routes.add_service(reflection);
        let mut components = Vec::with_capacity(registrations.len());
        for registration in registrations {
            components.push(registration.label);
            (registration.add)(&mut routes, limit);
        }
        let routes = routes.routes().prepare();
        // Without layers, the routes are served as they are: no boxed
        // future and no second body wrapper per call.
        let service = if std::any::TypeId::of::<L>() == std::any::TypeId::of::<Identity>() {
            Served::Routes(routes)
        } else {
            Served::Layered(BoxCloneService::new(
                layer
                    .layer(routes)
                    .map_response(|response: Response<ResBody>| response.map(Body::new))
                    .map_err(Into::into),
            ))
        };

        let mut transport = tonic::transport::Server::builder();
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            transport = transport.tls_config(tls)?;
        }
        if let Some(calls) = concurrency_limit {
            transport = transport.concurrency_limit_per_connection(calls);
        }
        tracing::info!(address = %local, components = %components.join(", "), "server listening");
        Ok(BoundListener {
            local,
            listener,
            service,
            transport,
            health,
            health_names,
            components,
        })
    }

    async fn run(
        self,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let BoundListener {
            listener,
            service,
            transport,
            ..
        } = self;
        match listener {
            Listener::Tcp(listener) => {
                // Without TCP_NODELAY, small responses wait for delayed ACKs
                // (about 40 ms per call on Linux).
                let incoming = TcpListenerStream::new(listener).map(|accepted| {
                    accepted.and_then(|stream| stream.set_nodelay(true).map(|()| stream))
                });
                service.serve(transport, incoming, stopped).await?;
            }
            Listener::Unix(listener, _) => {
                let incoming = UnixListenerStream::new(listener);
                service.serve(transport, incoming, stopped).await?;
            }
        }
        Ok(())
    }
}

impl Served {
    /// Serves the connections `incoming` yields until `stopped`.
    async fn serve<I, IO>(
        self,
        transport: tonic::transport::Server,
        incoming: I,
        stopped: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error>
    where
        I: tokio_stream::Stream<Item = std::io::Result<IO>>,
        IO: tokio::io::AsyncRead
            + tokio::io::AsyncWrite
            + tonic::transport::server::Connected
            + Unpin
            + Send
            + 'static,
    {
        match self {
            Served::Routes(routes) => {
                transport
                    .serve_with_incoming_shutdown(routes, incoming, stopped)
                    .await
            }
            Served::Layered(layered) => {
                transport
                    .serve_with_incoming_shutdown(layered, incoming, stopped)
                    .await
            }
        }
    }
}

async fn run_alone(server: Server, address: &str) -> Result<(), ServeError> {
    let server = if address.trim().is_empty() {
        server
    } else {
        server.listen_on(address)?
    };
    server.serve().await
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
    run_alone(Server::new().aggregate(aggregate), address).await
}

/// Serves `saga` on `address` (empty: the environment's, with `SAGA_NAME`
/// and `SERVICE_NAME` defaulting to the saga's name and `saga`) until
/// SIGINT or SIGTERM.
pub async fn run_saga_server<S: Saga>(saga: S, address: &str) -> Result<(), ServeError> {
    run_alone(Server::new().saga(saga), address).await
}

/// Serves `pm` on `address` (empty: the environment's, with `SERVICE_NAME`
/// defaulting to `process-manager`) until SIGINT or SIGTERM.
pub async fn run_process_manager_server<P: ProcessManager>(
    pm: P,
    address: &str,
) -> Result<(), ServeError> {
    run_alone(Server::new().process_manager(pm), address).await
}

/// Serves `projector` on `address` (empty: the environment's, with
/// `PROJECTOR_NAME` and `SERVICE_NAME` defaulting to the projector's name
/// and `projector`) until SIGINT or SIGTERM.
pub async fn run_projector_server<P: Projector>(
    projector: P,
    address: &str,
) -> Result<(), ServeError> {
    run_alone(Server::new().projector(projector), address).await
}

/// Serves `upcaster` on `address` (empty: the environment's, on its
/// domain's business socket) until SIGINT or SIGTERM.
pub async fn run_upcaster_server<U: Upcaster>(
    upcaster: U,
    address: &str,
) -> Result<(), ServeError> {
    run_alone(Server::new().upcaster(upcaster), address).await
}
