//! Assembling and running an embedded coordinator.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use angzarr_client::Aggregate;
use angzarr_proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_proto::event_query_service_server::EventQueryServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tonic_health::ServingStatus;

use crate::coordinator::Coordinator;
use crate::route::{DomainHandler, InProcess, Remote};
use crate::service::CoordinatorService;
use crate::store::{EventStore, MemoryStore};

/// The default address: `127.0.0.1:1310`, the coordinator's usual port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1310";

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
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The reflection service could not be built.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("the coordinator failed: {0}")]
    Transport(#[from] tonic::transport::Error),
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

    /// Binds `address` and serves until `shutdown` completes.
    pub async fn serve_with_shutdown(
        self,
        address: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| LocalError::Bind {
                address: address.to_string(),
                source,
            })?;
        self.serve_listener(listener, shutdown).await
    }

    /// Serves on `address` until SIGINT.
    pub async fn serve(self, address: SocketAddr) -> Result<(), LocalError> {
        self.serve_with_shutdown(address, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }

    /// Serves on a Unix socket at `path` (replacing a stale socket) until
    /// `shutdown` completes.
    pub async fn serve_unix(
        self,
        path: &std::path::Path,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        let bind_error = |source| LocalError::Bind {
            address: format!("unix:{}", path.display()),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(bind_error)?;
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            std::fs::remove_file(path).map_err(bind_error)?;
        }
        let listener = tokio::net::UnixListener::bind(path).map_err(bind_error)?;
        let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
        let result = self
            .router()
            .await?
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        let _ = std::fs::remove_file(path);
        Ok(result?)
    }

    /// Serves on an already bound listener until `shutdown` completes.
    pub async fn serve_listener(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        let incoming = TcpListenerStream::new(listener)
            .map(|accepted| accepted.and_then(|stream| stream.set_nodelay(true).map(|()| stream)));
        self.router()
            .await?
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }

    /// Health (SERVING), reflection, and the two coordinator services.
    async fn router(self) -> Result<tonic::transport::server::Router, LocalError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for service in [
            "",
            "angzarr.CommandHandlerCoordinatorService",
            "angzarr.EventQueryService",
        ] {
            health
                .set_service_status(service, ServingStatus::Serving)
                .await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|error| LocalError::Reflection(error.to_string()))?;
        let service = CoordinatorService::new(Arc::clone(&self.coordinator));
        let limit = 64 * 1024 * 1024;
        Ok(tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection)
            .add_service(
                CommandHandlerCoordinatorServiceServer::new(service.clone())
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            )
            .add_service(
                EventQueryServiceServer::new(service)
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            ))
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
