//! Fluent builders for commands and queries.

use std::ops::{Bound, RangeBounds};

use angzarr_proto::{
    event_page, page_header, query, temporal_query, time, Any, AnyExt, CascadeErrorMode,
    CommandBook, CommandPage, CommandRequest, CommandResponse, Cover, EventBook, EventPage,
    EventRequest, ExternalDeferredSequence, FactInjectionResponse, InvalidTimestamp, MergeStrategy,
    PageHeader, Query, SequenceRange, SequenceSet, SpeculateCommandHandlerRequest, SyncMode,
    TemporalQuery, Timestamp,
};
use prost::Name;

use super::clients::{AggregateClient, EventBookStream, QueryClient};
use super::retry::RetryPolicy;
use crate::ClientError;

/// A point in history for dry runs and temporal queries.
pub use angzarr_proto::temporal_query::PointInTime;

/// Builds and sends one command.
///
/// Defaults: expected sequence 0, a fresh correlation id, merge strategy
/// COMMUTATIVE, async sync mode, the main edition.
#[derive(Debug, Clone)]
#[must_use = "a command does nothing until executed"]
pub struct CommandBuilder {
    client: AggregateClient,
    queries: QueryClient,
    retry: RetryPolicy,
    domain: String,
    root: uuid::Uuid,
    command: Option<Any>,
    sequence: u32,
    correlation_id: Option<String>,
    merge_strategy: MergeStrategy,
    sync_mode: SyncMode,
    cascade_error_mode: CascadeErrorMode,
    edition: Option<String>,
}

impl CommandBuilder {
    pub(crate) fn new(
        client: AggregateClient,
        queries: QueryClient,
        domain: &str,
        root: uuid::Uuid,
    ) -> Self {
        CommandBuilder {
            retry: client.retry_policy(),
            client,
            queries,
            domain: domain.to_owned(),
            root,
            command: None,
            sequence: 0,
            correlation_id: None,
            merge_strategy: MergeStrategy::MergeCommutative,
            sync_mode: SyncMode::Async,
            cascade_error_mode: CascadeErrorMode::CascadeErrorFailFast,
            edition: None,
        }
    }

    /// The command message; its type URL comes from its type.
    pub fn with_command<M: Name>(mut self, command: &M) -> Self {
        self.command = Some(Any::pack(command));
        self
    }

    /// An already packed command.
    pub fn with_any(mut self, command: Any) -> Self {
        self.command = Some(command);
        self
    }

    /// The sequence the aggregate is expected to be at (its event count).
    pub fn with_sequence(mut self, sequence: u32) -> Self {
        self.sequence = sequence;
        self
    }

    /// The correlation id (default: a fresh UUID).
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// How a stale sequence is treated.
    pub fn with_merge_strategy(mut self, strategy: MergeStrategy) -> Self {
        self.merge_strategy = strategy;
        self
    }

    /// How far the coordinator follows the command's effects before answering.
    pub fn with_sync_mode(mut self, mode: SyncMode) -> Self {
        self.sync_mode = mode;
        self
    }

    /// What a CASCADE command does when a step of its cascade fails
    /// (default FAIL_FAST).
    pub fn with_cascade_error_mode(mut self, mode: CascadeErrorMode) -> Self {
        self.cascade_error_mode = mode;
        self
    }

    /// Runs the command on a named edition (timeline).
    pub fn with_edition(mut self, edition: impl Into<String>) -> Self {
        self.edition = Some(edition.into());
        self
    }

    /// Retries transport failures of this command by `policy` instead of the
    /// client's (see [`RetryPolicy`] for which failures are retried).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use angzarr_client::testing::FakeCoordinator;
    /// use angzarr_client::RetryPolicy;
    /// use examples::proto::RegisterPlayer;
    ///
    /// let coordinator = FakeCoordinator::new();
    /// coordinator.reply_status(tonic::Status::unavailable("the sidecar is restarting"));
    /// let policy = RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(10));
    /// coordinator.client()
    ///     .command("player", uuid::Uuid::new_v4())
    ///     .with_command(&RegisterPlayer::default())
    ///     .with_retry(policy)
    ///     .execute()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(coordinator.commands().len(), 2);
    /// # }
    /// ```
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The command book, or `InvalidArgument("command not set")`.
    pub fn build(&self) -> Result<CommandBook, ClientError> {
        self.book_with(self.command.clone())
    }

