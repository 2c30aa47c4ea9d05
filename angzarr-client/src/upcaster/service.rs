//! The gRPC face of an upcaster: `angzarr.UpcasterService`.

use std::sync::Arc;

use angzarr_proto::upcaster_service_server::{
    UpcasterService as UpcasterRpc, UpcasterServiceServer,
};
use angzarr_proto::{UpcastRequest, UpcastResponse};
use tonic::{Request, Response, Status};

use super::{runtime, Upcaster};
use crate::observe::{call_span, clip, CallSpan};
use crate::unwind::{guarded, CallLog};

/// Serves an [`Upcaster`] as `angzarr.UpcasterService`.
///
/// ```
/// # use angzarr_client::{UpcasterRouter, UpcasterService};
/// let server = UpcasterService::new(UpcasterRouter::new("player")).into_server();
/// # let _ = server;
/// ```
pub struct UpcasterService<U> {
    upcaster: Arc<U>,
}

impl<U: Upcaster> UpcasterService<U> {
    /// Serves `upcaster`.
    pub fn new(upcaster: U) -> Self {
        UpcasterService {
            upcaster: Arc::new(upcaster),
        }
    }

    /// Serves an upcaster shared with other owners.
    pub fn from_arc(upcaster: Arc<U>) -> Self {
        UpcasterService { upcaster }
    }

    /// The upcaster served.
    pub fn upcaster(&self) -> &U {
        &self.upcaster
    }

    /// The tonic server, ready to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> UpcasterServiceServer<Self> {
        UpcasterServiceServer::new(self)
    }
}

impl<U> Clone for UpcasterService<U> {
    fn clone(&self) -> Self {
        UpcasterService {
            upcaster: Arc::clone(&self.upcaster),
        }
    }
}

impl<U: Upcaster> UpcasterService<U> {
    /// `Upcast`, on a decoded request.
    pub(crate) async fn upcast_request(
        &self,
        request: UpcastRequest,
    ) -> Result<UpcastResponse, Status> {
        let pages = request.events.len();
        let span = |which, domain: &str| {
            call_span!(
                which,
                "upcast",
                upcaster = self.upcaster.name(),
                domain = &*clip(domain),
                pages,
            )
        };
        // The request moves into the upcast. A request for another domain
        // is answered unchanged at once, never refused, so a line about the
        // call names the upcaster's own domain.
        let log = CallLog::new(span(CallSpan::Detail, &request.domain), || {
            span(CallSpan::Identify, self.upcaster.domain())
        });
        guarded(log, "history", async {
            runtime::upcast(&*self.upcaster, request)
        })
        .await
    }
}

#[tonic::async_trait]
impl<U: Upcaster> UpcasterRpc for UpcasterService<U> {
    async fn upcast(
        &self,
        request: Request<UpcastRequest>,
    ) -> Result<Response<UpcastResponse>, Status> {
        self.upcast_request(request.into_inner())
            .await
            .map(Response::new)
    }
}
