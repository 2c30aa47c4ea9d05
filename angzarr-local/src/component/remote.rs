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

    /// Names the component when the call failed on the way (a status the
    /// component answered itself passes unchanged), and marks a connection
    /// that could not be made (see [`unreachable`]).
    fn failed(&self, status: Status) -> Status {
        if status.code() != Code::Unavailable || std::error::Error::source(&status).is_none() {
            return status;
        }
        if never_connected(&status) {
            let named = Status::unavailable(format!(
                "{} at {} is unreachable: {}",
                self.kind,
                self.target,
                status.message()
            ));
            Status::from_error(Box::new(Unreachable(named)))
        } else {
            Status::unavailable(format!(
                "{} at {}: the connection failed: {}",
                self.kind,
                self.target,
                status.message()
            ))
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

/// Whether a call failed because no connection to its component could be
/// made (nothing listens at the address, no socket file): the component
/// never saw the request, so the failure says nothing about what was sent.
pub(crate) fn unreachable(status: &Status) -> bool {
    std::error::Error::source(status).is_some_and(|source| source.is::<Unreachable>())
}

/// Whether tonic's connector failed somewhere in the status's causes.
fn never_connected(status: &Status) -> bool {
    let mut cause = std::error::Error::source(status);
    while let Some(error) = cause {
        if error.is::<tonic::ConnectError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The cause a status carries when its call never reached a component.
#[derive(Debug)]
struct Unreachable(Status);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> EventBook {
        EventBook::default()
    }

    #[tokio::test]
    async fn a_port_nothing_listens_on_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let remote = Remote::new(ComponentKind::Projector, &format!("127.0.0.1:{port}")).unwrap();
        let status = ProjectorLogic::handle(&remote, book()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status
                .message()
                .starts_with("projector at http://127.0.0.1:"),
            "{}",
            status.message()
        );
        assert!(unreachable(&status), "{status:?}");
    }

    #[tokio::test]
    async fn a_missing_socket_file_is_unreachable() {
        let path = std::env::temp_dir().join(format!("angzarr-none-{}.sock", uuid::Uuid::new_v4()));
        let remote = Remote::new(ComponentKind::Saga, &format!("unix:{}", path.display())).unwrap();
        let status = SagaLogic::handle(&remote, SagaHandleRequest::default())
            .await
            .unwrap_err();
        assert!(unreachable(&status), "{status:?}");
    }

    #[test]
    fn a_component_answering_unavailable_was_reached() {
        assert!(!unreachable(&Status::unavailable("down for maintenance")));
        let remote = Remote::new(ComponentKind::Projector, "127.0.0.1:1").unwrap();
        let answered = remote.failed(Status::unavailable("down for maintenance"));
        assert!(!unreachable(&answered));
        assert_eq!(
            answered.message(),
            "down for maintenance",
            "passed unchanged"
        );
    }
}
