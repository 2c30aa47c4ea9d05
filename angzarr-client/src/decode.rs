//! Decoding payloads already routed to a type: the errors name the type (and,
//! through [`ComponentError::at_sequence`], the page).

use angzarr_proto::{Any, AnyExt};

use crate::{ComponentError, ComponentErrorKind};

/// Decodes a command payload already routed to `C`.
pub(crate) fn decode_command<C: prost::Name + Default>(command: &Any) -> Result<C, ComponentError> {
    C::decode(command.value.as_slice()).map_err(|error| {
        ComponentError::from(ComponentErrorKind::UndecodableCommand {
            type_name: C::full_name(),
            reason: error.to_string(),
        })
    })
}

/// Decodes an event payload already matched to `E` (the runtime adds the sequence).
pub(crate) fn decode_event<E: prost::Name + Default>(event: &Any) -> Result<E, ComponentError> {
    decode_event_bytes(event.value.as_slice())
}

/// Decodes an encoded event already matched to `E`, from wherever its bytes are.
pub(crate) fn decode_event_bytes<E: prost::Name + Default>(
    value: &[u8],
) -> Result<E, ComponentError> {
    E::decode(value).map_err(|error| {
        ComponentError::from(ComponentErrorKind::UndecodableEvent {
            type_name: E::full_name(),
            sequence: None,
            reason: error.to_string(),
        })
    })
}

/// Unpacks a snapshot's state as `S`.
/// A page read in place, packed as an owned `Any` (for code that takes one).
pub(crate) fn packed(type_url: &str, value: &[u8]) -> Any {
    Any {
        type_url: type_url.to_owned(),
        value: value.to_vec(),
    }
}

pub(crate) fn decode_state<S: prost::Name + Default>(packed: &Any) -> Result<S, ComponentError> {
    packed.unpack::<S>().map_err(|error| {
        ComponentError::from(ComponentErrorKind::UndecodableSnapshot {
            sequence: 0,
            reason: error.to_string(),
        })
    })
}
