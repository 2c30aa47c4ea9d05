//! Serving components over gRPC: one mechanism for every kind, and for any
//! set of components in one process.
//!
//! [`Server`] takes aggregates, sagas, process managers, projectors,
//! upcasters (and any other tonic service) and serves each where it belongs:
//! components that resolve to the same address share one listener (an
//! aggregate and its upcaster on one port, as the coordinator expects), the
//! others get listeners of their own (several sagas over Unix sockets, one
//! socket each). Every listener serves `grpc.health.v1` (`""`, the full
//! service names and the coordinator's short names) and gRPC reflection.
//!
//! Health is what orchestrators route by, so it tells the truth at every
//! step of a server's life:
//!
//! 1. NOT_SERVING from the moment the listeners are bound until every
//!    [readiness check](Server::readiness_check) has passed (a read model's
//!    database open, say), then SERVING;
//! 2. on shutdown (SIGINT or SIGTERM by default), NOT_SERVING at once, then a
//!    [drain period](Server::shutdown_drain) in which calls are still
//!    answered, so that load balancers stop routing here before anything is
//!    refused (a second signal ends it early);
//! 3. then the listeners stop accepting, in-flight calls finish within the
//!    [grace period](Server::shutdown_grace), and socket files are removed.

mod connection;
mod dispatch;
mod error;
mod listen;
mod listener;
mod signal;
#[cfg(feature = "tls")]
mod tls;
mod traced;
pub(crate) mod unary;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::Bytes;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower::util::BoxCloneService;
use tower::ServiceExt;
use tower_layer::{Identity, Layer, Stack};
use tower_service::Service;

pub use error::ServeError;
pub use listen::{ListenAddress, DEFAULT_PORT, DEFAULT_SERVICE_NAME, DEFAULT_UDS_BASE_PATH};
pub use signal::shutdown_signal;

use connection::Connections;
use dispatch::{Routing, Served};
use listener::Listener;

use crate::aggregate::server::{AggregateServer, HANDLE_PATH};
use crate::proto::{EventBook, ProcessManagerHandleRequest, SagaHandleRequest, UpcastRequest};
use crate::settings;
use crate::{
    Aggregate, AggregateService, ComponentKind, ProcessManager, ProcessManagerService, Projector,
    ProjectorService, Saga, SagaService, Upcaster, UpcasterService,
};

/// How long in-flight calls may take to finish once shutdown starts, by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a server keeps answering after reporting NOT_SERVING, by
/// default: long enough for Kubernetes to take a pod out of its endpoints.
pub const DEFAULT_SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// The environment variable that sets the drain period (`5s`, `0`, ...).
pub const SHUTDOWN_DRAIN_ENV: &str = "SHUTDOWN_DRAIN";

/// The environment variable that sets the largest message, in and out
/// (`4194304`, `64MiB`, ...).
pub const MAX_MESSAGE_SIZE_ENV: &str = "MAX_MESSAGE_SIZE";

/// The environment variable that sets the deadline of every call a server
/// answers (`30s`, ...); unset, calls have none beyond the caller's own.
pub const CALL_TIMEOUT_ENV: &str = "CALL_TIMEOUT";

/// The environment variable that sets how long a call may take before it
/// is logged as slow (`1s`, `250ms`, ...).
pub const SLOW_CALL_ENV: &str = "SLOW_CALL";

/// The methods a component's server answers itself (see `dispatch`).
const SAGA_HANDLE_PATH: &str = "/angzarr.SagaService/Handle";
const PROCESS_MANAGER_HANDLE_PATH: &str = "/angzarr.ProcessManagerService/Handle";
const PROJECTOR_HANDLE_PATH: &str = "/angzarr.ProjectorService/Handle";
const UPCAST_PATH: &str = "/angzarr.UpcasterService/Upcast";

/// The fully qualified name of the service aggregates serve; health reports it.
pub const COMMAND_HANDLER_SERVICE: &str = "angzarr.CommandHandlerService";

