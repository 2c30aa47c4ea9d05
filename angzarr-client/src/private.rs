//! Glue called by the code `#[aggregate]` generates. Not a public API: it may
//! change in any release.

pub use angzarr_proto::{Any, RejectionNotification};
pub use inventory;

pub use crate::contract::{Aggregate, MessageName, RejectionRoute};
pub use crate::topology::AggregateTopology;
pub use crate::{AggregateError, CommandContext};

use crate::event::HandlerOutput;

/// Converts what a handler returned into packed events or an error.
pub fn into_output<Shape, R: HandlerOutput<Shape>>(
    returned: R,
) -> Result<Vec<Any>, AggregateError> {
    Ok(returned.into_output()?)
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
pub fn decode_command<C: ProtoMessage>(command: &Any) -> Result<C, AggregateError> {
    crate::router::decode_command::<C>(command)
}

/// Decodes an event already matched to `E`.
pub fn decode_event<E: ProtoMessage>(event: &Any) -> Result<E, AggregateError> {
    crate::router::decode_event::<E>(event)
}

/// The empty state of an aggregate without a factory.
#[diagnostic::on_unimplemented(
    message = "aggregate state `{Self}` does not implement `Default`",
    label = "no way to create the empty state",
    note = "derive or implement `Default` for the state, or name a factory: `#[aggregate(..., state_factory = path::to::fn)]`"
)]
pub trait DefaultState: Default {}

impl<T: Default> DefaultState for T {}

/// The state of an aggregate with no history, for states with `Default`.
pub fn default_state<S: DefaultState>() -> S {
    S::default()
}

/// A state usable as a snapshot.
#[diagnostic::on_unimplemented(
    message = "aggregate state `{Self}` cannot be a snapshot",
    label = "`snapshot` needs a protobuf message state",
    note = "with `#[aggregate(snapshot)]` the state must be a prost message implementing `prost::Name`"
)]
pub trait SnapshotState: prost::Name + Default + Send + Sync + 'static {}

impl<T: prost::Name + Default + Send + Sync + 'static> SnapshotState for T {}

/// Packs the state as a snapshot.
pub fn pack_state<S: SnapshotState>(state: &S) -> Any {
    <Any as angzarr_proto::AnyExt>::pack(state)
}

/// Restores a snapshot's state.
pub fn restore_state<S: SnapshotState>(packed: &Any) -> Result<S, AggregateError> {
    crate::router::decode_state::<S>(packed)
}

/// Renders an event of type `E` for test messages.
pub fn describe<E: ProtoMessage + std::fmt::Debug>(event: &Any) -> String {
    match E::decode(event.value.as_slice()) {
        Ok(decoded) => format!("{} {decoded:?}", E::full_name()),
        Err(error) => format!("{} (does not decode: {error})", E::full_name()),
    }
}

/// The error for a route index outside the generated table (never produced
/// by the runtime, which only passes routes it looked up).
pub fn unknown_route(aggregate: &str, route: usize) -> AggregateError {
    AggregateError::Internal(format!("aggregate {aggregate} has no route {route}"))
}

/// Fails compilation if a table names one message twice (e.g. through two
/// paths to the same type).
pub const fn assert_distinct(table: &[MessageName], message: &'static str) {
    let mut i = 0;
    while i < table.len() {
        let mut j = i + 1;
        while j < table.len() {
            if same(table[i].package(), table[j].package())
                && same(table[i].name(), table[j].name())
            {
                panic!("{}", message);
            }
            j += 1;
        }
        i += 1;
    }
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
