//! The clients: queries, commands, dry runs, and the combination per domain.

use std::pin::Pin;

use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::process_manager_coordinator_service_client::ProcessManagerCoordinatorServiceClient;
use angzarr_proto::projector_coordinator_service_client::ProjectorCoordinatorServiceClient;
use angzarr_proto::saga_coordinator_service_client::SagaCoordinatorServiceClient;
use angzarr_proto::{
    AggregateRoot, BusinessResponse, CommandBook, CommandRequest, CommandResponse, EventBook,
    EventRequest, FactInjectionResponse, ProcessManagerHandleResponse, Projection, Query,
    SagaResponse, SpeculateCommandHandlerRequest, SpeculatePmRequest, SpeculateProjectorRequest,
    SpeculateSagaRequest, SyncMode,
};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;

use super::builder::{CommandBuilder, QueryBuilder};
use super::endpoint::{connect, ConnectOptions, Target};
use crate::ClientError;

/// A stream of event books, as `GetEvents` answers.
pub type EventBookStream = Pin<Box<dyn Stream<Item = Result<EventBook, ClientError>> + Send>>;

/// Reads events: `angzarr.EventQueryService`.
#[derive(Debug, Clone)]
pub struct QueryClient {
    inner: EventQueryServiceClient<Channel>,
}

impl QueryClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        Ok(Self::from_channel(
            connect(&Target::parse(endpoint)?, &ConnectOptions::default()).await?,
        ))
    }

    /// Uses an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        QueryClient {
            inner: EventQueryServiceClient::new(channel),
        }
    }

    /// One book with every selected page.
    pub async fn get_event_book(&self, query: Query) -> Result<EventBook, ClientError> {
        Ok(self.inner.clone().get_event_book(query).await?.into_inner())
    }

    /// The selected history as a stream of books.
    pub async fn get_events(&self, query: Query) -> Result<EventBookStream, ClientError> {
        let stream = self.inner.clone().get_events(query).await?.into_inner();
        Ok(Box::pin(stream.map(|book| book.map_err(ClientError::from))))
    }

    /// [`get_events`](Self::get_events), collected.
    pub async fn get_events_collected(&self, query: Query) -> Result<Vec<EventBook>, ClientError> {
        let mut stream = self.get_events(query).await?;
        let mut books = Vec::new();
        while let Some(book) = stream.next().await {
            books.push(book?);
        }
        Ok(books)
    }

    /// One book per query, in order, over one `Synchronize` stream.
    pub async fn synchronize(&self, queries: Vec<Query>) -> Result<Vec<EventBook>, ClientError> {
        let mut answers = self
            .inner
            .clone()
            .synchronize(tokio_stream::iter(queries))
            .await?
            .into_inner();
        let mut books = Vec::new();
        while let Some(book) = answers.message().await? {
            books.push(book);
        }
        Ok(books)
    }

    /// Every aggregate the store knows.
    pub async fn aggregate_roots(&self) -> Result<Vec<AggregateRoot>, ClientError> {
        let mut roots = self
            .inner
            .clone()
            .get_aggregate_roots(())
            .await?
            .into_inner();
        let mut all = Vec::new();
        while let Some(root) = roots.message().await? {
            all.push(root);
        }
        Ok(all)
    }
}

/// Sends commands: `angzarr.CommandHandlerCoordinatorService`.
#[derive(Debug, Clone)]
pub struct AggregateClient {
    inner: CommandHandlerCoordinatorServiceClient<Channel>,
}

/// The coordinator's own name for [`AggregateClient`].
pub type CommandHandlerClient = AggregateClient;

impl AggregateClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        Ok(Self::from_channel(
            connect(&Target::parse(endpoint)?, &ConnectOptions::default()).await?,
        ))
    }

    /// Uses an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        AggregateClient {
            inner: CommandHandlerCoordinatorServiceClient::new(channel),
        }
    }

    /// Sends a command book (async mode: answered once its events are stored).
    pub async fn handle(&self, command: CommandBook) -> Result<CommandResponse, ClientError> {
        self.handle_command(CommandRequest {
            command: Some(command),
            sync_mode: SyncMode::Async.into(),
            ..Default::default()
        })
        .await
    }

    /// Sends a full CommandRequest.
    pub async fn handle_command(
        &self,
        request: CommandRequest,
    ) -> Result<CommandResponse, ClientError> {
        Ok(self
            .inner
            .clone()
            .handle_command(request)
            .await?
            .into_inner())
    }

    /// Runs a command against history at a point in time; nothing is stored.
    pub async fn speculate(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, ClientError> {
        Ok(self
            .inner
            .clone()
            .handle_sync_speculative(request)
            .await?
            .into_inner())
    }

    /// Injects external facts (`HandleEvent`); idempotent per external id.
    pub async fn handle_event(
        &self,
        request: EventRequest,
    ) -> Result<FactInjectionResponse, ClientError> {
        Ok(self.inner.clone().handle_event(request).await?.into_inner())
    }

    /// Delivers a compensation (a rejection notification) to an aggregate.
    pub async fn handle_compensation(
        &self,
        request: CommandRequest,
    ) -> Result<BusinessResponse, ClientError> {
        Ok(self
            .inner
            .clone()
            .handle_compensation(request)
            .await?
            .into_inner())
    }
}

