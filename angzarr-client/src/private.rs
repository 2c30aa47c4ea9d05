//! Glue called by the code the component macros generate. Not a public API:
//! it may change in any release.

pub use angzarr_proto::{Any, Cover, RejectionNotification};
pub use inventory;
pub use std::borrow::Cow;

pub use crate::aggregate::Aggregate;
pub use crate::effects::kind;
pub use crate::message::{MessageName, RejectionRoute};
pub use crate::process_manager::ProcessManager;
pub use crate::projector::Projector;
pub use crate::saga::Saga;
pub use crate::topology::ComponentTopology;
pub use crate::upcaster::Upcaster;
pub use crate::{
    CommandContext, ComponentError, ComponentKind, Effects, PmContext, Projected,
    ProjectionContext, SagaContext,
};

use crate::effects::HandlerReactions;
use crate::event::HandlerOutput;
use crate::process_manager::IntoDestinations;
use crate::projector::ProjectorOutput;
use crate::upcaster::UpcastOutput;

/// Converts what a compensation handler returned into packed events or an
/// error.
pub fn into_output<Shape, R: HandlerOutput<Shape>>(
    returned: R,
) -> Result<Vec<Any>, ComponentError> {
    Ok(returned.into_output()?)
}

/// Hands what an aggregate handler returned to `collect`: packed, and
/// with [`Applying`] also applied to the state.
pub fn collected<A: crate::Aggregate, C: Collect<A>, Shape, R: HandlerOutput<Shape>>(
    returned: R,
    collect: C,
    aggregate: &A,
) -> Result<Vec<Any>, ComponentError> {
    collect.finish(returned, aggregate)
}

/// Where the events of a command handler go. One generated dispatch serves
/// both [`Aggregate::handle`](crate::Aggregate::handle) ([`Reading`]) and
/// [`Aggregate::handle_and_apply`](crate::Aggregate::handle_and_apply)
/// ([`Applying`]), so each handler call is written, and type-checked, once.
pub trait Collect<A: crate::Aggregate>: Send {
    /// The state the handler reads.
    fn state(&self) -> &A::State;

    /// The handler's events, packed in order.
    fn finish<S>(
        self,
        returned: impl HandlerOutput<S>,
        aggregate: &A,
    ) -> Result<Vec<Any>, ComponentError>;
}

/// Collects events without applying them.
pub struct Reading<'s, T>(pub &'s T);

/// Collects events and applies each to the state as it is produced.
pub struct Applying<'s, T>(pub &'s mut T);

impl<A: crate::Aggregate> Collect<A> for Reading<'_, A::State> {
    fn state(&self) -> &A::State {
        self.0
    }

    fn finish<S>(
        self,
        returned: impl HandlerOutput<S>,
        _aggregate: &A,
    ) -> Result<Vec<Any>, ComponentError> {
        Ok(returned.into_output()?)
    }
}

impl<A: crate::Aggregate> Collect<A> for Applying<'_, A::State> {
    fn state(&self) -> &A::State {
        self.0
    }

    fn finish<S>(
        self,
        returned: impl HandlerOutput<S>,
        aggregate: &A,
    ) -> Result<Vec<Any>, ComponentError> {
        applied_output(returned, aggregate, self.0)
    }
}

/// Adds what a saga handler returned to `effects`, or returns its error.
pub fn saga_effects<Shape, R: HandlerReactions<kind::Saga, Shape>>(
    returned: R,
    effects: &mut Effects,
) -> Result<(), ComponentError> {
    Ok(returned.into_effects(effects)?)
}

/// Adds what a process-manager handler returned to `effects`, or returns its error.
pub fn pm_effects<Shape, R: HandlerReactions<kind::ProcessManager, Shape>>(
    returned: R,
    effects: &mut Effects,
) -> Result<(), ComponentError> {
    Ok(returned.into_effects(effects)?)
}

/// Converts what a `#[prepares]` method returned into covers or an error.
pub fn destinations<D: IntoDestinations>(returned: D) -> Result<Vec<Cover>, ComponentError> {
    Ok(returned.into_destinations()?)
}

/// Adds what a projector handler returned to `out`, or returns its error.
pub fn projected<Shape, R: ProjectorOutput<Shape>>(
    returned: R,
    out: &mut Projected,
) -> Result<(), ComponentError> {
    Ok(returned.into_projected(out)?)
}