type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;
type AddService = Box<dyn FnOnce(&mut Routing, Option<usize>) + Send>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A readiness check: asked again until it passes.
struct ReadinessCheck {
    name: String,
    check: Box<dyn FnMut() -> CheckFuture + Send>,
}

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
    call_timeout: Option<Duration>,
    slow_call: Option<Duration>,
    concurrency_limit: Option<usize>,
    shutdown: Option<ShutdownSignal>,
    grace: Duration,
    drain: Option<Duration>,
    readiness: Vec<ReadinessCheck>,
    layer: L,
    #[cfg(feature = "tls")]
    tls: Option<tls::Identity>,
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
            call_timeout: None,
            slow_call: None,
            concurrency_limit: None,
            shutdown: None,
            grace: DEFAULT_SHUTDOWN_GRACE,
            drain: None,
            readiness: Vec::new(),
            layer: Identity::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Adds a generated tonic server, with the message size limit applied.
macro_rules! add_sized {
    ($server:expr) => {
        add_sized!($server, |_, _, _| ())
    };
    // `path` answered on the HTTP/2 bodies by `call`, on a clone of
    // `service` and the decoded request.
    ($server:expr, $path:expr, $service:ident, |$each:ident, $request:ident: $type:ty| $call:expr) => {{
        let direct = $service.clone();
        add_sized!($server, move |routing: &mut Routing, _, limit| {
            routing.unary($path, limit, move |$request: $type| {
                let $each = direct.clone();
                async move { $call.await }
            });
        })
    }};
    // `then` also gets the sized server and the limit, to reach a method
    // directly.
    ($server:expr, $then:expr) => {
        Box::new(move |routing: &mut Routing, limit: Option<usize>| {
            let mut server = $server;
            if let Some(bytes) = limit {
                server = server
                    .max_decoding_message_size(bytes)
                    .max_encoding_message_size(bytes);
            }
            ($then)(&mut *routing, &server, limit);
            routing.routes.add_service(server);
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
            add_sized!(
                service.into_server(),
                |routing: &mut Routing, server: &AggregateServer<A>, _| {
                    let server = server.clone();
                    routing.direct(HANDLE_PATH, Arc::new(move |call| server.handle(call)));
                }
            ),
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
            add_sized!(
                service.into_server(),
                SAGA_HANDLE_PATH,
                service,
                |service, request: SagaHandleRequest| service.handle_request(&request)
            ),
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
            add_sized!(
                service.into_server(),
                PROCESS_MANAGER_HANDLE_PATH,
                service,
                |service, request: ProcessManagerHandleRequest| service.handle_request(&request)
            ),
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
            add_sized!(
                service.into_server(),
                PROJECTOR_HANDLE_PATH,
                service,
                |service, book: EventBook| service.project(&book, false)
            ),
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
            add_sized!(
                service.into_server(),
                UPCAST_PATH,
                service,
                |service, request: UpcastRequest| service.upcast_request(request)
            ),
        )
    }

    /// Serves an application's own tonic service beside the components (a
    /// query API for a read model, say), on the server's address
    /// ([`listen`](Self::listen)), or on the listener of the first component
    /// when none was given. It shares everything else: health reports its
    /// name (and follows readiness and shutdown), reflection lists it when
    /// its descriptors are [added](Self::reflect), the call timeout applies
    /// (its message size limit is its own: tonic's generated servers have
    /// `max_decoding_message_size`), each call runs in a `grpc` tracing span (DEBUG)
    /// and a failed call is logged, and shutdown drains it with the rest.
    ///
    /// ```no_run
    /// # use angzarr_client::{CommandRouter, Server};
    /// # use angzarr_client::proto::event_query_service_server::{EventQueryService, EventQueryServiceServer};
    /// # #[derive(Default)] struct State;
    /// # async fn run(my_query_api: impl EventQueryService) -> Result<(), angzarr_client::ServeError> {
    /// Server::new()
    ///     .aggregate(CommandRouter::new("player", State::default))
    ///     .service(EventQueryServiceServer::new(my_query_api))
    ///     .listen_on("0.0.0.0:50303")?
    ///     .serve()
    ///     .await
    /// # }
    /// ```
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
            add: Box::new(move |routing: &mut Routing, _| {
                routing.routes.add_service(traced::Traced::new(service));
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

    /// Largest message the components accept or send, in bytes; without
    /// it, the environment's `MAX_MESSAGE_SIZE`, else
    /// [`DEFAULT_MAX_MESSAGE_SIZE`](crate::settings::DEFAULT_MAX_MESSAGE_SIZE)
    /// (64 MiB, what angzarr-local and the clients use). A larger request is
    /// refused with OUT_OF_RANGE naming the limit.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes);
        self
    }

    /// The deadline of every call this server answers: one that takes longer
    /// is ended, and its caller gets DEADLINE_EXCEEDED (clients of this
    /// crate) or CANCELLED "Timeout expired" (tonic's own word). Without it,
    /// the environment's `CALL_TIMEOUT`, else none beyond the caller's own.
    /// A caller's `grpc-timeout` header ends its call the same way when it
    /// is the sooner.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// How long a call may take before it is logged at WARN as slow, with
    /// what identifies it (domain, root, command or book, correlation id).
    /// Without it, the environment's `SLOW_CALL`, else
    /// [`DEFAULT_SLOW_CALL`](crate::DEFAULT_SLOW_CALL) (1 s). A call that is
    /// neither slow nor refused writes no line unless DEBUG is on, and costs
    /// nothing for its logging. The threshold is the process's: the last
    /// server bound sets it for every component in the process.
    pub fn slow_call(mut self, threshold: Duration) -> Self {
        self.slow_call = Some(threshold);
        self
    }

    /// At most this many calls in flight per connection; a call beyond them
    /// waits for one to finish, and the wait counts against its deadline.
    pub fn concurrency_limit(mut self, calls: usize) -> Self {
        self.concurrency_limit = Some(calls);
        self
    }

    /// Shuts down when `signal` completes, instead of on SIGINT or SIGTERM.
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long in-flight calls may take to finish once the listeners stop
    /// accepting (after the drain period); then they are closed.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long the server keeps answering after it reports NOT_SERVING on
    /// shutdown, so that whoever routes by health moves away first. Without
    /// it, the environment's `SHUTDOWN_DRAIN` (`5s`, `0`), else
    /// [`DEFAULT_SHUTDOWN_DRAIN`]. Tests and tools that stop their own
    /// servers want `Duration::ZERO`.
    ///
    /// ```no_run
    /// # use angzarr_client::{CommandRouter, Server};
    /// # #[derive(Default)] struct State;
    /// # async fn run() -> Result<(), angzarr_client::ServeError> {
    /// use std::time::Duration;
    ///
    /// Server::new()
    ///     .aggregate(CommandRouter::new("player", State::default))
    ///     .shutdown_drain(Duration::from_secs(10))   // behind a slow load balancer
    ///     .shutdown_grace(Duration::from_secs(20))   // long calls, then closed
    ///     .call_timeout(Duration::from_secs(30))
    ///     .max_message_size(16 << 20)
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    pub fn shutdown_drain(mut self, drain: Duration) -> Self {
        self.drain = Some(drain);
        self
    }

    /// Reports NOT_SERVING until `check` passes: it is asked once the
    /// listeners are bound, and again (backing off from 50 ms to 2 s) for as
    /// long as it fails, each failure logged at WARN with its reason. Once
    /// every check has passed, health reports SERVING. Calls are answered
    /// all along; health is what tells an orchestrator to send them.
    ///
    /// ```no_run
    /// # use angzarr_client::{ProjectorRouter, Server};
    /// # async fn run() -> Result<(), angzarr_client::ServeError> {
    /// Server::new()
    ///     .projector(ProjectorRouter::new("seating", ["table"]))
    ///     .readiness_check("read model", || async {
    ///         std::fs::metadata("/data/seating.db").map(|_| ()).map_err(|e| e.to_string())
    ///     })
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    pub fn readiness_check<F, Fut, E>(mut self, name: impl Into<String>, mut check: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.readiness.push(ReadinessCheck {
            name: name.into(),
            check: Box::new(move || {
                let answer = check();
                Box::pin(async move { answer.await.map_err(|error| error.to_string()) })
            }),
        });
        self
    }

    /// Serves TLS with this certificate chain and private key (PEM), on every
    /// listener, HTTP/2 agreed by ALPN; [`bind`](Self::bind) fails with
    /// [`ServeError::Tls`] when they cannot be used.
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        certificate_pem: impl AsRef<[u8]>,
        private_key_pem: impl AsRef<[u8]>,
    ) -> Self {
        self.tls = Some(tls::Identity {
            certificate_pem: certificate_pem.as_ref().to_vec(),
            private_key_pem: private_key_pem.as_ref().to_vec(),
        });
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
            call_timeout: self.call_timeout,
            slow_call: self.slow_call,
            concurrency_limit: self.concurrency_limit,
            shutdown: self.shutdown,
            grace: self.grace,
            drain: self.drain,
            readiness: self.readiness,
            layer: Stack::new(layer, self.layer),
            #[cfg(feature = "tls")]
            tls: self.tls,
        }
    }

    /// Binds every listener; health reports NOT_SERVING until
    /// [`BoundServer::serve`] runs and the readiness checks pass. Settings
    /// left unset are read from the environment here, and a value there that
    /// does not parse is an error naming the variable.
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
        if self.concurrency_limit == Some(0) {
            return Err(ServeError::InvalidSetting {
                setting: "concurrency_limit",
                reason: "a limit of 0 calls per connection would answer none; use 1 or more",
            });
        }
        let groups = self.group()?;
        let lookup = |name: &str| std::env::var(name).ok();
        let environment = |(variable, value, reason)| ServeError::Environment {
            variable,
            value,
            reason,
        };
        let max_message_size = match self.max_message_size {
            Some(bytes) => bytes,
            None => settings::from_env(MAX_MESSAGE_SIZE_ENV, &lookup, settings::parse_size)
                .map_err(environment)?
                .unwrap_or(settings::DEFAULT_MAX_MESSAGE_SIZE),
        };
        let call_timeout = match self.call_timeout {
            Some(timeout) => Some(timeout),
            None => settings::from_env(CALL_TIMEOUT_ENV, &lookup, settings::parse_duration)
                .map_err(environment)?,
        };
        let slow_call = match self.slow_call {
            Some(threshold) => threshold,
            None => settings::from_env(SLOW_CALL_ENV, &lookup, settings::parse_duration)
                .map_err(environment)?
                .unwrap_or(crate::observe::DEFAULT_SLOW_CALL),
        };
        let drain = match self.drain {
            Some(drain) => drain,
            None => settings::from_env(SHUTDOWN_DRAIN_ENV, &lookup, settings::parse_duration)
                .map_err(environment)?
                .unwrap_or(DEFAULT_SHUTDOWN_DRAIN),
        };
        let Server {
            registrations,
            descriptor_sets,
            concurrency_limit,
            shutdown,
            grace,
            readiness,
            layer,
            #[cfg(feature = "tls")]
            tls,
            ..
        } = self;
        #[cfg(feature = "tls")]
        let tls = tls.as_ref().map(tls::Identity::acceptor).transpose()?;
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
                    call_timeout,
                    layer.clone(),
                    concurrency_limit,
                    #[cfg(feature = "tls")]
                    tls.clone(),
                )
                .await?,
            );
        }
        crate::observe::set_slow_call(slow_call);
        let (shutdown, signals) = match shutdown {
            Some(shutdown) => (shutdown, false),
            None => (Box::pin(shutdown_signal()) as ShutdownSignal, true),
        };
        Ok(BoundServer {
            listeners,
            shutdown,
            signals,
            grace,
            drain,
            readiness,
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
    /// Whether `shutdown` is the operating system's signals, so that a
    /// second one can end the drain early.
    signals: bool,
    grace: Duration,
    drain: Duration,
    readiness: Vec<ReadinessCheck>,
}

struct BoundListener {
    local: ListenAddress,
    listener: Listener,
    service: Served,
    connections: Connections,
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

    /// Serves until the shutdown signal: health turns SERVING once the
    /// readiness checks pass; on the signal it turns NOT_SERVING, calls are
    /// still answered for the drain period, then the listeners stop
    /// accepting, in-flight calls finish (bounded by the grace period) and
    /// socket files are removed. A listener failing stops the others.
    pub async fn serve(self) -> Result<(), ServeError> {
        let BoundServer {
            listeners,
            shutdown,
            signals,
            grace,
            drain,
            readiness,
        } = self;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let reporters: Reporters = listeners
            .iter()
            .map(|listener| (listener.health.clone(), listener.health_names.clone()))
            .collect();
        // Without checks the server is ready before its first call is read.
        let ready = if readiness.is_empty() {
            report(&reporters, ServingStatus::Serving).await;
            tokio::spawn(async {})
        } else {
            tokio::spawn(become_ready(readiness, reporters.clone()))
        };
        let mut running = tokio::task::JoinSet::new();
        let mut sockets = Vec::new();
        for listener in listeners {
            sockets.extend(listener.listener.socket_path().map(ToOwned::to_owned));
            let mut stopped = stopped.clone();
            running.spawn(listener.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }));
        }

        let finish = |mut running: tokio::task::JoinSet<Result<(), ServeError>>| async move {
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
                ready.abort();
                report(&reporters, ServingStatus::NotServing).await;
                if !drain.is_zero() {
                    tracing::info!(?drain, "shutting down: NOT_SERVING, still answering while load balancers move away");
                    let early = async {
                        if signals {
                            shutdown_signal().await;
                        } else {
                            std::future::pending::<()>().await;
                        }
                    };
                    tokio::select! {
                        () = tokio::time::sleep(drain) => {}
                        () = early => tracing::info!("a second signal: ending the drain now"),
                    }
                }
                tracing::info!("shutting down: no new connections; in-flight calls finishing");
                let _ = stop.send(true);
                match tokio::time::timeout(grace, finish(running)).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(?grace, "in-flight calls did not finish in time; closing them");
                        Ok(())
                    }
                }
            }
            Some(first) = running.join_next() => {
                ready.abort();
                report(&reporters, ServingStatus::NotServing).await;
                let _ = stop.send(true);
                let rest = tokio::time::timeout(grace, finish(running)).await.unwrap_or(Ok(()));
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

type Reporters = Vec<(HealthReporter, Vec<&'static str>)>;

/// Sets every health name of every listener to `status`.
async fn report(reporters: &Reporters, status: ServingStatus) {
    for (health, names) in reporters {
        for name in names {
            health.set_service_status(*name, status).await;
        }
    }
}

/// Runs the readiness checks until each has passed, then reports SERVING.
async fn become_ready(checks: Vec<ReadinessCheck>, reporters: Reporters) {
    for mut check in checks {
        let mut wait = Duration::from_millis(50);
        loop {
            match (check.check)().await {
                Ok(()) => {
                    tracing::info!(check = %check.name, "ready");
                    break;
                }
                Err(reason) => {
                    tracing::warn!(check = %check.name, %reason, retry_in = ?wait, "not ready yet");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
    report(&reporters, ServingStatus::Serving).await;
    tracing::info!("SERVING");
}

impl BoundListener {
    #[allow(clippy::too_many_arguments)]
    async fn bind<L, ResBody>(
        address: ListenAddress,
        registrations: Vec<Registration>,
        descriptor_sets: &[&'static [u8]],
        limit: usize,
        call_timeout: Option<Duration>,
        layer: L,
        concurrency_limit: Option<usize>,
        #[cfg(feature = "tls")] tls: Option<tokio_rustls::TlsAcceptor>,
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
                .set_service_status(*name, ServingStatus::NotServing)
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

        let mut routing = Routing::default();
        routing.routes.add_service(health_service);
        routing.routes.add_service(reflection);
        let mut components = Vec::with_capacity(registrations.len());
        for registration in registrations {
            components.push(registration.label);
            (registration.add)(&mut routing, Some(limit));
        }
        // Without layers, calls are dispatched as they are: no boxed future
        // and no second body wrapper per call, and the hot methods skip the
        // router. Layers are written against the routes.
        let service = if std::any::TypeId::of::<L>() == std::any::TypeId::of::<Identity>() {
            Served::Dispatch(routing.into_dispatch())
        } else {
            Served::Layered(BoxCloneService::new(
                layer
                    .layer(routing.into_routes())
                    .map_response(|response: Response<ResBody>| response.map(Body::new))
                    .map_err(Into::into),
            ))
        };

        let connections = Connections::new(
            call_timeout,
            concurrency_limit,
            #[cfg(feature = "tls")]
            tls,
        );
        tracing::info!(address = %local, components = %components.join(", "), "server listening");
        Ok(BoundListener {
            local,
            listener,
            service,
            connections,
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
            connections,
            ..
        } = self;
        connections.serve(listener, service, stopped).await;
        Ok(())
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