/// Dry runs that persist and publish nothing.
#[derive(Debug, Clone)]
pub struct SpeculativeClient {
    channel: Channel,
}

impl SpeculativeClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        Ok(Self::from_channel(
            connect(&Target::parse(endpoint)?, &ConnectOptions::default()).await?,
        ))
    }

    /// Uses an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        SpeculativeClient { channel }
    }

    /// A command against an aggregate's history at a point in time.
    pub async fn aggregate(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, ClientError> {
        let mut client = CommandHandlerCoordinatorServiceClient::new(self.channel.clone());
        Ok(client.handle_sync_speculative(request).await?.into_inner())
    }

    /// A projector over events, without writing its read model.
    pub async fn projector(
        &self,
        request: SpeculateProjectorRequest,
    ) -> Result<Projection, ClientError> {
        let mut client = ProjectorCoordinatorServiceClient::new(self.channel.clone());
        Ok(client.handle_speculative(request).await?.into_inner())
    }

    /// A saga over events, without sending its commands.
    pub async fn saga(&self, request: SpeculateSagaRequest) -> Result<SagaResponse, ClientError> {
        let mut client = SagaCoordinatorServiceClient::new(self.channel.clone());
        Ok(client.execute_speculative(request).await?.into_inner())
    }

    /// A process manager over a trigger, without effects.
    pub async fn process_manager(
        &self,
        request: SpeculatePmRequest,
    ) -> Result<ProcessManagerHandleResponse, ClientError> {
        let mut client = ProcessManagerCoordinatorServiceClient::new(self.channel.clone());
        Ok(client.handle_speculative(request).await?.into_inner())
    }
}

/// Queries, commands and dry runs on one channel, with fluent builders.
/// Cloning is cheap: clones share the channel.
///
/// ```no_run
/// # async fn run() -> Result<(), angzarr_client::ClientError> {
/// use angzarr_client::DomainClient;
/// use angzarr_client::proto::NoOp;
///
/// let client = DomainClient::connect("localhost:1310").await?;
/// let root = uuid::Uuid::new_v4();
/// let response = client.command("player", root).with_command(&NoOp::default()).execute().await?;
/// let history = client.query("player", root).range(0..).get_event_book().await?;
/// # let _ = (response, history);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DomainClient {
    query: QueryClient,
    aggregate: AggregateClient,
    speculative: SpeculativeClient,
}

/// Every client on one channel; the same as [`DomainClient`].
pub type Client = DomainClient;

impl DomainClient {
    /// Connects to `endpoint` (see [`Target::parse`]) with default options.
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        Self::connect_with(&Target::parse(endpoint)?, &ConnectOptions::default()).await
    }

    /// Connects to `target` with `options`.
    pub async fn connect_with(
        target: &Target,
        options: &ConnectOptions,
    ) -> Result<Self, ClientError> {
        Ok(Self::from_channel(connect(target, options).await?))
    }

    /// Connects to the endpoint in `variable`, or `default` when unset or empty.
    pub async fn from_env(variable: &str, default: &str) -> Result<Self, ClientError> {
        Self::connect_with(
            &Target::from_env(variable, default)?,
            &ConnectOptions::default(),
        )
        .await
    }

    /// Connects to `domain`'s coordinator as Angzarr deploys it (see [`Target::for_domain`]).
    pub async fn for_domain(domain: &str) -> Result<Self, ClientError> {
        Self::connect_with(&Target::for_domain(domain)?, &ConnectOptions::default()).await
    }

    /// Uses an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        DomainClient {
            query: QueryClient::from_channel(channel.clone()),
            aggregate: AggregateClient::from_channel(channel.clone()),
            speculative: SpeculativeClient::from_channel(channel),
        }
    }

    /// The query client.
    pub fn queries(&self) -> &QueryClient {
        &self.query
    }

    /// The command client.
    pub fn aggregate(&self) -> &AggregateClient {
        &self.aggregate
    }

    /// The dry-run client.
    pub fn speculative(&self) -> &SpeculativeClient {
        &self.speculative
    }

    /// A command for the aggregate `root` of `domain`.
    pub fn command(&self, domain: &str, root: uuid::Uuid) -> CommandBuilder {
        CommandBuilder::new(self.aggregate.clone(), domain, root)
    }

    /// A command for a new aggregate of `domain`, with a fresh random root.
    pub fn command_new(&self, domain: &str) -> CommandBuilder {
        self.command(domain, uuid::Uuid::new_v4())
    }

    /// A query of the aggregate `root` of `domain`.
    pub fn query(&self, domain: &str, root: uuid::Uuid) -> QueryBuilder {
        QueryBuilder::new(self.query.clone(), domain, Some(root))
    }

    /// A query within `domain` without a root (e.g. by correlation id).
    pub fn query_domain(&self, domain: &str) -> QueryBuilder {
        QueryBuilder::new(self.query.clone(), domain, None)
    }
}
