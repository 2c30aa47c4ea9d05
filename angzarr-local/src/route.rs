//! Where the coordinator sends a domain's commands: an aggregate in this
//! process, or one served over gRPC.

use std::sync::{Arc, OnceLock};

use angzarr_client::{Aggregate, AggregateService};
use angzarr_proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_proto::command_handler_service_server::CommandHandlerService;
use angzarr_proto::{BusinessResponse, ContextualCommand, EventBook, FactRequest};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// One domain's business logic, as the coordinator calls it.
#[tonic::async_trait]
pub trait DomainHandler: Send + Sync + 'static {
    /// `CommandHandlerService.Handle`.
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status>;
    /// `CommandHandlerService.HandleFact`.
    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status>;
    /// Where the logic runs, for messages.
    fn describe(&self) -> String;
}

/// An aggregate in this process: no network hop, same code path as its server.
pub struct InProcess<A: Aggregate> {
    service: AggregateService<A>,
}

impl<A: Aggregate> InProcess<A> {
    /// Routes to `aggregate`.
    pub fn new(aggregate: A) -> Self {
        InProcess {
            service: AggregateService::from_arc(Arc::new(aggregate)),
        }
    }
}

#[tonic::async_trait]
impl<A: Aggregate> DomainHandler for InProcess<A> {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        Ok(self
            .service
            .handle(Request::new(command))
            .await?
            .into_inner())
    }

    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        Ok(self
            .service
            .handle_fact(Request::new(facts))
            .await?
            .into_inner())
    }

    fn describe(&self) -> String {
        format!("in-process aggregate {}", self.service.aggregate().name())
    }
}

/// An aggregate served over gRPC (connected on first use, reconnecting as needed).
pub struct Remote {
    address: String,
    endpoint: Endpoint,
    client: OnceLock<CommandHandlerServiceClient<Channel>>,
}

impl Remote {
    /// Routes to the aggregate at `endpoint` (e.g. `http://127.0.0.1:50303`).
    pub fn new(endpoint: &str) -> Result<Self, String> {
        let with_scheme = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("http://{endpoint}")
        };
        let parsed = Endpoint::from_shared(with_scheme.clone())
            .map_err(|error| format!("invalid aggregate endpoint {endpoint:?}: {error}"))?
            .tcp_nodelay(true);
        Ok(Remote {
            address: with_scheme,
            endpoint: parsed,
            client: OnceLock::new(),
        })
    }

    /// The client; created inside the runtime on first use, since a lazy
    /// channel needs one to spawn its connection task.
    fn client(&self) -> CommandHandlerServiceClient<Channel> {
        self.client
            .get_or_init(|| {
                CommandHandlerServiceClient::new(self.endpoint.connect_lazy())
                    .max_decoding_message_size(64 * 1024 * 1024)
                    .max_encoding_message_size(64 * 1024 * 1024)
            })
            .clone()
    }

    fn unreachable(&self, status: Status) -> Status {
        if status.code() == Code::Unavailable {
            Status::unavailable(format!(
                "aggregate at {} is unreachable: {}",
                self.address,
                status.message()
            ))
        } else {
            status
        }
    }
}

#[tonic::async_trait]
impl DomainHandler for Remote {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        let mut client = self.client();
        match client.handle(command).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(self.unreachable(status)),
        }
    }

    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        let mut client = self.client();
        match client.handle_fact(facts).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(self.unreachable(status)),
        }
    }

    fn describe(&self) -> String {
        format!("aggregate at {}", self.address)
    }
}