    fn book_with(&self, command: Option<Any>) -> Result<CommandBook, ClientError> {
        let command =
            command.ok_or_else(|| ClientError::InvalidArgument("command not set".to_owned()))?;
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut cover =
            Cover::new(self.domain.clone(), self.root).with_correlation_id(correlation_id);
        if let Some(edition) = &self.edition {
            cover = cover.with_edition(edition.clone());
        }
        let mut page = CommandPage::new(self.sequence, command);
        page.merge_strategy = self.merge_strategy.into();
        Ok(CommandBook {
            cover: Some(cover),
            pages: vec![page],
        })
    }

    /// The full request: the book and the sync mode.
    pub fn build_request(&self) -> Result<CommandRequest, ClientError> {
        Ok(CommandRequest {
            command: Some(self.build()?),
            sync_mode: self.sync_mode.into(),
            cascade_error_mode: self.cascade_error_mode.into(),
            ..Default::default()
        })
    }

    /// Sends the command.
    pub async fn execute(mut self) -> Result<CommandResponse, ClientError> {
        let command = self.command.take();
        let request = CommandRequest {
            command: Some(self.book_with(command)?),
            sync_mode: self.sync_mode.into(),
            cascade_error_mode: self.cascade_error_mode.into(),
            ..Default::default()
        };
        self.client
            .handle_command_retrying(request, self.retry)
            .await
    }

    /// Sends the command and, when another writer got there first (a
    /// sequence conflict), decides again: reads the aggregate's history as
    /// it now is, asks `decide` for the command that history calls for, and
    /// sends that at the fresh sequence; at most `attempts` sends in all,
    /// every one with the same correlation id. Without a command set with
    /// [`with_command`](Self::with_command), the first send is decided from
    /// the current history too.
    ///
    /// Re-sending the same command at the new sequence would defeat
    /// `MERGE_STRICT`, whose point is that a command decided on stale state
    /// is not applied; `decide` sees the state the command now meets, and
    /// returns an error (say, a [`ClientError::InvalidArgument`]) to give up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), angzarr_client::ClientError> {
    /// use angzarr_client::aggregate::runtime::rebuild;
    /// use angzarr_client::proto::MergeStrategy;
    /// use angzarr_client::testing::FakeCoordinator;
    /// use angzarr_client::ClientError;
    /// use examples::player::{amount, chips, Player};
    /// use examples::proto::{FundsDeposited, PlayerRegistered, WithdrawFunds};
    ///
    /// let coordinator = FakeCoordinator::new();
    /// let root = uuid::Uuid::new_v4();
    /// let deposited = |balance| FundsDeposited { amount: Some(chips(100)), new_balance: Some(chips(balance)), deposited_at: None };
    /// coordinator.given("player", root, [deposited(100), deposited(200)]);
    /// coordinator.reply_conflict(); // another writer got there first
    /// let client = coordinator.client();
    ///
    /// // Withdraw half of what the player has, whatever others did meanwhile.
    /// client
    ///     .command("player", root)
    ///     .with_merge_strategy(MergeStrategy::MergeStrict)
    ///     .execute_retrying(5, |history| {
    ///         let (state, _) = rebuild(&Player, Some(history))
    ///             .map_err(|error| ClientError::InvalidArgument(error.to_string()))?;
    ///         Ok(WithdrawFunds { amount: Some(chips(amount(state.bankroll.as_ref()) / 2)) })
    ///     })
    ///     .await?;
    /// let sent = coordinator.commands_of::<WithdrawFunds>();
    /// assert_eq!(sent.len(), 2); // decided, refused as a conflict, decided again
    /// assert!(sent.iter().all(|w| w.amount == Some(chips(100))));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn execute_retrying<M, F>(
        mut self,
        attempts: u32,
        mut decide: F,
    ) -> Result<CommandResponse, ClientError>
    where
        M: Name,
        F: FnMut(&EventBook) -> Result<M, ClientError>,
    {
        // One correlation id for every attempt: they are one request.
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.correlation_id = Some(correlation_id);
        if self.command.is_none() {
            self.decide_from_current(&mut decide).await?;
        }
        let mut sent = 0;
        loop {
            sent += 1;
            match self
                .client
                .handle_command_retrying(self.build_request()?, self.retry)
                .await
            {
                Err(error) if error.is_sequence_conflict() && sent < attempts.max(1) => {
                    self.decide_from_current(&mut decide).await?;
                }
                other => return other,
            }
        }
    }

    /// Reads the aggregate's history and sets the command `decide` makes of
    /// it, at the sequence after it.
    async fn decide_from_current<M, F>(&mut self, decide: &mut F) -> Result<(), ClientError>
    where
        M: Name,
        F: FnMut(&EventBook) -> Result<M, ClientError>,
    {
        let mut query = QueryBuilder::new(self.queries.clone(), &self.domain, Some(self.root))
            .with_retry(self.retry);
        if let Some(edition) = &self.edition {
            query = query.edition(edition.clone());
        }
        let history = query.get_event_book().await?;
        let command = decide(&history)?;
        self.sequence = history.next_sequence.max(history.computed_next_sequence());
        self.command = Some(Any::pack(&command));
        Ok(())
    }

    /// Runs the command against history at `at`; nothing is stored.
    pub async fn speculate(self, at: PointInTime) -> Result<CommandResponse, ClientError> {
        let request = SpeculateCommandHandlerRequest {
            command: Some(self.build()?),
            point_in_time: Some(TemporalQuery {
                point_in_time: Some(at),
            }),
        };
        self.client.speculate(request).await
    }
}

