//! The business logic angzarr-local calls, one trait per kind, each with an
//! in-process implementation (the client crate's services, no network hop,
//! the same code path as their servers) and a gRPC one ([`Remote`]).

mod deadline;
mod in_process;
mod remote;

pub use deadline::DEFAULT_CALL_TIMEOUT;
pub(crate) use deadline::{Bounded, Deadline};
pub(crate) use remote::unreachable;
pub use remote::Remote;

use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, SagaHandleRequest, SagaResponse, UpcastRequest, UpcastResponse,
};
use tonic::Status;

/// An aggregate: `angzarr.CommandHandlerService`.
#[tonic::async_trait]
pub trait AggregateLogic: Send + Sync + 'static {
    /// `Handle`: decides a command against its history.
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status>;
    /// `HandleFact`: the events to record for external facts.
    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// A saga: `angzarr.SagaService`.
#[tonic::async_trait]
pub trait SagaLogic: Send + Sync + 'static {
    /// `Handle`: commands (and facts) for one published book.
    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// A process manager: `angzarr.ProcessManagerService`.
#[tonic::async_trait]
pub trait ProcessManagerLogic: Send + Sync + 'static {
    /// `Prepare`: the aggregates whose sequences `Handle` needs.
    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse, Status>;
    /// `Handle`: process events, commands and facts for one trigger.
    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// A projector: `angzarr.ProjectorService`.
#[tonic::async_trait]
pub trait ProjectorLogic: Send + Sync + 'static {
    /// `Handle`: projects one published book.
    async fn handle(&self, book: EventBook) -> Result<Projection, Status>;
    /// `HandleSpeculative`: the projection of `book`, with no side effects.
    async fn handle_speculative(&self, book: EventBook) -> Result<Projection, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// An upcaster: `angzarr.UpcasterService`.
#[tonic::async_trait]
pub trait UpcasterLogic: Send + Sync + 'static {
    /// `Upcast`: the same pages, old event versions replaced by new ones.
    async fn upcast(&self, request: UpcastRequest) -> Result<UpcastResponse, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// A request carrying `x-correlation-id`, as the coordinator's calls do.
pub(crate) fn request<T>(message: T, correlation_id: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if !correlation_id.is_empty() {
        if let Ok(value) = correlation_id.parse() {
            request.metadata_mut().insert("x-correlation-id", value);
        }
    }
    request
}
