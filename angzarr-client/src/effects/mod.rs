//! What sagas and process managers ask for: commands to other aggregates,
//! facts, and (process managers only) events of their own.
//!
//! Handlers return [`Command`]s and [`Fact`]s (one, several, optional, or a
//! `Result` of these), a [`SagaOutput`] or a [`PmOutput`]; the runtime
//! collects them as [`Effects`] and turns them into the wire's books: covers
//! with the source's correlation id and edition, deferred headers, external
//! ids. Nobody builds a `CommandBook` by hand.

mod command;
mod fact;
mod output;
pub(crate) mod wire;

pub use command::{Command, PackedCommand};
pub use fact::{Fact, PackedFact};
pub use output::{kind, HandlerReactions, PmOutput, Reaction, Reactions, SagaOutput};

use angzarr_proto::Any;

/// Everything one handler call asked for, packed and in order.
///
/// Routers and hand-written components fill it through [`Reaction`] and
/// [`Reactions`]; the runtime turns it into the response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// Events of the process manager's own history (empty for sagas).
    pub events: Vec<Any>,
    /// Commands for other aggregates.
    pub commands: Vec<PackedCommand>,
    /// Facts for other aggregates.
    pub facts: Vec<PackedFact>,
}

impl Effects {
    /// Nothing asked for yet.
    pub fn new() -> Self {
        Effects::default()
    }

    /// Whether nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.commands.is_empty() && self.facts.is_empty()
    }

    /// Appends everything `other` asked for.
    pub fn extend(&mut self, other: Effects) {
        self.events.extend(other.events);
        self.commands.extend(other.commands);
        self.facts.extend(other.facts);
    }
}

/// Whether `M` is `google.protobuf.Empty` (prost's `()`), which carries
/// nothing and so is never emitted.
pub(crate) fn is_empty_message<M: prost::Name>() -> bool {
    M::PACKAGE == "google.protobuf" && M::NAME == "Empty"
}
