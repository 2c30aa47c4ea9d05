//! Assembling and running an embedded coordinator.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use angzarr_client::{
    shutdown_signal, Aggregate, AggregateService, BoundServer, ComponentKind, ListenAddress,
    ProcessManager, ProcessManagerService, Projector, ProjectorService, Saga, SagaService,
    ServeError, Server, Upcaster, UpcasterService,
};
use angzarr_proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_proto::event_query_service_server::EventQueryServiceServer;
use angzarr_proto::process_manager_coordinator_service_server::ProcessManagerCoordinatorServiceServer;
use angzarr_proto::projector_coordinator_service_server::ProjectorCoordinatorServiceServer;
use angzarr_proto::saga_coordinator_service_server::SagaCoordinatorServiceServer;

use crate::component::{
    AggregateLogic, Bounded, Deadline, ProcessManagerLogic, ProjectorLogic, Remote, SagaLogic,
    UpcasterLogic,
};
use crate::coordinator::Coordinator;
use crate::delivery::{Backlog, Delivery, DeliveryOptions, SettleError};
use crate::registry::{ConsumerLogic, Registry, Subscription};
use crate::service::CoordinatorService;
use crate::store::{DeadLetter, EventStore, MemoryStore, StoreError};

/// The default address: `127.0.0.1:1310`, the coordinator's usual port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1310";

/// Largest request or response the coordinator handles, in bytes: the one
/// default of servers and clients alike
/// ([`DEFAULT_MAX_MESSAGE_SIZE`](angzarr_client::settings::DEFAULT_MAX_MESSAGE_SIZE)).
pub const MAX_MESSAGE_BYTES: usize = angzarr_client::settings::DEFAULT_MAX_MESSAGE_SIZE;

