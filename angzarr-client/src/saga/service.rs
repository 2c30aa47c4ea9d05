//! The gRPC face of a saga: `angzarr.SagaService`.

use std::sync::Arc;

use angzarr_proto::saga_service_server::{SagaService as SagaRpc, SagaServiceServer};
use angzarr_proto::{SagaHandleRequest, SagaResponse};
use tonic::{Request, Response, Status};

use super::{runtime, Saga};
use crate::observe::{call_span, clip, root_hex, CallSpan};
use crate::unwind::{guarded, CallLog};

/// Serves a [`Saga`] as `angzarr.SagaService`.
///
/// ```
/// # use angzarr_client::{SagaRouter, SagaService};
/// let saga = SagaRouter::new("saga-table-player", "table").target("player");
/// let server = SagaService::new(saga).into_server();
/// # let _ = server;
/// ```
pub struct SagaService<S> {
    saga: Arc<S>,
}

impl<S: Saga> SagaService<S> {
    /// Serves `saga`.
    pub fn new(saga: S) -> Self {
        SagaService {
            saga: Arc::new(saga),
        }
    }

    /// Serves a saga shared with other owners.
    pub fn from_arc(saga: Arc<S>) -> Self {
        SagaService { saga }
    }

    /// The saga served.
    pub fn saga(&self) -> &S {
        &self.saga
    }

    /// The tonic server, ready to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> SagaServiceServer<Self> {
        SagaServiceServer::new(self)
    }
}

impl<S> Clone for SagaService<S> {
    fn clone(&self) -> Self {
        SagaService {
            saga: Arc::clone(&self.saga),
        }
    }
}

impl<S: Saga> SagaService<S> {
    /// `Handle`, on a decoded request.
    pub(crate) async fn handle_request(
        &self,
        request: &SagaHandleRequest,
    ) -> Result<SagaResponse, Status> {
        let source = request.source.as_ref();
        let cover = source.and_then(|book| book.cover.as_ref());
        let span = |which| {
            call_span!(
                which,
                "saga",
                saga = self.saga.name(),
                domain = &*clip(cover.map_or("", |cover| cover.domain.as_str())),
                root = root_hex(cover.and_then(|cover| cover.root.as_ref())),
                correlation_id = &*clip(cover.map_or("", |cover| cover.correlation_id.as_str())),
                pages = source.map_or(0, |book| book.pages.len()),
            )
        };
        let log = CallLog::new(span(CallSpan::Detail), || span(CallSpan::Identify));
        guarded(log, "event", runtime::handle(&*self.saga, request)).await
    }
}

#[tonic::async_trait]
impl<S: Saga> SagaRpc for SagaService<S> {
    async fn handle(
        &self,
        request: Request<SagaHandleRequest>,
    ) -> Result<Response<SagaResponse>, Status> {
        self.handle_request(request.get_ref())
            .await
            .map(Response::new)
    }
}
