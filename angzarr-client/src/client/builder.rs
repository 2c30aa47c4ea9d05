//! Fluent builders for commands and queries.

use std::ops::{Bound, RangeBounds};

use angzarr_proto::{
    query, temporal_query, time, Any, AnyExt, CascadeErrorMode, CommandBook, CommandPage,
    CommandRequest, CommandResponse, Cover, EventBook, EventPage, InvalidTimestamp, MergeStrategy,
    Query, SequenceRange, SequenceSet, SpeculateCommandHandlerRequest, SyncMode, TemporalQuery,
    Timestamp,
};
use prost::Name;

use super::clients::{AggregateClient, EventBookStream, QueryClient};
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
    pub(crate) fn new(client: AggregateClient, domain: &str, root: uuid::Uuid) -> Self {
        CommandBuilder {
            client,
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
        self.client.handle_command(request).await
    }

    /// Sends the command; on a sequence conflict, rebuilds it at the
    /// aggregate's current sequence (from the error) and tries again, at
    /// most `attempts` times in all.
    pub async fn execute_retrying(mut self, attempts: u32) -> Result<CommandResponse, ClientError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.handle_command(self.build_request()?).await {
                Err(error) if error.is_sequence_conflict() && tries < attempts => {
                    match error.current_event_book() {
                        Some(current) => self.sequence = current.next_sequence,
                        None => return Err(error),
                    }
                }
                other => return other,
            }
        }
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

/// Builds and runs one query. The last selection set wins.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until run"]
pub struct QueryBuilder {
    client: QueryClient,
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
        self.client.get_event_book(query).await
    }

    /// The selected history as a stream of books.
    pub async fn get_events(self) -> Result<EventBookStream, ClientError> {
        let query = self.build()?;
        self.client.get_events(query).await
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