/// Why a coordinator could not be built or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A domain was registered twice, or its name breaks Angzarr's rule.
    #[error("domain `{domain}`: {reason}")]
    Domain {
        /// The domain.
        domain: String,
        /// What is wrong.
        reason: String,
    },
    /// A saga, process manager, projector or upcaster cannot be registered.
    #[error("{kind} `{name}`: {reason}")]
    Component {
        /// Its kind.
        kind: ComponentKind,
        /// Its name (an upcaster's is its domain).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The store failed while preparing delivery.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// A setting that cannot work.
    #[error("{setting}: {reason}")]
    Setting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// The server could not start, or failed (address taken, not a socket, ...).
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Builds an embedded coordinator: a store, each domain's aggregate (and
/// upcaster), and the sagas, process managers and projectors its books are
/// delivered to, each in this process or at a gRPC endpoint.
///
/// ```
/// # use angzarr_local::{LocalCoordinator, MemoryStore, Subscription};
/// let coordinator = LocalCoordinator::builder()
///     .store(MemoryStore::new())
///     .domain_endpoint("player", "http://127.0.0.1:50303")
///     .unwrap()
///     .saga_endpoint("saga-table-player", "table", "unix:/tmp/angzarr/saga-table-player.sock")
///     .unwrap()
///     .projector_endpoint("seating", &[Subscription::domain("table")], "127.0.0.1:50400")
///     .unwrap()
///     .build();
/// assert_eq!(coordinator.domains().collect::<Vec<_>>(), ["player"]);
/// ```
#[derive(Default)]
pub struct LocalCoordinatorBuilder {
    store: Option<Arc<dyn EventStore>>,
    registry: Registry,
    options: DeliveryOptions,
    max_attempts: Option<u32>,
    deadline: Deadline,
    errors: Vec<LocalError>,
}

/// An embedded coordinator, ready to serve.
pub struct LocalCoordinator {
    coordinator: Arc<Coordinator>,
}

impl LocalCoordinator {
    /// Starts building one.
    pub fn builder() -> LocalCoordinatorBuilder {
        LocalCoordinatorBuilder::default()
    }

    /// The registered domains, sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.coordinator.domains()
    }

    /// The coordinator behind the services (for in-process use).
    pub fn coordinator(&self) -> &Arc<Coordinator> {
        &self.coordinator
    }

    /// Starts delivering published books (the serving methods do it
    /// themselves): call it when driving the coordinator in process.
    pub fn start_delivery(&self) {
        self.coordinator.start_delivery();
    }

    /// Waits until every consumer has processed every book written so far;
    /// [`SettleError::DeadLetters`] when some are dead letters (see
    /// [`Coordinator::settled`]).
    pub async fn settled(&self) -> Result<(), SettleError> {
        self.coordinator.settled().await
    }

    /// Every dead letter, oldest first (see [`Coordinator::dead_letters`]).
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, tonic::Status> {
        self.coordinator.dead_letters().await
    }

    /// Delivers dead letter `id` again, to its consumer alone (see
    /// [`Coordinator::replay_dead_letter`]).
    pub async fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, tonic::Status> {
        self.coordinator.replay_dead_letter(id).await
    }

    /// Removes dead letter `id` for good (see
    /// [`Coordinator::discard_dead_letter`]).
    pub async fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, tonic::Status> {
        self.coordinator.discard_dead_letter(id).await
    }

    /// A client of this coordinator from the same process, over an in-memory
    /// connection: the real coordinator, aggregates and delivery, with no
    /// port to choose and no socket file, for tests of code that sends
    /// commands. Delivery starts. Call it inside a Tokio runtime; the
    /// coordinator runs as long as the client (or a clone) lives.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use angzarr_local::LocalCoordinator;
    /// use examples::player::{chips, Player};
    /// use examples::proto::{DepositFunds, RegisterPlayer};
    ///
    /// let client = LocalCoordinator::builder().domain_aggregate(Player).build().client();
    ///
    /// let root = uuid::Uuid::new_v4();
    /// client.command("player", root)
    ///     .with_command(&RegisterPlayer { display_name: "Alice".into(), email: "a@example.com".into(), ..Default::default() })
    ///     .execute().await.unwrap();
    /// let refused = client.command("player", root).with_sequence(1)
    ///     .with_command(&DepositFunds { amount: Some(chips(0)) })
    ///     .execute().await.unwrap_err();
    /// assert_eq!(refused.message(), "amount must be positive");
    /// assert_eq!(client.next_sequence("player", root).await.unwrap(), 1);
    /// # }
    /// ```
    pub fn client(&self) -> angzarr_client::DomainClient {
        self.coordinator.start_delivery();
        let service = CoordinatorService::new(Arc::clone(&self.coordinator));
        let limit = MAX_MESSAGE_BYTES;
        let routes = tonic::service::Routes::new(
            CommandHandlerCoordinatorServiceServer::new(service.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            EventQueryServiceServer::new(service.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            ProjectorCoordinatorServiceServer::new(service.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            SagaCoordinatorServiceServer::new(service.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        )
        .add_service(
            ProcessManagerCoordinatorServiceServer::new(service)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
        angzarr_client::DomainClient::from_channel(angzarr_client::testing::in_memory_channel(
            routes,
        ))
    }

    /// A [`Server`] serving this coordinator (`CommandHandlerCoordinatorService`,
    /// `EventQueryService` and the speculative calls of the projector, saga
    /// and process-manager coordinator services, with health and reflection), to which
    /// components and options can still be added. Delivery starts when the
    /// server is bound through [`bind`](Self::bind); with a server of your
    /// own, call [`start_delivery`](Self::start_delivery).
    pub fn into_server(self) -> Server {
        let service = CoordinatorService::new(Arc::clone(&self.coordinator));
        let limit = MAX_MESSAGE_BYTES;
        Server::new()
            .service(
                CommandHandlerCoordinatorServiceServer::new(service.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .service(
                EventQueryServiceServer::new(service.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .service(
                ProjectorCoordinatorServiceServer::new(service.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .service(
                SagaCoordinatorServiceServer::new(service.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .service(
                ProcessManagerCoordinatorServiceServer::new(service)
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
    }

    /// Binds `address` (a `SocketAddr`, or a [`ListenAddress`] such as a Unix
    /// socket), starts delivery, and returns the bound server, which serves
    /// until `shutdown` completes (delivery stops with it): with port 0, its
    /// [`local_address`](BoundServer::local_address) tells the port. It stops
    /// without a drain period: nothing routes to a development coordinator
    /// by health.
    pub async fn bind(
        self,
        address: impl Into<ListenAddress>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<BoundServer, LocalError> {
        let coordinator = Arc::clone(&self.coordinator);
        let bound = self
            .into_server()
            .listen(address)
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal({
                let coordinator = Arc::clone(&coordinator);
                async move {
                    shutdown.await;
                    coordinator.stop_delivery();
                }
            })
            .bind()
            .await?;
        coordinator.start_delivery();
        Ok(bound)
    }

    /// Serves on `address` until `shutdown` completes.
    pub async fn serve_with_shutdown(
        self,
        address: impl Into<ListenAddress>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        Ok(self.bind(address, shutdown).await?.serve().await?)
    }

    /// Serves on `address` until SIGINT or SIGTERM.
    pub async fn serve(self, address: impl Into<ListenAddress>) -> Result<(), LocalError> {
        self.serve_with_shutdown(address, shutdown_signal()).await
    }

    /// Serves on a Unix socket at `path` (creating its directory; a stale
    /// socket is replaced, any other file refused) until `shutdown` completes.
    pub async fn serve_unix(
        self,
        path: &std::path::Path,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        self.serve_with_shutdown(ListenAddress::Unix(path.to_owned()), shutdown)
            .await
    }
}

impl LocalCoordinatorBuilder {
    /// Stores events in `store` (default: in memory).
    pub fn store(mut self, store: impl EventStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How delivery retries a consumer that is down or failing.
    pub fn delivery_options(mut self, options: DeliveryOptions) -> Self {
        self.options = options;
        self
    }

    /// The deadline of every call to a component, in process or over gRPC
    /// (default [`DEFAULT_CALL_TIMEOUT`](crate::component::DEFAULT_CALL_TIMEOUT), 30 s): a call past it fails with
    /// DEADLINE_EXCEEDED naming the component, the command waiting on it is
    /// answered so, and delivery retries the book later. Applies to every
    /// component, registered before or after.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            self.errors.push(LocalError::Setting {
                setting: "call_timeout",
                reason: "a deadline of 0 would fail every call; give one above 0",
            });
        } else {
            self.deadline.set(timeout);
        }
        self
    }

    /// Failed attempts after which a book a consumer keeps failing becomes a
    /// dead letter and the consumer moves on (default
    /// [`DEFAULT_MAX_ATTEMPTS`](crate::DEFAULT_MAX_ATTEMPTS), 10; see
    /// [`delivery`](crate::delivery)). Calls to a consumer that cannot be
    /// reached are not attempts. Applies whether set before or after
    /// [`delivery_options`](Self::delivery_options).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        if attempts == 0 {
            self.errors.push(LocalError::Setting {
                setting: "max_attempts",
                reason: "0 attempts would deliver nothing; give 1 or more",
            });
        } else {
            self.max_attempts = Some(attempts);
        }
        self
    }

    /// Sends `domain`'s commands to the aggregate served at `endpoint`
    /// (`host:port`, `http://host:port`, `unix:/path` or a socket path).
    pub fn domain_endpoint(mut self, domain: &str, endpoint: &str) -> Result<Self, LocalError> {
        let remote = Remote::new(ComponentKind::Aggregate, endpoint).map_err(|reason| {
            LocalError::Domain {
                domain: domain.to_owned(),
                reason,
            }
        })?;
        self.add_domain(domain, Arc::new(remote));
        self.first_error()
    }

    /// Sends `domain`'s commands to a custom [`AggregateLogic`].
    pub fn domain_logic(mut self, domain: &str, logic: impl AggregateLogic) -> Self {
        self.add_domain(domain, Arc::new(logic));
        self
    }

    /// Runs `domain`'s commands on `aggregate` in this process.
    pub fn domain_aggregate<A: Aggregate>(mut self, aggregate: A) -> Self {
        let domain = aggregate.domain().to_owned();
        self.add_domain(&domain, Arc::new(AggregateService::new(aggregate)));
        self
    }

    /// Runs `saga` in this process, on the books of its source domain.
    pub fn saga<S: Saga>(self, saga: S) -> Self {
        let (name, source) = (saga.name().to_owned(), saga.source().to_owned());
        self.saga_logic(&name, &source, SagaService::new(saga))
    }

    /// Delivers `source`'s books to the saga `name` served at `endpoint`.
    pub fn saga_endpoint(
        self,
        name: &str,
        source: &str,
        endpoint: &str,
    ) -> Result<Self, LocalError> {
        let remote = self.remote(ComponentKind::Saga, name, endpoint)?;
        self.saga_logic(name, source, remote).first_error()
    }

    /// Delivers `source`'s books to a custom [`SagaLogic`] named `name`.
    pub fn saga_logic(mut self, name: &str, source: &str, logic: impl SagaLogic) -> Self {
        let subscription = Subscription::parse(source);
        self.add_consumer(
            ComponentKind::Saga,
            name,
            subscription.map(|s| vec![s]),
            ConsumerLogic::Saga(Arc::new(logic)),
        );
        self
    }

    /// Runs the process manager `pm` in this process, on the books of its
    /// source domains that carry a correlation id.
    pub fn process_manager<P: ProcessManager>(self, pm: P) -> Self {
        let name = pm.name().to_owned();
        let subscriptions = pm
            .sources()
            .iter()
            .map(|source| Subscription::parse(source))
            .collect();
        self.process_manager_logic(&name, subscriptions, ProcessManagerService::new(pm))
    }

    /// Delivers the books matching `subscriptions` to the process manager
    /// `name` served at `endpoint`. Its state is stored in domain `name`.
    pub fn process_manager_endpoint(
        self,
        name: &str,
        subscriptions: &[Subscription],
        endpoint: &str,
    ) -> Result<Self, LocalError> {
        let remote = self.remote(ComponentKind::ProcessManager, name, endpoint)?;
        self.process_manager_logic(name, Ok(subscriptions.to_vec()), remote)
            .first_error()
    }

    /// Delivers the books matching `subscriptions` to a custom
    /// [`ProcessManagerLogic`] named `name`.
    pub fn process_manager_logic(
        mut self,
        name: &str,
        subscriptions: Result<Vec<Subscription>, String>,
        logic: impl ProcessManagerLogic,
    ) -> Self {
        self.add_consumer(
            ComponentKind::ProcessManager,
            name,
            subscriptions,
            ConsumerLogic::ProcessManager(Arc::new(logic)),
        );
        self
    }

    /// Runs `projector` in this process, on the books of its domains.
    pub fn projector<P: Projector>(self, projector: P) -> Self {
        let name = projector.name().to_owned();
        let subscriptions = projector
            .domains()
            .iter()
            .map(|domain| Subscription::parse(domain))
            .collect();
        self.projector_logic(&name, subscriptions, ProjectorService::new(projector))
    }

    /// Delivers the books matching `subscriptions` to the projector `name`
    /// served at `endpoint`.
    pub fn projector_endpoint(
        self,
        name: &str,
        subscriptions: &[Subscription],
        endpoint: &str,
    ) -> Result<Self, LocalError> {
        let remote = self.remote(ComponentKind::Projector, name, endpoint)?;
        self.projector_logic(name, Ok(subscriptions.to_vec()), remote)
            .first_error()
    }

    /// Delivers the books matching `subscriptions` to a custom
    /// [`ProjectorLogic`] named `name`.
    pub fn projector_logic(
        mut self,
        name: &str,
        subscriptions: Result<Vec<Subscription>, String>,
        logic: impl ProjectorLogic,
    ) -> Self {
        self.add_consumer(
            ComponentKind::Projector,
            name,
            subscriptions,
            ConsumerLogic::Projector(Arc::new(logic)),
        );
        self
    }

    /// Runs `upcaster` in this process on the history loaded for its domain.
    pub fn upcaster<U: Upcaster>(self, upcaster: U) -> Self {
        let domain = upcaster.domain().to_owned();
        self.upcaster_logic(&domain, UpcasterService::new(upcaster))
    }

    /// Upcasts `domain`'s history with the upcaster served at `endpoint`
    /// (often the aggregate's own address).
    pub fn upcaster_endpoint(self, domain: &str, endpoint: &str) -> Result<Self, LocalError> {
        let remote = self.remote(ComponentKind::Upcaster, domain, endpoint)?;
        self.upcaster_logic(domain, remote).first_error()
    }

    /// Registers every component of a topology file, each at the endpoint
    /// the file gives it (or its transport's convention). Starting the
    /// programs it names is [`Supervisor`](crate::supervisor::Supervisor)'s
    /// work.
    pub fn topology(mut self, topology: &crate::config::Topology) -> Result<Self, LocalError> {
        for spec in &topology.components {
            let endpoint =
                spec.endpoint(&topology.transport)
                    .map_err(|error| LocalError::Component {
                        kind: spec.kind,
                        name: spec.name.clone(),
                        reason: error.to_string(),
                    })?;
            self = match spec.kind {
                ComponentKind::Aggregate => {
                    let builder = self.domain_endpoint(&spec.name, &endpoint)?;
                    if spec.upcaster {
                        builder.upcaster_endpoint(&spec.name, &endpoint)?
                    } else {
                        builder
                    }
                }
                ComponentKind::Saga => {
                    let [source] = spec.subscriptions.as_slice() else {
                        return Err(LocalError::Component {
                            kind: spec.kind,
                            name: spec.name.clone(),
                            reason: "a saga listens to one domain".to_owned(),
                        });
                    };
                    self.saga_endpoint(&spec.name, &source.to_string(), &endpoint)?
                }
                ComponentKind::ProcessManager => {
                    self.process_manager_endpoint(&spec.name, &spec.subscriptions, &endpoint)?
                }
                ComponentKind::Projector => {
                    self.projector_endpoint(&spec.name, &spec.subscriptions, &endpoint)?
                }
                ComponentKind::Upcaster => self.upcaster_endpoint(&spec.name, &endpoint)?,
            };
        }
        Ok(self)
    }

    /// Upcasts `domain`'s history with a custom [`UpcasterLogic`].
    pub fn upcaster_logic(mut self, domain: &str, logic: impl UpcasterLogic) -> Self {
        if let Err(status) = crate::validate::domain(domain) {
            self.component_error(ComponentKind::Upcaster, domain, status.message());
        } else if self
            .registry
            .upcasters
            .insert(
                domain.to_owned(),
                Bounded::<dyn UpcasterLogic>::new(Arc::new(logic), &self.deadline),
            )
            .is_some()
        {
            self.component_error(ComponentKind::Upcaster, domain, "registered twice");
        }
        self
    }

    fn remote(
        &self,
        kind: ComponentKind,
        name: &str,
        endpoint: &str,
    ) -> Result<Remote, LocalError> {
        Remote::new(kind, endpoint).map_err(|reason| LocalError::Component {
            kind,
            name: name.to_owned(),
            reason,
        })
    }

    fn first_error(mut self) -> Result<Self, LocalError> {
        match self.errors.pop() {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    fn component_error(&mut self, kind: ComponentKind, name: &str, reason: &str) {
        self.errors.push(LocalError::Component {
            kind,
            name: name.to_owned(),
            reason: reason.to_owned(),
        });
    }

    fn add_domain(&mut self, domain: &str, logic: Arc<dyn AggregateLogic>) {
        if let Err(status) = crate::validate::domain(domain) {
            self.errors.push(LocalError::Domain {
                domain: domain.to_owned(),
                reason: status.message().to_owned(),
            });
        } else if self
            .registry
            .aggregates
            .insert(
                domain.to_owned(),
                Bounded::<dyn AggregateLogic>::new(logic, &self.deadline),
            )
            .is_some()
        {
            self.errors.push(LocalError::Domain {
                domain: domain.to_owned(),
                reason: "registered twice".to_owned(),
            });
        }
    }

    fn add_consumer(
        &mut self,
        kind: ComponentKind,
        name: &str,
        subscriptions: Result<Vec<Subscription>, String>,
        logic: ConsumerLogic,
    ) {
        if let Err(status) = crate::validate::domain(name) {
            let reason = format!("invalid name: {}", status.message());
            return self.component_error(kind, name, &reason);
        }
        let subscriptions = match subscriptions {
            Ok(subscriptions) if subscriptions.is_empty() => {
                return self.component_error(kind, name, "subscribes to no domain");
            }
            Ok(subscriptions) => subscriptions,
            Err(reason) => return self.component_error(kind, name, &reason),
        };
        if self.registry.consumer(kind, name).is_some() {
            return self.component_error(kind, name, "registered twice");
        }
        let logic = match logic {
            ConsumerLogic::Saga(logic) => {
                ConsumerLogic::Saga(Bounded::<dyn SagaLogic>::new(logic, &self.deadline))
            }
            ConsumerLogic::ProcessManager(logic) => {
                ConsumerLogic::ProcessManager(Bounded::<dyn ProcessManagerLogic>::new(
                    logic,
                    &self.deadline,
                ))
            }
            ConsumerLogic::Projector(logic) => {
                ConsumerLogic::Projector(Bounded::<dyn ProjectorLogic>::new(logic, &self.deadline))
            }
        };
        self.registry
            .add_consumer(name.to_owned(), subscriptions, logic);
    }

    fn delivery(&self) -> DeliveryOptions {
        DeliveryOptions {
            max_attempts: self.max_attempts.unwrap_or(self.options.max_attempts),
            ..self.options
        }
    }

    /// The coordinator, or the first registration problem. Gives each
    /// consumer registered for the first time its place in the outbox (its
    /// head: it receives the books written from now on).
    pub fn try_build(mut self) -> Result<LocalCoordinator, LocalError> {
        for consumer in &self.registry.consumers {
            if consumer.kind() == ComponentKind::ProcessManager
                && self.registry.aggregates.contains_key(&consumer.name)
            {
                let name = consumer.name.clone();
                self.component_error(
                    ComponentKind::ProcessManager,
                    &name,
                    "its state would be stored in a domain an aggregate serves: name it apart",
                );
                break;
            }
        }
        if let Some(error) = self.errors.drain(..).next() {
            return Err(error);
        }
        let store = self
            .store
            .take()
            .unwrap_or_else(|| Arc::new(MemoryStore::new()));
        crate::delivery::initial_positions(store.as_ref(), &self.registry.consumers)?;
        let backlog = Backlog::scan(store.as_ref(), &self.registry.consumers)?;
        let delivery = Delivery::new(self.delivery(), backlog, self.deadline.clone());
        Ok(LocalCoordinator {
            coordinator: Arc::new(Coordinator::new(store, self.registry, delivery)),
        })
    }

    /// The coordinator. Registration problems are left out here and
    /// reported by [`try_build`](Self::try_build); a store failure while
    /// placing new consumers in the outbox is logged.
    pub fn build(mut self) -> LocalCoordinator {
        self.errors.clear();
        let store = self
            .store
            .take()
            .unwrap_or_else(|| Arc::new(MemoryStore::new()));
        if let Err(error) =
            crate::delivery::initial_positions(store.as_ref(), &self.registry.consumers)
        {
            tracing::error!(%error, "cannot place new consumers in the outbox");
        }
        // Without it, synchronous deliveries could overtake what the outbox
        // still holds: they all go through the outbox instead.
        let backlog =
            Backlog::scan(store.as_ref(), &self.registry.consumers).unwrap_or_else(|error| {
                tracing::error!(%error, "cannot read the outbox's backlog");
                Backlog::default()
            });
        let delivery = Delivery::new(self.delivery(), backlog, self.deadline.clone());
        LocalCoordinator {
            coordinator: Arc::new(Coordinator::new(store, self.registry, delivery)),
        }
    }
}
