//! The gRPC face of an aggregate: `angzarr.CommandHandlerService`.

use std::sync::Arc;

use angzarr_proto::command_handler_service_server::{
    CommandHandlerService, CommandHandlerServiceServer,
};
use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ReplayRequest, ReplayResponse,
};
use tonic::{Request, Response, Status};

use crate::{runtime, Aggregate};

/// Serves an [`Aggregate`] as `angzarr.CommandHandlerService`: `Handle`
/// decides commands, `HandleFact` records facts unchanged, `Replay` folds
/// events into state.
///
/// ```
/// # use angzarr_client::{AggregateService, CommandRouter};
/// # #[derive(Default)] struct State;
/// let router = CommandRouter::new("player", State::default);
/// let server = AggregateService::new(router).into_server();
/// # let _ = server;
/// ```
pub struct AggregateService<A> {
    aggregate: Arc<A>,
}

impl<A: Aggregate> AggregateService<A> {
    /// Serves `aggregate`.
    pub fn new(aggregate: A) -> Self {
        AggregateService {
            aggregate: Arc::new(aggregate),
        }
    }

    /// Serves an aggregate shared with other owners.
    pub fn from_arc(aggregate: Arc<A>) -> Self {
        AggregateService { aggregate }
    }

    /// The aggregate served.
    pub fn aggregate(&self) -> &A {
        &self.aggregate
    }

    /// The tonic server, ready to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> CommandHandlerServiceServer<Self> {
        CommandHandlerServiceServer::new(self)
    }
}

impl<A> Clone for AggregateService<A> {
    fn clone(&self) -> Self {
        AggregateService {
            aggregate: Arc::clone(&self.aggregate),
        }
    }
}

#[tonic::async_trait]
impl<A: Aggregate> CommandHandlerService for AggregateService<A> {
    async fn handle(
        &self,
        request: Request<ContextualCommand>,
    ) -> Result<Response<BusinessResponse>, Status> {
        runtime::handle_command(&*self.aggregate, request.get_ref())
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn handle_fact(
        &self,
        request: Request<FactRequest>,
    ) -> Result<Response<EventBook>, Status> {
        Ok(Response::new(runtime::handle_fact(request.into_inner())))
    }

    async fn replay(
        &self,
        request: Request<ReplayRequest>,
    ) -> Result<Response<ReplayResponse>, Status> {
        runtime::replay(&*self.aggregate, request.get_ref())
            .map(Response::new)
            .map_err(Status::from)
    }
}
