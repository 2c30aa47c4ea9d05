//! The gRPC face of an aggregate: `angzarr.CommandHandlerService`.

use std::sync::Arc;

use angzarr_proto::command_handler_service_server::{
    CommandHandlerService, CommandHandlerServiceServer,
};
use angzarr_proto::AnyExt;
use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ReplayRequest, ReplayResponse,
};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::unwind::CatchUnwind;
use crate::{runtime, Aggregate, AggregateError};

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
        let command = request.get_ref();
        let book = command.command.as_ref();
        let span = tracing::info_span!(
            "handle",
            domain = self.aggregate.domain(),
            root = book
                .and_then(|book| book.cover.as_ref())
                .and_then(|cover| cover.root.as_ref())
                .map(|root| root.to_hex())
                .unwrap_or_default(),
            correlation_id = book.map_or("", |book| book.correlation_id()),
            command = book
                .and_then(|book| book.first_page())
                .and_then(|page| page.command())
                .map_or("", |command| command.type_name()),
            sequence = book.map_or(0, |book| book.expected_sequence()),
        );
        let outcome = CatchUnwind::new(runtime::handle_command(&*self.aggregate, command))
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let result = outcome.unwrap_or_else(|panic| {
            Err(AggregateError::Internal(format!(
                "the handler panicked: {panic}"
            )))
        });
        match &result {
            Ok(_) => tracing::debug!("command decided"),
            Err(AggregateError::Rejected(rejection)) => {
                tracing::info!(code = ?rejection.code(), reason = rejection.message(), "command rejected");
            }
            Err(error @ AggregateError::Internal(_)) => tracing::error!(%error, "command failed"),
            Err(error) => tracing::warn!(code = ?error.code(), %error, "command refused"),
        }
        result.map(Response::new).map_err(Status::from)
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
        let aggregate = &*self.aggregate;
        let replayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime::replay(aggregate, request.get_ref())
        }))
        .unwrap_or_else(|panic| {
            Err(AggregateError::Internal(format!(
                "replay panicked: {}",
                crate::unwind::panic_message(panic.as_ref())
            )))
        });
        replayed.map(Response::new).map_err(Status::from)
    }
}
