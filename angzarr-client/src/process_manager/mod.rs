//! Process managers: workflows across domains, one instance per correlation
//! id, with state of their own.
//!
//! - [`ProcessManager`]: the contract `#[process_manager]` and
//!   [`ProcessManagerRouter`] implement;
//! - [`runtime`]: `Prepare` and `Handle`, from request to response;
//! - [`ProcessManagerService`]: the gRPC face, `angzarr.ProcessManagerService`;
//! - [`ProcessManagerTest`](crate::testing::ProcessManagerTest): given its
//!   events, when a trigger, then destinations, events, commands and facts.
//!
//! A process manager is an aggregate of its own domain (its name): its
//! events are stored under a cover whose root comes from the correlation id,
//! and its state is rebuilt from them (snapshot first) before each trigger.
//! Handlers react to events of its source domains with events of its own,
//! commands and facts; `#[rejected]` handlers react when a command it sent
//! was refused.

use std::borrow::Cow;
use std::future::Future;

use angzarr_proto::{Any, Cover, RejectionNotification};

use crate::{ComponentError, Effects, MessageName, RejectionRoute};

mod context;
mod destinations;
mod router;
pub mod runtime;
mod service;
pub(crate) mod testing;

pub use context::PmContext;
pub use destinations::IntoDestinations;
pub use router::ProcessManagerRouter;
pub use service::ProcessManagerService;

/// A process manager: consumes events of several domains, keeps state of its
/// own per correlation id, and sends commands.
///
/// Implemented by `#[process_manager]` and by [`ProcessManagerRouter`];
/// served by [`ProcessManagerService`] and tested with
/// [`ProcessManagerTest`](crate::testing::ProcessManagerTest), all through
/// [`runtime`].
pub trait ProcessManager: Send + Sync + 'static {
    /// The state its own events are applied to.
    type State: Send + Sync + 'static;

    /// The process manager's name, which is also the domain of its own events.
    fn name(&self) -> &str;

    /// The domains whose events it consumes.
    fn sources(&self) -> &[Cow<'static, str>];

    /// The domains it sends commands and facts to.
    fn targets(&self) -> &[Cow<'static, str>];

    /// The state of a workflow with no history.
    fn new_state(&self) -> Self::State;

    /// Trigger event types handled (`#[handles]`), in route order.
    fn triggers(&self) -> &[MessageName];

    /// The route of an event's type URL, if it is handled.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.triggers(), type_url)
    }

    /// Trigger event types whose destinations it prepares (`#[prepares]`),
    /// in route order.
    fn prepared(&self) -> &[MessageName] {
        &[]
    }

    /// The aggregates whose sequences handling `event` needs (route into
    /// [`prepared`](Self::prepared)).
    fn prepare(
        &self,
        route: usize,
        event: &Any,
        state: &Self::State,
    ) -> Result<Vec<Cover>, ComponentError> {
        let _ = (event, state);
        Err(ComponentError::internal(format!(
            "process manager {} has no preparation route {route}",
            self.name()
        )))
    }

    /// Runs the handler of `route` (from [`route`](Self::route)) on one
    /// trigger event, adding what it asks for to `effects`.
    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        state: &'a Self::State,
        context: PmContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a;

    /// Types of its own events applied to state.
    fn events(&self) -> &[MessageName];

    /// Applies one of its own events to `state`. Returns `Ok(false)`, leaving
    /// the state untouched, for event types it does not know.
    fn apply(&self, state: &mut Self::State, event: &Any) -> Result<bool, ComponentError>;

    /// Applies one of its own events given as type URL and encoded payload;
    /// the default packs an `Any` and calls [`apply`](Self::apply).
    fn apply_encoded(
        &self,
        state: &mut Self::State,
        type_url: &str,
        value: &[u8],
    ) -> Result<bool, ComponentError> {
        self.apply(state, &crate::decode::packed(type_url, value))
    }

    /// Rejected commands it reacts to, in route order.
    fn rejections(&self) -> &[RejectionRoute] {
        &[]
    }

    /// Runs the `#[rejected]` handler of `route` (into
    /// [`rejections`](Self::rejections)), adding what it asks for to `effects`.
    fn compensate<'a>(
        &'a self,
        route: usize,
        notification: &'a RejectionNotification,
        state: &'a Self::State,
        context: PmContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        let _ = (notification, state, context, effects);
        std::future::ready(Err(ComponentError::internal(format!(
            "process manager {} has no rejection route {route}",
            self.name()
        ))))
    }

    /// The state as a snapshot, for process managers whose state is a
    /// protobuf message.
    fn snapshot(&self, state: &Self::State) -> Option<Any> {
        let _ = state;
        None
    }

    /// The state held by a snapshot; `None` if it keeps no snapshots.
    fn restore(&self, snapshot: &Any) -> Option<Result<Self::State, ComponentError>> {
        let _ = snapshot;
        None
    }
}
