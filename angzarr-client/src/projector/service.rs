//! The gRPC face of a projector: `angzarr.ProjectorService`.

use std::sync::Arc;

use angzarr_proto::projector_service_server::{
    ProjectorService as ProjectorRpc, ProjectorServiceServer,
};
use angzarr_proto::{EventBook, Projection};
use tonic::{Request, Response, Status};

use super::{runtime, Projector};
use crate::observe::{call_span, clip, root_hex, CallSpan};
use crate::unwind::{guarded, CallLog};

/// Serves a [`Projector`] as `angzarr.ProjectorService`: `Handle` projects,
/// `HandleSpeculative` runs the same handlers with
/// [`is_speculative`](crate::ProjectionContext::is_speculative) set.
///
/// ```
/// # use angzarr_client::{ProjectorRouter, ProjectorService};
/// let projector = ProjectorRouter::new("table-seating", ["table"]);
/// let server = ProjectorService::new(projector).into_server();
/// # let _ = server;
/// ```
pub struct ProjectorService<P> {
    projector: Arc<P>,
}

impl<P: Projector> ProjectorService<P> {
    /// Serves `projector`.
    pub fn new(projector: P) -> Self {
        ProjectorService {
            projector: Arc::new(projector),
        }
    }

    /// Serves a projector shared with other owners.
    pub fn from_arc(projector: Arc<P>) -> Self {
        ProjectorService { projector }
    }

    /// The projector served.
    pub fn projector(&self) -> &P {
        &self.projector
    }

    /// The tonic server, ready to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> ProjectorServiceServer<Self> {
        ProjectorServiceServer::new(self)
    }

    pub(crate) async fn project(
        &self,
        book: &EventBook,
        speculative: bool,
    ) -> Result<Projection, Status> {
        let cover = book.cover.as_ref();
        let span = |which| {
            call_span!(
                which,
                "projector",
                projector = self.projector.name(),
                speculative,
                domain = &*clip(cover.map_or("", |cover| cover.domain.as_str())),
                root = root_hex(cover.and_then(|cover| cover.root.as_ref())),
                correlation_id = &*clip(cover.map_or("", |cover| cover.correlation_id.as_str())),
                pages = book.pages.len(),
            )
        };
        let log = CallLog::new(span(CallSpan::Detail), || span(CallSpan::Identify));
        guarded(
            log,
            "book",
            runtime::handle(&*self.projector, book, speculative),
        )
        .await
    }
}

impl<P> Clone for ProjectorService<P> {
    fn clone(&self) -> Self {
        ProjectorService {
            projector: Arc::clone(&self.projector),
        }
    }
}

#[tonic::async_trait]
impl<P: Projector> ProjectorRpc for ProjectorService<P> {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<Projection>, Status> {
        self.project(request.get_ref(), false)
            .await
            .map(Response::new)
    }

    async fn handle_speculative(
        &self,
        request: Request<EventBook>,
    ) -> Result<Response<Projection>, Status> {
        self.project(request.get_ref(), true)
            .await
            .map(Response::new)
    }
}
