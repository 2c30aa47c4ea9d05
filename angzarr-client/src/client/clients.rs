//! The clients: queries, commands, dry runs, and the combination per domain.

use std::pin::Pin;

use angzarr_proto::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::process_manager_coordinator_service_client::ProcessManagerCoordinatorServiceClient;
use angzarr_proto::projector_coordinator_service_client::ProjectorCoordinatorServiceClient;
use angzarr_proto::saga_coordinator_service_client::SagaCoordinatorServiceClient;
use angzarr_proto::{
    page_header, query, AggregateRoot, BusinessResponse, CommandBook, CommandRequest,
    CommandResponse, Cover, EventBook, EventRequest, FactInjectionResponse, MergeStrategy,
    ProcessManagerHandleResponse, Projection, Query, SagaResponse, SequenceSet,
    SpeculateCommandHandlerRequest, SpeculatePmRequest, SpeculateProjectorRequest,
    SpeculateSagaRequest, SyncMode,
};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;

use super::builder::{CommandBuilder, FactBuilder, QueryBuilder};
use super::endpoint::{connect, ConnectOptions, Target};
use super::retry::{Repeat, RetryPolicy};
use crate::ClientError;

/// Applies the message size limit to a generated client.
macro_rules! sized {
    ($client:expr, $limit:expr) => {
        $client
            .max_decoding_message_size($limit)
            .max_encoding_message_size($limit)
    };
}

/// A stream of event books, as `GetEvents` answers.
pub type EventBookStream = Pin<Box<dyn Stream<Item = Result<EventBook, ClientError>> + Send>>;

/// Reads events: `angzarr.EventQueryService`.
#[derive(Debug, Clone)]
pub struct QueryClient {
    inner: EventQueryServiceClient<Channel>,
    retry: RetryPolicy,
}

impl QueryClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        let options = ConnectOptions::default();
        Ok(Self::from_channel_with(
            connect(&Target::parse(endpoint)?, &options).await?,
            &options,
        ))
    }

    /// Uses an existing channel, with the default options.
    pub fn from_channel(channel: Channel) -> Self {
        Self::from_channel_with(channel, &ConnectOptions::default())
    }

    /// Uses an existing channel, with `options`' message size and retry policy.
    pub fn from_channel_with(channel: Channel, options: &ConnectOptions) -> Self {
        QueryClient {
            inner: sized!(
                EventQueryServiceClient::new(channel),
                options.max_message_size
            ),
            retry: options.retry,
        }
    }

    /// The same client retrying transport failures by `policy`.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy its calls use.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// One book with every selected page.
    pub async fn get_event_book(&self, query: Query) -> Result<EventBook, ClientError> {
        self.get_event_book_retrying(query, self.retry).await
    }

    pub(crate) async fn get_event_book_retrying(
        &self,
        query: Query,
        retry: RetryPolicy,
    ) -> Result<EventBook, ClientError> {
        call(retry, Repeat::Safe, query, |query| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.get_event_book(query).await?.into_inner()) }
        })
        .await
    }

    /// The selected history as a stream of books (establishing the stream
    /// is retried by the policy; a stream that breaks midway is not).
    pub async fn get_events(&self, query: Query) -> Result<EventBookStream, ClientError> {
        self.get_events_retrying(query, self.retry).await
    }

    pub(crate) async fn get_events_retrying(
        &self,
        query: Query,
        retry: RetryPolicy,
    ) -> Result<EventBookStream, ClientError> {
        let stream = call(retry, Repeat::Safe, query, |query| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.get_events(query).await?.into_inner()) }
        })
        .await?;
        Ok(Box::pin(stream.map(|book| book.map_err(ClientError::from))))
    }

    /// The sequence the next event of the aggregate `cover` names gets (0
    /// for a new one), without reading its history: one query that selects
    /// no page and reads the book's `next_sequence`. A coordinator that
    /// reports 0 there is asked whether page 0 exists, and only if it does
    /// is the history read whole, so the answer is right with any
    /// coordinator and cheap with one that fills the field.
    pub async fn next_sequence(&self, cover: Cover) -> Result<u32, ClientError> {
        self.next_sequence_retrying(cover, self.retry).await
    }

    pub(crate) async fn next_sequence_retrying(
        &self,
        cover: Cover,
        retry: RetryPolicy,
    ) -> Result<u32, ClientError> {
        let select = |values: Vec<u32>| Query {
            cover: Some(cover.clone()),
            selection: Some(query::Selection::Sequences(SequenceSet { values })),
        };
        let none = self
            .get_event_book_retrying(select(Vec::new()), retry)
            .await?;
        let reported = none.next_sequence.max(none.computed_next_sequence());
        if reported > 0 {
            return Ok(reported);
        }
        let first = self.get_event_book_retrying(select(vec![0]), retry).await?;
        if first.pages.is_empty() && first.next_sequence == 0 {
            return Ok(0);
        }
        let whole = Query {
            cover: Some(cover.clone()),
            selection: None,
        };
        let book = self.get_event_book_retrying(whole, retry).await?;
        Ok(book.next_sequence.max(book.computed_next_sequence()))
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
        call(self.retry, Repeat::Safe, queries, |queries| {
            let mut inner = self.inner.clone();
            async move {
                let mut answers = inner
                    .synchronize(tokio_stream::iter(queries))
                    .await?
                    .into_inner();
                let mut books = Vec::new();
                while let Some(book) = answers.message().await? {
                    books.push(book);
                }
                Ok(books)
            }
        })
        .await
    }

    /// Every aggregate the store knows.
    pub async fn aggregate_roots(&self) -> Result<Vec<AggregateRoot>, ClientError> {
        call(self.retry, Repeat::Safe, (), |()| {
            let mut inner = self.inner.clone();
            async move {
                let mut roots = inner.get_aggregate_roots(()).await?.into_inner();
                let mut all = Vec::new();
                while let Some(root) = roots.message().await? {
                    all.push(root);
                }
                Ok(all)
            }
        })
        .await
    }
}

