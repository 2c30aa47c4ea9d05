//! Sagas: stateless translators from one domain's events to other domains'
//! commands (and facts).
//!
//! - [`Saga`]: the contract `#[saga]` and [`SagaRouter`] implement;
//! - [`runtime`]: the one code path from a `SagaHandleRequest` to a `SagaResponse`;
//! - [`SagaService`]: the gRPC face, `angzarr.SagaService`;
//! - [`SagaTest`](crate::testing::SagaTest): when an event, then commands.
//!
//! A saga reads each page of the source book on its own: no state, no
//! history. What it returns becomes one command book per [`Command`](crate::Command),
//! addressed to the target's root with the source's correlation id and
//! edition, its page deferred to the source (the target's coordinator picks
//! the sequence). A rejection of such a command is compensated by the
//! *source aggregate* (its `#[rejected]` handlers), not by the saga.

use std::borrow::Cow;
use std::future::Future;

use angzarr_proto::Any;

use crate::{ComponentError, Effects, MessageName};

mod context;
mod router;
pub mod runtime;
mod service;
pub(crate) mod testing;

pub use context::SagaContext;
pub use router::SagaRouter;
pub use service::SagaService;

/// A saga: reacts to events of its source domain with commands (and facts)
/// for its target domains.
///
/// Implemented by `#[saga]` and by [`SagaRouter`]; served by [`SagaService`]
/// and tested with [`SagaTest`](crate::testing::SagaTest), all through
/// [`runtime`].
pub trait Saga: Send + Sync + 'static {
    /// The saga's name, e.g. `saga-table-player`.
    fn name(&self) -> &str;

    /// The domain whose events it consumes.
    fn source(&self) -> &str;

    /// The domains it sends commands and facts to.
    fn targets(&self) -> &[Cow<'static, str>];

    /// Event types handled, in route order.
    fn events(&self) -> &[MessageName];

    /// The route of an event's type URL, if it is handled.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.events(), type_url)
    }

    /// Runs the handler of `route` (from [`route`](Self::route)) on one
    /// event, adding the commands and facts it asks for to `effects`.
    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        context: SagaContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a;
}
