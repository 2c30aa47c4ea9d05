//! The coordinator's gRPC services.

use std::pin::Pin;
use std::sync::Arc;

use angzarr_proto::command_handler_coordinator_service_server::CommandHandlerCoordinatorService;
use angzarr_proto::event_query_service_server::EventQueryService;
use angzarr_proto::process_manager_coordinator_service_server::ProcessManagerCoordinatorService;
use angzarr_proto::projector_coordinator_service_server::ProjectorCoordinatorService;
use angzarr_proto::saga_coordinator_service_server::SagaCoordinatorService;
use angzarr_proto::{
    AggregateRoot, BusinessResponse, CommandRequest, CommandResponse, EventBook, EventRequest,
    FactInjectionResponse, ProcessManagerCoordinatorRequest, ProcessManagerHandleResponse,
    Projection, Query, SagaHandleRequest, SagaResponse, SpeculateCommandHandlerRequest,
    SpeculatePmRequest, SpeculateProjectorRequest, SpeculateSagaRequest, Uuid,
};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::coordinator::Coordinator;

/// The coordinator's services over one [`Coordinator`]:
/// `CommandHandlerCoordinatorService`, `EventQueryService`, and the dry runs
/// of `ProjectorCoordinatorService`, `SagaCoordinatorService` and
/// `ProcessManagerCoordinatorService`.
#[derive(Clone)]
pub struct CoordinatorService {
    coordinator: Arc<Coordinator>,
}

impl CoordinatorService {
    /// Serves `coordinator`.
    pub fn new(coordinator: Arc<Coordinator>) -> Self {
        CoordinatorService { coordinator }
    }
}

type BookStream = Pin<Box<dyn Stream<Item = Result<EventBook, Status>> + Send>>;
type RootStream = Pin<Box<dyn Stream<Item = Result<AggregateRoot, Status>> + Send>>;

#[tonic::async_trait]
impl CommandHandlerCoordinatorService for CoordinatorService {
    async fn handle_command(
        &self,
        request: Request<CommandRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        self.coordinator
            .handle_command(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn handle_event(
        &self,
        request: Request<EventRequest>,
    ) -> Result<Response<FactInjectionResponse>, Status> {
        self.coordinator
            .handle_event(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn handle_sync_speculative(
        &self,
        request: Request<SpeculateCommandHandlerRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        self.coordinator
            .handle_speculative(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn handle_compensation(
        &self,
        request: Request<CommandRequest>,
    ) -> Result<Response<BusinessResponse>, Status> {
        self.coordinator
            .handle_compensation(request.into_inner())
            .await
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl EventQueryService for CoordinatorService {
    async fn get_event_book(&self, request: Request<Query>) -> Result<Response<EventBook>, Status> {
        let query = request.into_inner();
        let books = self.coordinator.query(&query).await?;
        let merged = if books.len() == 1 {
            books.into_iter().next().unwrap_or_default()
        } else {
            // A correlation query across aggregates: every page in one book.
            let pages = books.into_iter().flat_map(|book| book.pages).collect();
            EventBook {
                cover: query.cover,
                snapshot: None,
                pages,
                next_sequence: 0,
            }
        };
        Ok(Response::new(merged))
    }

    type GetEventsStream = BookStream;

    async fn get_events(&self, request: Request<Query>) -> Result<Response<BookStream>, Status> {
        let books = self.coordinator.query(request.get_ref()).await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            books.into_iter().map(Ok),
        ))))
    }

    type SynchronizeStream = BookStream;

    async fn synchronize(
        &self,
        request: Request<Streaming<Query>>,
    ) -> Result<Response<BookStream>, Status> {
        let coordinator = Arc::clone(&self.coordinator);
        let queries = request.into_inner();
        let answers = queries.then(move |query| {
            let coordinator = Arc::clone(&coordinator);
            async move {
                let query = query?;
                let mut books = coordinator.query(&query).await?;
                Ok(if books.len() == 1 {
                    books.remove(0)
                } else {
                    EventBook {
                        cover: query.cover,
                        pages: books.into_iter().flat_map(|book| book.pages).collect(),
                        ..Default::default()
                    }
                })
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }

    type GetAggregateRootsStream = RootStream;

    async fn get_aggregate_roots(&self, _: Request<()>) -> Result<Response<RootStream>, Status> {
        let roots = self.coordinator.roots().await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            roots.into_iter().map(|(domain, root)| {
                Ok(AggregateRoot {
                    domain,
                    root: Some(Uuid::from(root)),
                })
            }),
        ))))
    }
}

/// The component a request names by [`angzarr_client::COMPONENT_METADATA_KEY`].
fn named<T>(request: &Request<T>) -> Result<Option<String>, Status> {
    match request
        .metadata()
        .get(angzarr_client::COMPONENT_METADATA_KEY)
    {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|name| Some(name.to_owned()))
            .map_err(|_| {
                crate::validate::invalid(format!(
                    "`{}` metadata must be visible ASCII",
                    angzarr_client::COMPONENT_METADATA_KEY
                ))
            }),
    }
}

/// The sidecars' delivery entry points: angzarr-local delivers books to its
/// components itself, so only the dry runs are served.
fn delivered_here(what: &str) -> Status {
    angzarr_client::coded::with_error_code(
        Status::unimplemented(format!(
            "{what} is how Angzarr's bus hands a book to a component's sidecar; angzarr-local \
             delivers books to its components itself (send commands or facts instead), and \
             serves the dry run (`HandleSpeculative` / `ExecuteSpeculative`)"
        )),
        angzarr_client::coded::INVALID_REQUEST,
    )
}

#[tonic::async_trait]
impl ProjectorCoordinatorService for CoordinatorService {
    async fn handle(&self, _: Request<EventBook>) -> Result<Response<()>, Status> {
        Err(delivered_here("ProjectorCoordinatorService.Handle"))
    }

    async fn handle_sync(&self, _: Request<EventRequest>) -> Result<Response<Projection>, Status> {
        Err(delivered_here("ProjectorCoordinatorService.HandleSync"))
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculateProjectorRequest>,
    ) -> Result<Response<Projection>, Status> {
        let name = named(&request)?;
        self.coordinator
            .speculate_projector(name.as_deref(), request.into_inner())
            .await
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl SagaCoordinatorService for CoordinatorService {
    async fn execute(
        &self,
        _: Request<SagaHandleRequest>,
    ) -> Result<Response<SagaResponse>, Status> {
        Err(delivered_here("SagaCoordinatorService.Execute"))
    }

    async fn execute_speculative(
        &self,
        request: Request<SpeculateSagaRequest>,
    ) -> Result<Response<SagaResponse>, Status> {
        let name = named(&request)?;
        self.coordinator
            .speculate_saga(name.as_deref(), request.into_inner())
            .await
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl ProcessManagerCoordinatorService for CoordinatorService {
    async fn handle(
        &self,
        _: Request<ProcessManagerCoordinatorRequest>,
    ) -> Result<Response<ProcessManagerHandleResponse>, Status> {
        Err(delivered_here("ProcessManagerCoordinatorService.Handle"))
    }

    async fn handle_speculative(
        &self,
        request: Request<SpeculatePmRequest>,
    ) -> Result<Response<ProcessManagerHandleResponse>, Status> {
        let name = named(&request)?;
        self.coordinator
            .speculate_process_manager(name.as_deref(), request.into_inner())
            .await
            .map(Response::new)
    }
}
