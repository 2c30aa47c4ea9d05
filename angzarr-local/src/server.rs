//! Assembling and running an embedded coordinator.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use angzarr_client::{shutdown_signal, Aggregate, BoundServer, ListenAddress, ServeError, Server};
use angzarr_proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_proto::event_query_service_server::EventQueryServiceServer;

use crate::coordinator::Coordinator;
use crate::route::{DomainHandler, InProcess, Remote};
use crate::service::CoordinatorService;
use crate::store::{EventStore, MemoryStore};

/// The default address: `127.0.0.1:1310`, the coordinator's usual port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1310";

/// Largest request or response the coordinator handles, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

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
    /// The server could not start, or failed (address taken, not a socket, ...).
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Builds an embedded coordinator: a store and, per domain, where its
/// business logic runs.
///
/// ```
/// # use angzarr_local::{LocalCoordinator, MemoryStore};
/// let coordinator = LocalCoordinator::builder()
///     .store(MemoryStore::new())
///     .domain_endpoint("player", "http://127.0.0.1:50303")
///     .unwrap()
///     .build();
/// assert_eq!(coordinator.domains().collect::<Vec<_>>(), ["player"]);
/// ```
#[derive(Default)]
pub struct LocalCoordinatorBuilder {
    store: Option<Arc<dyn EventStore>>,
    domains: BTreeMap<String, Arc<dyn DomainHandler>>,
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

    /// A [`Server`] serving this coordinator (`CommandHandlerCoordinatorService`
    /// and `EventQueryService`, with health and reflection), to which
    /// components and options can still be added.
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
                EventQueryServiceServer::new(service)
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
    }

    /// Binds `address` (a `SocketAddr`, or a [`ListenAddress`] such as a Unix
    /// socket) and returns the bound server, which serves until `shutdown`
    /// completes: with port 0, its [`local_address`](BoundServer::local_address)
    /// tells the port.
    pub async fn bind(
        self,
        address: impl Into<ListenAddress>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<BoundServer, LocalError> {
        Ok(self
            .into_server()
            .listen(address)
            .shutdown_signal(shutdown)
            .bind()
            .await?)
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

    /// Sends `domain`'s commands to the aggregate served at `endpoint`.
    pub fn domain_endpoint(mut self, domain: &str, endpoint: &str) -> Result<Self, LocalError> {
        let remote = Remote::new(endpoint).map_err(|reason| LocalError::Domain {
            domain: domain.to_owned(),
            reason,
        })?;
        self.add(domain, Arc::new(remote));
        match self.errors.pop() {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    /// Sends `domain`'s commands to a custom [`DomainHandler`].
    pub fn domain_handler(mut self, domain: &str, handler: impl DomainHandler) -> Self {
        self.add(domain, Arc::new(handler));
        self
    }

    /// Runs `domain`'s commands on `aggregate` in this process.
    pub fn domain_aggregate<A: Aggregate>(mut self, aggregate: A) -> Self {
        let domain = aggregate.domain().to_owned();
        self.add(&domain, Arc::new(InProcess::new(aggregate)));
        self
    }

    fn add(&mut self, domain: &str, handler: Arc<dyn DomainHandler>) {
        if let Err(status) = crate::validate::domain(domain) {
            self.errors.push(LocalError::Domain {
                domain: domain.to_owned(),
                reason: status.message().to_owned(),
            });
        } else if self.domains.insert(domain.to_owned(), handler).is_some() {
            self.errors.push(LocalError::Domain {
                domain: domain.to_owned(),
                reason: "registered twice".to_owned(),
            });
        }
    }

    /// The coordinator, or the first registration problem.
    pub fn try_build(mut self) -> Result<LocalCoordinator, LocalError> {
        if let Some(error) = self.errors.drain(..).next() {
            return Err(error);
        }
        Ok(self.build())
    }

    /// The coordinator (registration problems are reported by [`try_build`](Self::try_build)).
    pub fn build(self) -> LocalCoordinator {
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        LocalCoordinator {
            coordinator: Arc::new(Coordinator::new(store, self.domains)),
        }
    }
}
