//! The gRPC face of an aggregate: `angzarr.CommandHandlerService`.

use std::sync::Arc;

use angzarr_proto::command_handler_service_server::CommandHandlerService;
use angzarr_proto::AnyExt;
use angzarr_proto::{
    BusinessResponse, CommandBook, ContextualCommand, EventBook, FactRequest, ReplayRequest,
    ReplayResponse,
};
use tonic::{Request, Response, Status};

use super::{runtime, Aggregate, AggregateServer};
use crate::observe::{call_span, clip, root_hex, CallSpan};
use crate::unwind::{guarded, guarded_now, CallLog};

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
    pub fn into_server(self) -> AggregateServer<A> {
        AggregateServer::new(self)
    }

    /// `Handle` on the request's bytes, read in place and decided at once:
    /// for aggregates whose handlers never await.
    pub(crate) fn handle_now(&self, request: &[u8]) -> Result<BusinessResponse, Status> {
        let received = runtime::Received::read(request).map_err(Status::from)?;
        let aggregate = &*self.aggregate;
        let log = handle_log(aggregate, received.command(), request);
        guarded_now(log, "command", || received.handle_now(aggregate))
    }

    /// `Handle` on the request's bytes, read in place.
    pub(crate) async fn handle_encoded(&self, request: &[u8]) -> Result<BusinessResponse, Status> {
        let received = runtime::Received::read(request).map_err(Status::from)?;
        let aggregate = &*self.aggregate;
        let log = handle_log(aggregate, received.command(), request);
        // The decision's future is large (history view, state, answer);
        // boxed once here, the layers above move a pointer, not kilobytes.
        let decision = Box::pin(received.handle(aggregate));
        guarded(log, "command", decision).await
    }
}

/// The log of a `Handle` call read in place from `request`: the request
/// is read again to name the call, as the view moves into the decision.
fn handle_log<'a, A: Aggregate>(
    aggregate: &'a A,
    book: Option<&CommandBook>,
    request: &'a [u8],
) -> CallLog<impl FnOnce() -> tracing::Span + 'a> {
    CallLog::new(handle_span(CallSpan::Detail, aggregate, book), move || {
        let received = runtime::Received::read(request).ok();
        let book = received.as_ref().and_then(runtime::Received::command);
        handle_span(CallSpan::Identify, aggregate, book)
    })
}

/// A span of one `Handle` call; its fields cost nothing when it is off.
fn handle_span<A: Aggregate>(
    which: CallSpan,
    aggregate: &A,
    book: Option<&CommandBook>,
) -> tracing::Span {
    let cover = book.and_then(|book| book.cover.as_ref());
    call_span!(
        which,
        "handle",
        domain = aggregate.domain(),
        root = root_hex(cover.and_then(|cover| cover.root.as_ref())),
        correlation_id = &*clip(book.map_or("", |book| book.correlation_id())),
        command = &*clip(
            book.and_then(|book| book.first_page())
                .and_then(|page| page.command())
                .map_or("", |command| command.type_name())
        ),
        sequence = book.map_or(0, |book| book.expected_sequence()),
    )
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
        let aggregate = &*self.aggregate;
        let command = request.get_ref();
        let book = command.command.as_ref();
        let log = CallLog::new(handle_span(CallSpan::Detail, aggregate, book), || {
            handle_span(CallSpan::Identify, aggregate, book)
        });
        let decision = runtime::handle_command(aggregate, command);
        if aggregate.synchronous() {
            return guarded_now(log, "command", || runtime::at_once(aggregate, decision))
                .map(Response::new);
        }
        guarded(log, "command", decision).await.map(Response::new)
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
        let span = |which| call_span!(which, "replay", domain = aggregate.domain());
        let log = CallLog::new(span(CallSpan::Detail), || span(CallSpan::Identify));
        guarded(log, "replay", async {
            runtime::replay(aggregate, request.get_ref())
        })
        .await
        .map(Response::new)
    }
}