/// Converts what an `#[upcasts]` rule returned into the packed event or an error.
pub fn upcast_output<Shape, R: UpcastOutput<Shape>>(returned: R) -> Result<Any, ComponentError> {
    Ok(returned.into_upcast()?)
}

/// Upgrades `event` with `upcaster`'s rules (an aggregate naming its upcaster).
pub fn upcast_with<'e, U: Upcaster>(
    upcaster: &U,
    event: &'e Any,
) -> Result<Cow<'e, Any>, ComponentError> {
    crate::upcaster::runtime::upcast_event(upcaster, event)
}

/// A type usable as a command or event: a prost message with a name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a protobuf message with a name",
    label = "commands and events must be prost messages implementing `prost::Name`",
    note = "prost-build generates both with `Config::enable_type_names()`; by hand, derive `prost::Message` and implement `prost::Name`"
)]
pub trait ProtoMessage: prost::Name + Default {}

impl<T: prost::Name + Default> ProtoMessage for T {}

/// The name of a command or event type.
pub const fn name_of<T: ProtoMessage>() -> MessageName {
    MessageName::of::<T>()
}

/// Decodes a command already routed to `C`.
pub fn decode_command<C: ProtoMessage>(command: &Any) -> Result<C, ComponentError> {
    crate::decode::decode_command::<C>(command)
}

/// Decodes an event already matched to `E`.
pub fn decode_event<E: ProtoMessage>(event: &Any) -> Result<E, ComponentError> {
    crate::decode::decode_event::<E>(event)
}

/// What an `#[applies]` method returns: `()`, or `Result<(), E>` for history
/// that cannot be applied (the command is then refused with that error).
#[diagnostic::on_unimplemented(
    message = "an `#[applies]` method returns `()` or `Result<(), Rejection>`, not `{Self}`",
    label = "not `()` or a `Result<(), _>`",
    note = "applying an event mutates the state; return `Err(Rejection::invalid_argument(..))` for an event that cannot be applied"
)]
pub trait Applied {
    /// The outcome as the runtime sees it.
    fn applied(self) -> Result<(), ComponentError>;
}

impl Applied for () {
    fn applied(self) -> Result<(), ComponentError> {
        Ok(())
    }
}

impl<E: Into<ComponentError>> Applied for Result<(), E> {
    fn applied(self) -> Result<(), ComponentError> {
        self.map_err(Into::into)
    }
}

/// What a handler returned, packed in order, each event applied to `state`
/// as the typed value it is (decoded from its packed form only when the
/// aggregate has no applier of that type).
fn applied_output<A: crate::Aggregate, S>(
    output: impl HandlerOutput<S>,
    aggregate: &A,
    state: &mut A::State,
) -> Result<Vec<Any>, ComponentError> {
    let mut events = Vec::new();
    output.into_output_with(&mut |typed, packed| {
        let applied = match typed.and_then(|typed| aggregate.apply_typed(state, typed)) {
            Some(applied) => applied,
            None => aggregate.apply(state, &packed).map(drop),
        };
        applied
            .map_err(|error| crate::aggregate::runtime::unappliable(aggregate.name(), &error))?;
        events.push(packed);
        Ok(())
    })?;
    Ok(events)
}

/// Decodes an encoded event already matched to `E`.
pub fn decode_event_bytes<E: ProtoMessage>(value: &[u8]) -> Result<E, ComponentError> {
    crate::decode::decode_event_bytes::<E>(value)
}

/// Whether `upcaster` has a rule for events of `type_url`.
pub fn upcasts_with<U: Upcaster>(upcaster: &U, type_url: &str) -> bool {
    upcaster.route(type_url).is_some()
}

/// The empty state of a component without a factory.
#[diagnostic::on_unimplemented(
    message = "state `{Self}` does not implement `Default`",
    label = "no way to create the empty state",
    note = "derive or implement `Default` for the state, or name a factory: `state_factory = path::to::fn`"
)]
pub trait DefaultState: Default {}

impl<T: Default> DefaultState for T {}

/// The state of a component with no history, for states with `Default`.
pub fn default_state<S: DefaultState>() -> S {
    S::default()
}