/// Runs `attempt` on `request`, retried by `retry`; with no retry the
/// request is moved, not cloned.
async fn call<Req, T, F, Fut>(
    retry: RetryPolicy,
    repeat: Repeat,
    request: Req,
    attempt: F,
) -> Result<T, ClientError>
where
    Req: Clone,
    F: Fn(Req) -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    if retry.max_attempts() <= 1 {
        return attempt(request).await;
    }
    retry.run(repeat, || attempt(request.clone())).await
}

/// Whether a command may be sent again after a connection broke under it:
/// when its merge strategy checks the sequence, a repeat of a command the
/// coordinator already stored meets a sequence conflict instead of running.
fn command_repeat(request: &CommandRequest) -> Repeat {
    let checked = request
        .command
        .as_ref()
        .is_none_or(|book| book.merge_strategy() != MergeStrategy::MergeAggregateHandles);
    if checked {
        Repeat::Safe
    } else {
        Repeat::Unsafe
    }
}

/// Whether facts may be sent again: when every page names an external id,
/// by which the coordinator stores them once.
fn fact_repeat(request: &EventRequest) -> Repeat {
    let identified = request.events.as_ref().is_some_and(|book| {
        !book.pages.is_empty()
            && book.pages.iter().all(|page| {
                matches!(
                    page.header.as_ref().and_then(|h| h.sequence_type.as_ref()),
                    Some(page_header::SequenceType::ExternalDeferred(deferred))
                        if !deferred.external_id.is_empty()
                )
            })
    });
    if identified {
        Repeat::Safe
    } else {
        Repeat::Unsafe
    }
}

/// Sends commands: `angzarr.CommandHandlerCoordinatorService`.
#[derive(Debug, Clone)]
pub struct AggregateClient {
    inner: CommandHandlerCoordinatorServiceClient<Channel>,
    retry: RetryPolicy,
}

/// The coordinator's own name for [`AggregateClient`].
pub type CommandHandlerClient = AggregateClient;