/// Builds and sends facts: events that happened outside the system, which
/// an aggregate records as they are (`HandleEvent`). The coordinator assigns
/// their sequences; an external id makes sending them again harmless (they
/// are stored once, and the answer says `already_processed`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), angzarr_client::ClientError> {
/// use angzarr_client::testing::FakeCoordinator;
/// use examples::player::chips;
/// use examples::proto::FundsDeposited;
///
/// let coordinator = FakeCoordinator::new();
/// let client = coordinator.client();
/// let root = uuid::Uuid::new_v4();
/// let transfer = client
///     .fact("player", root)
///     .with_event(&FundsDeposited { amount: Some(chips(50)), new_balance: Some(chips(50)), deposited_at: None })
///     .external_id("bank-transfer-8812")
///     .description("wire transfer settled");
/// assert!(!transfer.clone().execute().await?.already_processed);
/// assert!(transfer.execute().await?.already_processed); // stored once
/// assert_eq!(client.next_sequence("player", root).await?, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a fact does nothing until executed"]
pub struct FactBuilder {
    client: AggregateClient,
    retry: RetryPolicy,
    domain: String,
    root: uuid::Uuid,
    events: Vec<Any>,
    external_id: Option<String>,
    description: String,
    correlation_id: Option<String>,
    sync_mode: SyncMode,
    edition: Option<String>,
}

impl FactBuilder {
    pub(crate) fn new(client: AggregateClient, domain: &str, root: uuid::Uuid) -> Self {
        FactBuilder {
            retry: client.retry_policy(),
            client,
            domain: domain.to_owned(),
            root,
            events: Vec::new(),
            external_id: None,
            description: String::new(),
            correlation_id: None,
            sync_mode: SyncMode::Async,
            edition: None,
        }
    }

    /// Adds an event; a fact may hold several, stored together in order.
    pub fn with_event<M: Name>(mut self, event: &M) -> Self {
        self.events.push(Any::pack(event));
        self
    }

