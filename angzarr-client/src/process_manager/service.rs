//! The gRPC face of a process manager: `angzarr.ProcessManagerService`.

use std::sync::Arc;

use angzarr_proto::process_manager_service_server::{
    ProcessManagerService as ProcessManagerRpc, ProcessManagerServiceServer,
};
use angzarr_proto::{
    EventBook, ProcessManagerHandleRequest, ProcessManagerHandleResponse,
    ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
};
use tonic::{Request, Response, Status};

use super::{runtime, ProcessManager};
use crate::observe::{call_span, clip, root_hex, CallSpan};
use crate::unwind::{guarded, CallLog};

/// Serves a [`ProcessManager`] as `angzarr.ProcessManagerService`: `Prepare`
/// names destinations, `Handle` reacts.
///
/// ```
/// # use angzarr_client::{ProcessManagerRouter, ProcessManagerService};
/// # #[derive(Default)] struct State;
/// let pm = ProcessManagerRouter::new("buy-in", State::default).source("player");
/// let server = ProcessManagerService::new(pm).into_server();
/// # let _ = server;
/// ```
pub struct ProcessManagerService<P> {
    pm: Arc<P>,
}

impl<P: ProcessManager> ProcessManagerService<P> {
    /// Serves `pm`.
    pub fn new(pm: P) -> Self {
        ProcessManagerService { pm: Arc::new(pm) }
    }

    /// Serves a process manager shared with other owners.
    pub fn from_arc(pm: Arc<P>) -> Self {
        ProcessManagerService { pm }
    }

    /// The process manager served.
    pub fn process_manager(&self) -> &P {
        &self.pm
    }

    /// The tonic server, ready to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> ProcessManagerServiceServer<Self> {
        ProcessManagerServiceServer::new(self)
    }

    fn span(
        &self,
        which: CallSpan,
        call: &'static str,
        trigger: Option<&EventBook>,
    ) -> tracing::Span {
        let cover = trigger.and_then(|book| book.cover.as_ref());
        call_span!(
            which,
            "process_manager",
            process_manager = self.pm.name(),
            call,
            domain = &*clip(cover.map_or("", |cover| cover.domain.as_str())),
            root = root_hex(cover.and_then(|cover| cover.root.as_ref())),
            correlation_id = &*clip(cover.map_or("", |cover| cover.correlation_id.as_str())),
            pages = trigger.map_or(0, |book| book.pages.len()),
        )
    }
}

impl<P> Clone for ProcessManagerService<P> {
    fn clone(&self) -> Self {
        ProcessManagerService {
            pm: Arc::clone(&self.pm),
        }
    }
}

#[tonic::async_trait]
impl<P: ProcessManager> ProcessManagerRpc for ProcessManagerService<P> {
    async fn prepare(
        &self,
        request: Request<ProcessManagerPrepareRequest>,
    ) -> Result<Response<ProcessManagerPrepareResponse>, Status> {
        let request = request.get_ref();
        let trigger = request.trigger.as_ref();
        let log = CallLog::new(self.span(CallSpan::Detail, "prepare", trigger), || {
            self.span(CallSpan::Identify, "prepare", trigger)
        });
        guarded(log, "trigger", async {
            runtime::prepare(&*self.pm, request)
        })
        .await
        .map(Response::new)
    }

    async fn handle(
        &self,
        request: Request<ProcessManagerHandleRequest>,
    ) -> Result<Response<ProcessManagerHandleResponse>, Status> {
        self.handle_request(request.get_ref())
            .await
            .map(Response::new)
    }
}

impl<P: ProcessManager> ProcessManagerService<P> {
    /// `Handle`, on a decoded request.
    pub(crate) async fn handle_request(
        &self,
        request: &ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse, Status> {
        let trigger = request.trigger.as_ref();
        let log = CallLog::new(self.span(CallSpan::Detail, "handle", trigger), || {
            self.span(CallSpan::Identify, "handle", trigger)
        });
        guarded(log, "trigger", runtime::handle(&*self.pm, request)).await
    }
}