impl AggregateClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        let options = ConnectOptions::default();
        Ok(Self::from_channel_with(
            connect(&Target::parse(endpoint)?, &options).await?,
            &options,
        ))
    }

    /// Uses an existing channel, with the default options.
    pub fn from_channel(channel: Channel) -> Self {
        Self::from_channel_with(channel, &ConnectOptions::default())
    }

    /// Uses an existing channel, with `options`' message size and retry policy.
    pub fn from_channel_with(channel: Channel, options: &ConnectOptions) -> Self {
        AggregateClient {
            inner: sized!(
                CommandHandlerCoordinatorServiceClient::new(channel),
                options.max_message_size
            ),
            retry: options.retry,
        }
    }

    /// The same client retrying transport failures by `policy`.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy its calls use.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
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
        self.handle_command_retrying(request, self.retry).await
    }

    pub(crate) async fn handle_command_retrying(
        &self,
        request: CommandRequest,
        retry: RetryPolicy,
    ) -> Result<CommandResponse, ClientError> {
        let repeat = command_repeat(&request);
        call(retry, repeat, request, |request| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.handle_command(request).await?.into_inner()) }
        })
        .await
    }

    /// Runs a command against history at a point in time; nothing is stored.
    pub async fn speculate(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, ClientError> {
        call(self.retry, Repeat::Safe, request, |request| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.handle_sync_speculative(request).await?.into_inner()) }
        })
        .await
    }

    /// Injects external facts (`HandleEvent`); idempotent per external id.
    pub async fn handle_event(
        &self,
        request: EventRequest,
    ) -> Result<FactInjectionResponse, ClientError> {
        self.handle_event_retrying(request, self.retry).await
    }

    pub(crate) async fn handle_event_retrying(
        &self,
        request: EventRequest,
        retry: RetryPolicy,
    ) -> Result<FactInjectionResponse, ClientError> {
        let repeat = fact_repeat(&request);
        call(retry, repeat, request, |request| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.handle_event(request).await?.into_inner()) }
        })
        .await
    }

    /// Delivers a compensation (a rejection notification) to an aggregate.
    pub async fn handle_compensation(
        &self,
        request: CommandRequest,
    ) -> Result<BusinessResponse, ClientError> {
        call(self.retry, Repeat::Unsafe, request, |request| {
            let mut inner = self.inner.clone();
            async move { Ok(inner.handle_compensation(request).await?.into_inner()) }
        })
        .await
    }
}

/// The request metadata naming the component a speculative call is for,
/// where one coordinator serves several sagas, process managers or
/// projectors (angzarr-local). A component's own sidecar ignores it.
pub const COMPONENT_METADATA_KEY: &str = "x-angzarr-component";

/// Dry runs that persist and publish nothing.
#[derive(Debug, Clone)]
pub struct SpeculativeClient {
    channel: Channel,
    limit: usize,
    retry: RetryPolicy,
    component: Option<String>,
}

impl SpeculativeClient {
    /// Connects to `endpoint` (see [`Target::parse`]).
    pub async fn connect(endpoint: &str) -> Result<Self, ClientError> {
        let options = ConnectOptions::default();
        Ok(Self::from_channel_with(
            connect(&Target::parse(endpoint)?, &options).await?,
            &options,
        ))
    }

    /// Uses an existing channel, with the default options.
    pub fn from_channel(channel: Channel) -> Self {
        Self::from_channel_with(channel, &ConnectOptions::default())
    }

    /// Uses an existing channel, with `options`' message size and retry policy.
    pub fn from_channel_with(channel: Channel, options: &ConnectOptions) -> Self {
        SpeculativeClient {
            channel,
            limit: options.max_message_size,
            retry: options.retry,
            component: None,
        }
    }

    /// The same client, naming `name` as the saga, process manager or
    /// projector its calls are for ([`COMPONENT_METADATA_KEY`]). Needed
    /// where one coordinator serves several of a kind that read the same
    /// domain; a name that is not valid metadata (not visible ASCII) is
    /// refused by the call, as an invalid argument.
    ///
    /// ```
    /// # async fn run(client: angzarr_client::SpeculativeClient) {
    /// let summary = client.for_component("order-summary");
    /// # let _ = summary;
    /// # }
    /// ```
    pub fn for_component(&self, name: &str) -> SpeculativeClient {
        SpeculativeClient {
            component: Some(name.to_owned()),
            ..self.clone()
        }
    }

    /// `message` as a request, carrying the component's name if one was given.
    fn request<T>(&self, message: T) -> Result<tonic::Request<T>, ClientError> {
        let mut request = tonic::Request::new(message);
        if let Some(name) = &self.component {
            let value = name.parse().map_err(|_| {
                ClientError::InvalidArgument(format!(
                    "component name {name:?} cannot be sent as request metadata"
                ))
            })?;
            request.metadata_mut().insert(COMPONENT_METADATA_KEY, value);
        }
        Ok(request)
    }

