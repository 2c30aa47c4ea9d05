//! Upcasters: old event versions upgraded to the current ones as history is
//! loaded, so aggregates only ever see the current shape.
//!
//! - [`Upcaster`]: the contract `#[upcaster]` and [`UpcasterRouter`] implement;
//! - [`runtime`]: `Upcast` from request to response, and one event's upgrade;
//! - [`UpcasterService`]: the gRPC face, `angzarr.UpcasterService`, served
//!   alone or beside its aggregate on the same address;
//! - [`UpcasterTest`](crate::testing::UpcasterTest): when an old event, then
//!   the current one.
//!
//! Rules chain: an event is upgraded until no rule matches (V1 -> V2 -> V3).
//! An aggregate that names its upcaster (`#[aggregate(upcaster = ...)]`,
//! [`CommandRouter::with_upcaster`](crate::CommandRouter::with_upcaster))
//! applies the same rules to the history it rebuilds from, so history that
//! reaches it without a coordinator-side upcast is current too.

use angzarr_proto::Any;

use crate::{ComponentError, MessageName};

mod output;
mod router;
pub mod runtime;
mod service;
pub(crate) mod testing;

pub use output::UpcastOutput;
pub use router::UpcasterRouter;
pub use service::UpcasterService;

/// An upcaster: rules that each turn one old event type into a newer one.
///
/// Implemented by `#[upcaster]` and by [`UpcasterRouter`]; served by
/// [`UpcasterService`] and tested with
/// [`UpcasterTest`](crate::testing::UpcasterTest), all through [`runtime`].
pub trait Upcaster: Send + Sync + 'static {
    /// A name for messages and logs, e.g. the type name `PlayerUpcaster`.
    fn name(&self) -> &str;

    /// The domain whose history it upgrades.
    fn domain(&self) -> &str;

    /// Old event types it upgrades (`#[upcasts]`), in route order.
    fn sources(&self) -> &[MessageName];

    /// The route of an event's type URL, if a rule upgrades it.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.sources(), type_url)
    }

    /// Runs the rule of `route` once: the old event, decoded, upgraded and
    /// packed again.
    fn upcast(&self, route: usize, event: &Any) -> Result<Any, ComponentError>;
}
