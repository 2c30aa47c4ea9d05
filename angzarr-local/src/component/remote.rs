//! Business logic served over gRPC, connected on first use and reconnecting
//! as needed.

use angzarr_client::{connect, ComponentKind, ConnectOptions, Target};
use angzarr_proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_proto::process_manager_service_client::ProcessManagerServiceClient;
use angzarr_proto::projector_service_client::ProjectorServiceClient;
use angzarr_proto::saga_service_client::SagaServiceClient;
use angzarr_proto::upcaster_service_client::UpcasterServiceClient;
use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, SagaHandleRequest, SagaResponse, UpcastRequest, UpcastResponse,
};
use tokio::sync::OnceCell;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{
    request, AggregateLogic, ProcessManagerLogic, ProjectorLogic, SagaLogic, UpcasterLogic,
};
use crate::MAX_MESSAGE_BYTES;

/// A component served at a gRPC endpoint: `host:port`, `http://host:port`,
/// `unix:/path` or a socket path. Implements the trait of every kind; it is
/// registered as one of them.
pub struct Remote {
    kind: ComponentKind,
    target: Target,
    channel: OnceCell<Channel>,
}

/// Builds a client over `channel` with angzarr-local's message limits.
macro_rules! client {
    ($client:ident, $channel:expr) => {
        $client::new($channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    };
}

impl Remote {
    /// A `kind` of component at `endpoint`.
    ///
    /// ```
    /// use angzarr_client::ComponentKind;
    /// use angzarr_local::component::Remote;
    ///
    /// let saga = Remote::new(ComponentKind::Saga, "unix:/tmp/angzarr/saga-bonus.sock").unwrap();
    /// assert_eq!(saga.address(), "unix:/tmp/angzarr/saga-bonus.sock");
    /// assert!(Remote::new(ComponentKind::Saga, "").is_err());
    /// ```
    pub fn new(kind: ComponentKind, endpoint: &str) -> Result<Self, String> {
        let target = Target::parse(endpoint).map_err(|error| {
            format!("invalid {kind} endpoint {endpoint:?}: {}", error.message())
        })?;
        Ok(Remote {
            kind,
            target,
            channel: OnceCell::new(),
        })
    }

    /// The endpoint, as `http://host:port` or `unix:/path`.
    pub fn address(&self) -> String {
        self.target.to_string()
    }

    async fn channel(&self) -> Result<Channel, Status> {
        let options = ConnectOptions {
            lazy: true,
            ..ConnectOptions::default()
        };
        self.channel
            .get_or_try_init(|| connect(&self.target, &options))
            .await
            .cloned()
            .map_err(|error| Status::unavailable(error.message().to_owned()))
    }

    /// Names the component when it cannot be reached.
    fn failed(&self, status: Status) -> Status {
        if status.code() == Code::Unavailable {
            Status::unavailable(format!(
                "{} at {} is unreachable: {}",
                self.kind,
                self.target,
                status.message()
            ))
        } else {
            status
        }
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.kind, self.target)
    }

    /// One call on the channel, its failure naming the component.
    async fn call<T, Fut>(&self, call: impl FnOnce(Channel) -> Fut) -> Result<T, Status>
    where
        Fut: std::future::Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let channel = self.channel().await.map_err(|status| self.failed(status))?;
        call(channel)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| self.failed(status))
    }
}

#[tonic::async_trait]
impl AggregateLogic for Remote {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        let correlation_id =
            correlation_of(command.command.as_ref().and_then(|c| c.cover.as_ref()));
        self.call(|channel| async move {
            client!(CommandHandlerServiceClient, channel)
                .handle(request(command, &correlation_id))
                .await
        })
        .await
    }

    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        let correlation_id = correlation_of(facts.facts.as_ref().and_then(|b| b.cover.as_ref()));
        self.call(|channel| async move {
            client!(CommandHandlerServiceClient, channel)
                .handle_fact(request(facts, &correlation_id))
                .await
        })
        .await
    }

    fn describe(&self) -> String {
        Remote::describe(self)
    }
}

#[tonic::async_trait]
impl SagaLogic for Remote {
    async fn handle(&self, saga_request: SagaHandleRequest) -> Result<SagaResponse, Status> {
        let correlation_id =
            correlation_of(saga_request.source.as_ref().and_then(|b| b.cover.as_ref()));
        self.call(|channel| async move {
            client!(SagaServiceClient, channel)
                .handle(request(saga_request, &correlation_id))
                .await
        })
        .await
    }

    fn describe(&self) -> String {
        Remote::describe(self)
    }
}

#[tonic::async_trait]
impl ProcessManagerLogic for Remote {
    async fn prepare(
        &self,
        pm_request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse, Status> {
        let correlation_id =
            correlation_of(pm_request.trigger.as_ref().and_then(|b| b.cover.as_ref()));
        self.call(|channel| async move {
            client!(ProcessManagerServiceClient, channel)
                .prepare(request(pm_request, &correlation_id))
                .await
        })
        .await
    }

    async fn handle(
        &self,
        pm_request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse, Status> {
        let correlation_id =
            correlation_of(pm_request.trigger.as_ref().and_then(|b| b.cover.as_ref()));
        self.call(|channel| async move {
            client!(ProcessManagerServiceClient, channel)
                .handle(request(pm_request, &correlation_id))
                .await
        })
        .await
    }

    fn describe(&self) -> String {
        Remote::describe(self)
    }
}

#[tonic::async_trait]
impl ProjectorLogic for Remote {
    async fn handle(&self, book: EventBook) -> Result<Projection, Status> {
        let correlation_id = correlation_of(book.cover.as_ref());
        self.call(|channel| async move {
            client!(ProjectorServiceClient, channel)
                .handle(request(book, &correlation_id))
                .await
        })
        .await
    }

    async fn handle_speculative(&self, book: EventBook) -> Result<Projection, Status> {
        let correlation_id = correlation_of(book.cover.as_ref());
        self.call(|channel| async move {
            client!(ProjectorServiceClient, channel)
                .handle_speculative(request(book, &correlation_id))
                .await
        })
        .await
    }

    fn describe(&self) -> String {
        Remote::describe(self)
    }
}

#[tonic::async_trait]
impl UpcasterLogic for Remote {
    async fn upcast(&self, upcast: UpcastRequest) -> Result<UpcastResponse, Status> {
        self.call(|channel| async move {
            client!(UpcasterServiceClient, channel)
                .upcast(request(upcast, ""))
                .await
        })
        .await
    }

    fn describe(&self) -> String {
        Remote::describe(self)
    }
}

fn correlation_of(cover: Option<&angzarr_proto::Cover>) -> String {
    cover.map(|c| c.correlation_id.clone()).unwrap_or_default()
}