    /// Adds an already packed event.
    pub fn with_any(mut self, event: Any) -> Self {
        self.events.push(event);
        self
    }

    /// The id the outside system knows the fact by (a payment's id): the
    /// coordinator stores a fact once per id. Required.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// What the fact is, for people reading the history.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// The correlation id (default: a fresh UUID).
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// How far the coordinator follows the facts' effects before answering.
    pub fn with_sync_mode(mut self, mode: SyncMode) -> Self {
        self.sync_mode = mode;
        self
    }

    /// Records the facts on a named edition (timeline).
    pub fn with_edition(mut self, edition: impl Into<String>) -> Self {
        self.edition = Some(edition.into());
        self
    }

    /// Retries transport failures by `policy` instead of the client's.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The request, or `InvalidArgument` naming what is missing (an event,
    /// the external id).
    pub fn build(&self) -> Result<EventRequest, ClientError> {
        if self.events.is_empty() {
            return Err(ClientError::InvalidArgument(
                "a fact needs at least one event (with_event)".to_owned(),
            ));
        }
        let external_id = match self.external_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => {
                return Err(ClientError::InvalidArgument(
                    "a fact needs the external id it is known by outside (external_id)".to_owned(),
                ))
            }
        };
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut cover =
            Cover::new(self.domain.clone(), self.root).with_correlation_id(correlation_id);
        if let Some(edition) = &self.edition {
            cover = cover.with_edition(edition.clone());
        }
        let pages = self
            .events
            .iter()
            .map(|event| EventPage {
                header: Some(PageHeader {
                    sequence_type: Some(page_header::SequenceType::ExternalDeferred(
                        ExternalDeferredSequence {
                            external_id: external_id.clone(),
                            description: self.description.clone(),
                        },
                    )),
                }),
                created_at: Some(time::now()),
                payload: Some(event_page::Payload::Event(event.clone())),
                ..Default::default()
            })
            .collect();
        Ok(EventRequest {
            events: Some(EventBook {
                cover: Some(cover),
                pages,
                ..Default::default()
            }),
            sync_mode: self.sync_mode.into(),
            ..Default::default()
        })
    }

    /// Sends the facts; the answer holds the stored pages, with
    /// `already_processed` set when the external id had been seen.
    pub async fn execute(self) -> Result<FactInjectionResponse, ClientError> {
        let request = self.build()?;
        self.client.handle_event_retrying(request, self.retry).await
    }
}

/// Builds and runs one query. The last selection set wins.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until run"]
pub struct QueryBuilder {
    client: QueryClient,
    retry: RetryPolicy,
    domain: String,
    root: Option<uuid::Uuid>,
    correlation_id: Option<String>,
    selection: Option<query::Selection>,
    edition: Option<String>,
    invalid_time: Option<InvalidTimestamp>,
}

impl QueryBuilder {
    pub(crate) fn new(client: QueryClient, domain: &str, root: Option<uuid::Uuid>) -> Self {
        QueryBuilder {
            retry: client.retry_policy(),
            client,
            domain: domain.to_owned(),
            root,
            correlation_id: None,
            selection: None,
            edition: None,
            invalid_time: None,
        }
    }

