//! Projectors: read models and outside effects built from events.
//!
//! - [`Projector`]: the contract `#[projector]` and [`ProjectorRouter`] implement;
//! - [`runtime`]: from a delivered book to a `Projection`;
//! - [`ProjectorService`]: the gRPC face, `angzarr.ProjectorService`
//!   (`Handle`, and `HandleSpeculative` with the context saying so);
//! - [`CloudEvent`]: events for the outside world, with the protocol's
//!   defaults filled, and [`cloudevents`] to render them for sinks;
//! - [`ProjectorTest`](crate::testing::ProjectorTest): when events, then a
//!   projection.
//!
//! Delivery is at least once: the same book can arrive twice. A read model
//! stays correct by remembering, with its rows, the last position it applied
//! ([`ProjectionContext::position`]) and skipping what it has seen.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use angzarr_proto::Any;

use crate::{ComponentError, MessageName};

pub mod cloudevents;
mod context;
mod output;
mod router;
pub mod runtime;
mod service;
pub(crate) mod testing;

pub use cloudevents::CloudEvent;
pub use context::{Position, ProjectionContext};
pub use output::{Projected, ProjectorOutput};
pub use router::ProjectorRouter;
pub use service::ProjectorService;

/// A projector: turns events of its domains into a read model or outside
/// effects, and may answer with a projection.
///
/// Implemented by `#[projector]` and by [`ProjectorRouter`]; served by
/// [`ProjectorService`] and tested with
/// [`ProjectorTest`](crate::testing::ProjectorTest), all through [`runtime`].
pub trait Projector: Send + Sync + 'static {
    /// The projector's name, e.g. `table-seating`.
    fn name(&self) -> &str;

    /// The domains whose events it consumes.
    fn domains(&self) -> &[Cow<'static, str>];

    /// Event types handled, in route order.
    fn events(&self) -> &[MessageName];

    /// The route of an event's type URL, if it is handled.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.events(), type_url)
    }

    /// Runs the handler of `route` (from [`route`](Self::route)) on one
    /// event, adding what it produced to `out`.
    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        context: ProjectionContext<'a>,
        out: &'a mut Projected,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a;
}

/// A shared projector is a projector: a read model's owner can keep a handle
/// while a server or fixture runs it.
impl<P: Projector> Projector for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn domains(&self) -> &[Cow<'static, str>] {
        (**self).domains()
    }

    fn events(&self) -> &[MessageName] {
        (**self).events()
    }

    fn route(&self, type_url: &str) -> Option<usize> {
        (**self).route(type_url)
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        context: ProjectionContext<'a>,
        out: &'a mut Projected,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        (**self).handle(route, event, context, out)
    }
}
