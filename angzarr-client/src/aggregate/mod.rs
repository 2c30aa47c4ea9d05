//! Aggregates: decide commands from state rebuilt out of their own events.
//!
//! - [`Aggregate`]: the contract `#[aggregate]` and [`CommandRouter`] implement;
//! - [`runtime`]: the one code path from a `ContextualCommand` to a response;
//! - [`CommandRouter`]: an aggregate assembled from plain functions;
//! - [`AggregateService`]: the gRPC face, `angzarr.CommandHandlerService`;
//! - [`AggregateTest`](crate::testing::AggregateTest): given / when / then.

use std::borrow::Cow;
use std::future::Future;

use angzarr_proto::{Any, RejectionNotification};

use crate::{ComponentError, MessageName, RejectionRoute};

mod context;
mod router;
pub mod runtime;
pub(crate) mod server;
mod service;
mod snapshots;
pub(crate) mod testing;

pub use context::CommandContext;
pub use router::CommandRouter;
pub use server::AggregateServer;
pub use service::AggregateService;
pub(crate) use snapshots::every_due;
pub use snapshots::{SnapshotPolicy, DEFAULT_SNAPSHOT_INTERVAL};

/// An event-sourced aggregate: decides commands from state rebuilt by
/// applying its events.
///
/// Implemented by `#[aggregate]` (the rich domain model) and by
/// [`CommandRouter`] (plain functions); served by
/// [`AggregateService`] and tested with
/// [`AggregateTest`](crate::testing::AggregateTest). Both go through
/// [`runtime`], so they behave identically.
pub trait Aggregate: Send + Sync + 'static {
    /// The state that events are applied to.
    type State: Send + Sync + 'static;

    /// A name for messages and logs, e.g. the type name `Player`.
    fn name(&self) -> &str;

    /// The domain (aggregate type) this aggregate serves, e.g. `player`.
    fn domain(&self) -> &str;

    /// The state of an aggregate with no history.
    fn new_state(&self) -> Self::State;

    /// Command types handled, in route order.
    fn commands(&self) -> &[MessageName];

    /// Event types applied to state.
    fn events(&self) -> &[MessageName];

    /// The route of a command type URL, if this aggregate handles it.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.commands(), type_url)
    }

    /// Applies one event to `state`. Returns `Ok(false)`, leaving the state
    /// untouched, for event types this aggregate does not know.
    fn apply(&self, state: &mut Self::State, event: &Any) -> Result<bool, ComponentError>;

    /// Applies one event given as its type URL and encoded payload (a page
    /// read in place from a request). The macro decodes the payload straight
    /// from the slice; the default packs an `Any` and calls
    /// [`apply`](Self::apply).
    fn apply_encoded(
        &self,
        state: &mut Self::State,
        type_url: &str,
        value: &[u8],
    ) -> Result<bool, ComponentError> {
        self.apply(state, &crate::decode::packed(type_url, value))
    }

    /// Whether [`upcast`](Self::upcast) may change events of this type (then
    /// they are upcast before being applied). The default answers `true`,
    /// always correct; aggregates that know their upcaster answer exactly.
    fn upcasts(&self, type_url: &str) -> bool {
        let _ = type_url;
        true
    }

    /// Whether every command and compensation handler completes without
    /// awaiting, so that the futures of [`handle`](Self::handle),
    /// [`handle_and_apply`](Self::handle_and_apply) and
    /// [`compensate`](Self::compensate) are ready when first polled. The
    /// server then decides a command in place, with no future to allocate
    /// and poll. The default, `false`, is always correct; `#[aggregate]`
    /// answers `true` when no handler is `async`, [`CommandRouter`] always.
    /// Served (over gRPC or in process), an implementation answering `true`
    /// whose future is not ready fails that command with INTERNAL.
    fn synchronous(&self) -> bool {
        false
    }

    /// Runs the handler of `route` (from [`route`](Self::route)) and returns the
    /// events it produced, packed, in order.
    fn handle<'a>(
        &'a self,
        route: usize,
        command: &'a Any,
        state: &'a Self::State,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, ComponentError>> + Send + 'a;

    /// Applies an event still as the typed value a handler produced, when
    /// this aggregate has an applier for that type: `None` otherwise (the
    /// runtime then decodes the packed event). The macro implements it.
    fn apply_typed(
        &self,
        state: &mut Self::State,
        event: &dyn std::any::Any,
    ) -> Option<Result<(), ComponentError>> {
        let _ = (state, event);
        None
    }

    /// Runs the handler of `route` and applies what it produced to `state`
    /// (so that the next command page, and the snapshot, see it). Returns
    /// the events, packed, in order. The default calls
    /// [`handle`](Self::handle) and applies the packed events; the macro
    /// applies each event as the typed value the handler returned.
    fn handle_and_apply<'a>(
        &'a self,
        route: usize,
        command: &'a Any,
        state: &'a mut Self::State,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, ComponentError>> + Send + 'a {
        async move {
            let events = self.handle(route, command, &*state, context).await?;
            for event in &events {
                self.apply(state, event)
                    .map_err(|error| runtime::unappliable(self.name(), &error))?;
            }
            Ok(events)
        }
    }

    /// Rejected commands this aggregate compensates for, in route order.
    fn rejections(&self) -> &[RejectionRoute] {
        &[]
    }

    /// Runs the compensation handler of `route` (an index into
    /// [`rejections`](Self::rejections)).
    fn compensate<'a>(
        &'a self,
        route: usize,
        notification: &'a RejectionNotification,
        state: &'a Self::State,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, ComponentError>> + Send + 'a {
        let _ = (notification, state, context);
        let error = ComponentError::internal(format!(
            "aggregate {} has no compensation route {route}",
            self.name()
        ));
        std::future::ready(Err(error))
    }

    /// The state as a snapshot, for aggregates whose state is a protobuf message.
    fn snapshot(&self, state: &Self::State) -> Option<Any> {
        let _ = state;
        None
    }

    /// Whether a command whose events have the sequences `first..=last`
    /// returns `state` (the state after them) as a snapshot; asked only of
    /// an aggregate that keeps snapshots. The default follows
    /// [`SnapshotPolicy::default`]: every [`DEFAULT_SNAPSHOT_INTERVAL`]
    /// events. `#[aggregate(snapshot = 100)]` or
    /// `#[aggregate(snapshot = predicate)]` and
    /// [`CommandRouter::with_snapshot_policy`] choose another.
    fn snapshot_due(&self, state: &Self::State, first: u32, last: u32) -> bool {
        let _ = state;
        every_due(DEFAULT_SNAPSHOT_INTERVAL, first, last)
    }

    /// The state held by a snapshot; `None` if this aggregate keeps no snapshots.
    fn restore(&self, snapshot: &Any) -> Option<Result<Self::State, ComponentError>> {
        let _ = snapshot;
        None
    }

    /// Upgrades an event of an old version to its current shape before it is
    /// applied (the aggregate's upcaster, when it names one). Events already
    /// current are borrowed unchanged.
    fn upcast<'e>(&self, event: &'e Any) -> Result<Cow<'e, Any>, ComponentError> {
        Ok(Cow::Borrowed(event))
    }

    /// A readable rendering of one of this aggregate's events (its `Debug`),
    /// for test failure messages.
    fn describe_event(&self, event: &Any) -> Option<String> {
        let _ = event;
        None
    }
}
