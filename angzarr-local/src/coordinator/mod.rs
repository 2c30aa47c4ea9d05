//! The coordinator's behaviour over an [`EventStore`] and the registered
//! components, by responsibility:
//!
//! - `write`: commands (optimistic concurrency, deferred sequences, at most
//!   once), compensation, facts, speculative commands;
//! - `timeline`: the history a command is decided on (editions, snapshots,
//!   upcasting);
//! - `query`: `EventQueryService`;
//! - `locks`: one lock per timeline, pruned when idle;
//! - delivery to sagas, process managers and projectors lives in
//!   [`crate::delivery`].

mod locks;
mod query;
mod speculate;
mod timeline;
mod write;

use std::sync::Arc;

use angzarr_proto::{
    BusinessResponse, CommandRequest, CommandResponse, EventBook, EventRequest,
    FactInjectionResponse, Query, SpeculateCommandHandlerRequest,
};
use tonic::Status;

use crate::component::AggregateLogic;
use crate::delivery::Delivery;
use crate::registry::Registry;
use crate::store::{AggregateKey, Committer, EventStore, StoreError};

pub use query::MAX_QUERY_SEQUENCES;
pub(crate) use write::Run;
pub use write::{MAX_CONFLICT_DETAILS, REVOCATION_DOMAIN};

/// The coordinator: the store, the components, one lock per timeline, and
/// delivery.
pub struct Coordinator {
    store: Arc<dyn EventStore>,
    /// Every append goes through it, so that concurrent ones share a commit.
    committer: Committer,
    registry: Registry,
    locks: locks::Locks,
    delivery: Delivery,
}

impl Coordinator {
    pub(crate) fn new(store: Arc<dyn EventStore>, registry: Registry, delivery: Delivery) -> Self {
        Coordinator {
            committer: Committer::new(Arc::clone(&store)),
            store,
            registry,
            locks: locks::Locks::default(),
            delivery,
        }
    }

    /// The domains with an aggregate, sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.registry.aggregates.keys().map(String::as_str)
    }

    /// How many timelines have a lock entry right now (held or awaited):
    /// idle ones are pruned, so this follows the work in flight.
    pub fn lock_entries(&self) -> usize {
        self.locks.len()
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// Waits for `key`'s lock.
    pub(crate) async fn lock(&self, key: &AggregateKey) -> locks::Held<'_> {
        self.locks.lock(key).await
    }

    fn aggregate(&self, domain: &str) -> Result<&Arc<dyn AggregateLogic>, Status> {
        self.registry.aggregates.get(domain).ok_or_else(|| {
            let known: Vec<_> = self.domains().collect();
            let status = Status::not_found(format!(
                "domain `{domain}` not found; this coordinator serves: {}",
                if known.is_empty() {
                    "no domains".to_owned()
                } else {
                    known.join(", ")
                }
            ));
            angzarr_client::coded::with_error_code(status, angzarr_client::coded::UNKNOWN_DOMAIN)
        })
    }

    /// Runs `work` on the store off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn EventStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(|error| Status::internal(format!("the store task failed: {error}")))?
            .map_err(store_status)
    }

    /// `HandleCommand`: validates, runs the command, then delivers its book
    /// as the request's sync mode asks.
    pub async fn handle_command(&self, request: CommandRequest) -> Result<CommandResponse, Status> {
        write::handle_command(self, request).await
    }

    /// `HandleCompensation`: like a command, answering with the aggregate's
    /// own response (events persisted first; a revocation recorded).
    pub async fn handle_compensation(
        &self,
        request: CommandRequest,
    ) -> Result<BusinessResponse, Status> {
        write::handle_compensation(self, request).await
    }

    /// `HandleSyncSpeculative`: decides against history at a point in time;
    /// persists and publishes nothing.
    pub async fn handle_speculative(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, Status> {
        write::handle_speculative(self, request).await
    }

    /// `HandleEvent`: records external facts once per external id.
    pub async fn handle_event(
        &self,
        request: EventRequest,
    ) -> Result<FactInjectionResponse, Status> {
        write::handle_event(self, request).await
    }

    /// `GetEventBook`, and each answer of `GetEvents` and `Synchronize`.
    pub async fn query(&self, query: &Query) -> Result<Vec<EventBook>, Status> {
        query::query(self, query).await
    }

    /// `GetAggregateRoots`: every aggregate with events, once each.
    pub async fn roots(&self) -> Result<Vec<(String, uuid::Uuid)>, Status> {
        let keys = self.blocking(|store| store.roots()).await?;
        let mut roots: Vec<(String, uuid::Uuid)> =
            keys.into_iter().map(|key| (key.domain, key.root)).collect();
        roots.sort();
        roots.dedup();
        Ok(roots)
    }
}

/// The status a store failure answers.
pub(crate) fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::Conflict { expected, actual } => Status::failed_precondition(format!(
            "Sequence conflict: expected to append at {expected}, aggregate at {actual}"
        )),
        StoreError::BadSequence {
            index,
            found,
            expected,
        } => Status::internal(format!(
            "the aggregate returned event {index} with sequence {found:?}; expected {expected}"
        )),
        StoreError::SequenceExhausted { last } => exhausted(last),
        other => Status::internal(format!("event store: {other}")),
    }
}

/// OUT_OF_RANGE: the timeline has used the last sequence the wire can carry.
pub(crate) fn exhausted(last: u32) -> Status {
    angzarr_client::coded::with_error_code(
        Status::out_of_range(format!(
            "the aggregate has an event at sequence {last}, the last one there is: it takes no more events"
        )),
        angzarr_client::coded::SEQUENCE_EXHAUSTED,
    )
}

/// The sequence `index` places after `next`, or OUT_OF_RANGE.
pub(crate) fn sequence_at(next: u32, index: usize) -> Result<u32, Status> {
    u32::try_from(index)
        .ok()
        .and_then(|index| next.checked_add(index))
        .ok_or_else(|| exhausted(u32::MAX))
}

pub(crate) fn key_of(cover: &angzarr_proto::Cover, root: uuid::Uuid) -> AggregateKey {
    AggregateKey {
        domain: cover.domain.clone(),
        edition: cover.edition_name().to_owned(),
        root,
    }
}