/// A state usable as a snapshot.
#[diagnostic::on_unimplemented(
    message = "state `{Self}` cannot be a snapshot",
    label = "`snapshot` needs a protobuf message state",
    note = "with `snapshot` the state must be a prost message implementing `prost::Name`"
)]
pub trait SnapshotState: prost::Name + Default + Send + Sync + 'static {}

impl<T: prost::Name + Default + Send + Sync + 'static> SnapshotState for T {}

/// Whether `#[aggregate(snapshot = N)]` returns a snapshot after events
/// `first..=last`: the policy's own rule, so that the two never disagree.
pub const fn snapshot_every(events: u32, first: u32, last: u32) -> bool {
    crate::aggregate::every_due(events, first, last)
}

/// What `#[aggregate(snapshot = predicate)]` names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot decide when to snapshot",
    label = "`snapshot = ...` needs a `fn(&{S}, u32) -> bool`",
    note = "the predicate is given the state after the command and the sequence of its last event"
)]
pub trait SnapshotPredicate<S>: Fn(&S, u32) -> bool {}

impl<S, F: Fn(&S, u32) -> bool> SnapshotPredicate<S> for F {}

/// Asks `#[aggregate(snapshot = predicate)]`'s predicate.
pub fn snapshot_when<S>(predicate: impl SnapshotPredicate<S>, state: &S, last: u32) -> bool {
    predicate(state, last)
}

/// Packs the state as a snapshot.
pub fn pack_state<S: SnapshotState>(state: &S) -> Any {
    <Any as angzarr_proto::AnyExt>::pack(state)
}

/// Restores a snapshot's state.
pub fn restore_state<S: SnapshotState>(packed: &Any) -> Result<S, ComponentError> {
    crate::decode::decode_state::<S>(packed)
}

/// Renders an event of type `E` for test messages.
pub fn describe<E: ProtoMessage + std::fmt::Debug>(event: &Any) -> String {
    match E::decode(event.value.as_slice()) {
        Ok(decoded) => format!("{} {decoded:?}", E::full_name()),
        Err(error) => format!("{} (does not decode: {error})", E::full_name()),
    }
}

/// The error for a route index outside the generated table (never produced
/// by the runtimes, which only pass routes they looked up).
pub fn unknown_route(component: &str, route: usize) -> ComponentError {
    ComponentError::internal(format!("{component} has no route {route}"))
}

/// Fails compilation if a table names one message twice (e.g. through two
/// paths to the same type).
pub const fn assert_distinct(table: &[MessageName], message: &'static str) {
    let mut i = 0;
    while i < table.len() {
        let mut j = i + 1;
        while j < table.len() {
            if same_name(table[i], table[j]) {
                panic!("{}", message);
            }
            j += 1;
        }
        i += 1;
    }
}

/// Fails compilation if upcasting rules (old type, new type) map a type to
/// itself or chain into a cycle.
pub const fn assert_upcasts_settle(rules: &[(MessageName, MessageName)]) {
    let mut start = 0;
    while start < rules.len() {
        if same_name(rules[start].0, rules[start].1) {
            panic!("an #[upcasts] rule maps a type to itself");
        }
        // Following the chain from each rule must end within `rules.len()` steps.
        let mut current = rules[start].1;
        let mut steps = 0;
        loop {
            let mut next = None;
            let mut k = 0;
            while k < rules.len() {
                if same_name(rules[k].0, current) {
                    next = Some(rules[k].1);
                }
                k += 1;
            }
            match next {
                None => break,
                Some(following) => {
                    steps += 1;
                    if steps > rules.len() {
                        panic!("#[upcasts] rules form a cycle: upgrading never settles");
                    }
                    current = following;
                }
            }
        }
        start += 1;
    }
}

const fn same_name(a: MessageName, b: MessageName) -> bool {
    same(a.package(), b.package()) && same(a.name(), b.name())
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: MessageName = MessageName::new("p", "A");
    const B: MessageName = MessageName::new("p", "B");
    const C: MessageName = MessageName::new("p", "C");

    #[test]
    fn chains_settle_and_cycles_do_not() {
        assert_upcasts_settle(&[(A, B), (B, C)]);
        let cycle = std::panic::catch_unwind(|| assert_upcasts_settle(&[(A, B), (B, A)]));
        assert!(cycle.is_err());
        let itself = std::panic::catch_unwind(|| assert_upcasts_settle(&[(A, A)]));
        assert!(itself.is_err());
    }
}