    /// The same client retrying transport failures by `policy` (a dry run
    /// stores nothing, so every failure to reach the server is retried).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A command against an aggregate's history at a point in time.
    pub async fn aggregate(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, ClientError> {
        call(self.retry, Repeat::Safe, request, |request| {
            let mut client = sized!(
                CommandHandlerCoordinatorServiceClient::new(self.channel.clone()),
                self.limit
            );
            async move { Ok(client.handle_sync_speculative(request).await?.into_inner()) }
        })
        .await
    }

    /// A projector over events, without writing its read model (with
    /// [`for_component`](Self::for_component) to name the projector).
    pub async fn projector(
        &self,
        request: SpeculateProjectorRequest,
    ) -> Result<Projection, ClientError> {
        call(self.retry, Repeat::Safe, request, |request| {
            let mut client = sized!(
                ProjectorCoordinatorServiceClient::new(self.channel.clone()),
                self.limit
            );
            let request = self.request(request);
            async move { Ok(client.handle_speculative(request?).await?.into_inner()) }
        })
        .await
    }

    /// A saga over events, without sending its commands.
    pub async fn saga(&self, request: SpeculateSagaRequest) -> Result<SagaResponse, ClientError> {
        call(self.retry, Repeat::Safe, request, |request| {
            let mut client = sized!(
                SagaCoordinatorServiceClient::new(self.channel.clone()),
                self.limit
            );
            let request = self.request(request);
            async move { Ok(client.execute_speculative(request?).await?.into_inner()) }
        })
        .await
    }

    /// A process manager over a trigger, without effects.
    pub async fn process_manager(
        &self,
        request: SpeculatePmRequest,
    ) -> Result<ProcessManagerHandleResponse, ClientError> {
        call(self.retry, Repeat::Safe, request, |request| {
            let mut client = sized!(
                ProcessManagerCoordinatorServiceClient::new(self.channel.clone()),
                self.limit
            );
            let request = self.request(request);
            async move { Ok(client.handle_speculative(request?).await?.into_inner()) }
        })
        .await
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

    /// Connects to `target` with `options` (their retry policy applies to
    /// connecting too).
    pub async fn connect_with(
        target: &Target,
        options: &ConnectOptions,
    ) -> Result<Self, ClientError> {
        Ok(Self::from_channel_with(
            connect(target, options).await?,
            options,
        ))
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

    /// Uses an existing channel, with the default options.
    pub fn from_channel(channel: Channel) -> Self {
        Self::from_channel_with(channel, &ConnectOptions::default())
    }

    /// Uses an existing channel, with `options`' message size and retry policy.
    pub fn from_channel_with(channel: Channel, options: &ConnectOptions) -> Self {
        DomainClient {
            query: QueryClient::from_channel_with(channel.clone(), options),
            aggregate: AggregateClient::from_channel_with(channel.clone(), options),
            speculative: SpeculativeClient::from_channel_with(channel, options),
        }
    }

    /// The same client, every call of which retries transport failures by
    /// `policy` (a builder's [`with_retry`](CommandBuilder::with_retry)
    /// overrides it for one call).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), angzarr_client::ClientError> {
    /// use angzarr_client::{DomainClient, RetryPolicy};
    ///
    /// let client = DomainClient::connect("localhost:1310").await?.with_retry(RetryPolicy::default());
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_retry(self, policy: RetryPolicy) -> Self {
        DomainClient {
            query: self.query.with_retry(policy),
            aggregate: self.aggregate.with_retry(policy),
            speculative: self.speculative.with_retry(policy),
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
        CommandBuilder::new(self.aggregate.clone(), self.query.clone(), domain, root)
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

    /// Facts for the aggregate `root` of `domain`: events that happened
    /// outside (a payment settled, a clock ticked), which the aggregate
    /// records as they are; the coordinator assigns their sequences. See
    /// [`FactBuilder`] for an example.
    pub fn fact(&self, domain: &str, root: uuid::Uuid) -> FactBuilder {
        FactBuilder::new(self.aggregate.clone(), domain, root)
    }

    /// The sequence the next event of the aggregate `root` of `domain` gets,
    /// without reading its history (see [`QueryClient::next_sequence`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use angzarr_client::testing::FakeCoordinator;
    /// use angzarr_client::proto::NoOp;
    ///
    /// let coordinator = FakeCoordinator::new();
    /// let root = uuid::Uuid::new_v4();
    /// coordinator.given("player", root, (0..500).map(|_| NoOp::default()));
    /// assert_eq!(coordinator.client().next_sequence("player", root).await.unwrap(), 500);
    /// assert_eq!(coordinator.queries().len(), 1); // one query, no page read
    /// # }
    /// ```
    pub async fn next_sequence(&self, domain: &str, root: uuid::Uuid) -> Result<u32, ClientError> {
        self.query.next_sequence(Cover::new(domain, root)).await
    }
}