    /// Sequences in a Rust range: `3..7` is 3 to 6, `3..` everything from 3,
    /// `..=5` up to 5.
    pub fn range(mut self, range: impl RangeBounds<u32>) -> Self {
        let lower = match range.start_bound() {
            Bound::Included(&start) => start,
            Bound::Excluded(&start) => start.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let upper = match range.end_bound() {
            Bound::Included(&end) => Some(end),
            // The wire's upper bound is inclusive; an empty range selects nothing.
            Bound::Excluded(&0) => {
                self.selection = Some(query::Selection::Sequences(SequenceSet::default()));
                return self;
            }
            Bound::Excluded(&end) => Some(end - 1),
            Bound::Unbounded => None,
        };
        self.selection = Some(query::Selection::Range(SequenceRange { lower, upper }));
        self
    }

    /// Exactly these sequences.
    pub fn sequences(mut self, sequences: impl IntoIterator<Item = u32>) -> Self {
        self.selection = Some(query::Selection::Sequences(SequenceSet {
            values: sequences.into_iter().collect(),
        }));
        self
    }

    /// History as it stood at `sequence` (inclusive).
    pub fn as_of_sequence(mut self, sequence: u32) -> Self {
        self.selection = Some(temporal(temporal_query::PointInTime::AsOfSequence(
            sequence,
        )));
        self
    }

    /// History as it stood at `at`.
    pub fn as_of_time(mut self, at: Timestamp) -> Self {
        self.selection = Some(temporal(temporal_query::PointInTime::AsOfTime(at)));
        self
    }

    /// History as it stood at an RFC 3339 time; bad text is an
    /// `InvalidTimestamp` error when the query is built.
    pub fn as_of_rfc3339(mut self, text: &str) -> Self {
        match time::parse_rfc3339(text) {
            Ok(at) => self.as_of_time(at),
            Err(error) => {
                self.invalid_time = Some(error);
                self
            }
        }
    }

    /// Every event with this correlation id, across aggregates (clears the root).
    pub fn by_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self.root = None;
        self
    }

    /// Reads a named edition (timeline).
    pub fn edition(mut self, edition: impl Into<String>) -> Self {
        self.edition = Some(edition.into());
        self
    }

    /// Retries transport failures by `policy` instead of the client's.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The query, or the first problem found while building it.
    pub fn build(&self) -> Result<Query, ClientError> {
        if let Some(error) = &self.invalid_time {
            return Err(ClientError::InvalidTimestamp(error.clone()));
        }
        let mut cover = Cover {
            root: self.root.map(Into::into),
            domain: self.domain.clone(),
            correlation_id: self.correlation_id.clone().unwrap_or_default(),
            edition: None,
        };
        if let Some(edition) = &self.edition {
            cover = cover.with_edition(edition.clone());
        }
        Ok(Query {
            cover: Some(cover),
            selection: self.selection.clone(),
        })
    }

    /// One book with every selected page.
    pub async fn get_event_book(self) -> Result<EventBook, ClientError> {
        let query = self.build()?;
        self.client.get_event_book_retrying(query, self.retry).await
    }

    /// The selected history as a stream of books.
    pub async fn get_events(self) -> Result<EventBookStream, ClientError> {
        let query = self.build()?;
        self.client.get_events_retrying(query, self.retry).await
    }

    /// The sequence the aggregate's next event gets on the queried edition,
    /// without reading its history (the selection is ignored; see
    /// [`QueryClient::next_sequence`]). A query without a root is refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use angzarr_client::testing::FakeCoordinator;
    /// use angzarr_client::proto::NoOp;
    ///
    /// let coordinator = FakeCoordinator::new();
    /// let root = uuid::Uuid::new_v4();
    /// coordinator.given("table", root, [NoOp::default(), NoOp::default()]);
    /// let client = coordinator.client();
    /// assert_eq!(client.query("table", root).next_sequence().await.unwrap(), 2);
    /// assert_eq!(client.query("table", root).edition("what-if").next_sequence().await.unwrap(), 0);
    /// assert!(client.query_domain("table").next_sequence().await.is_err());
    /// # }
    /// ```
    pub async fn next_sequence(self) -> Result<u32, ClientError> {
        let query = self.build()?;
        let cover = query.cover.unwrap_or_default();
        if cover.root.is_none() {
            return Err(ClientError::InvalidArgument(
                "next_sequence needs an aggregate: the query has no root".to_owned(),
            ));
        }
        self.client.next_sequence_retrying(cover, self.retry).await
    }

    /// The selected pages.
    pub async fn get_pages(self) -> Result<Vec<EventPage>, ClientError> {
        Ok(self.get_event_book().await?.pages)
    }
}

fn temporal(point: temporal_query::PointInTime) -> query::Selection {
    query::Selection::Temporal(TemporalQuery {
        point_in_time: Some(point),
    })
}
