//! Why a component could not answer a request, and the gRPC status each
//! reason becomes. One type for every kind: an undecodable event is the same
//! mistake whether an aggregate, a saga or a projector meets it.

use std::fmt;

use crate::Rejection;

/// Why a component (aggregate, saga, process manager, projector or
/// upcaster) could not answer a request: a [`ComponentErrorKind`], boxed.
///
/// It is one pointer wide, so that the results every handler returns stay
/// small on the hot path; [`kind`](Self::kind) tells what went wrong and
/// [`code`](Self::code) which gRPC status the caller receives.
///
/// ```
/// use angzarr_client::{ComponentError, ComponentErrorKind, Rejection};
///
/// let error = ComponentError::from(Rejection::precondition("Player already exists"));
/// assert_eq!(error.code(), tonic::Code::FailedPrecondition);
/// assert!(matches!(error.kind(), ComponentErrorKind::Rejected(_)));
/// assert_eq!(std::mem::size_of::<ComponentError>(), std::mem::size_of::<usize>());
/// ```
#[derive(Clone, PartialEq)]
pub struct ComponentError(Box<ComponentErrorKind>);

/// What went wrong, in detail. See [`ComponentError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentErrorKind {
    /// The business rules refused the command (or the event).
    #[error(transparent)]
    Rejected(#[from] Rejection),

    /// The ContextualCommand carried no command book.
    #[error("ContextualCommand has no command book")]
    NoCommandBook,

    /// The command book had no pages.
    #[error("command book has no pages")]
    NoPages,

    /// A request lacks a part it cannot be answered without.
    #[error("{request} has no {field}")]
    MissingField {
        /// The request's message name, e.g. `SagaHandleRequest`.
        request: &'static str,
        /// The missing field, e.g. `source`.
        field: &'static str,
    },

    /// The request's bytes are not a valid encoding of its message.
    #[error("the request does not decode as angzarr.{request}: {reason}")]
    UndecodableRequest {
        /// The request's message name, e.g. `ContextualCommand`.
        request: &'static str,
        /// What the decoder reported.
        reason: String,
    },

    /// A command page carried no inline command.
    #[error("command page {page} has no command payload")]
    MissingCommand {
        /// Index of the page in the book.
        page: usize,
    },

    /// No handler for the command's type.
    #[error(
        "aggregate {aggregate} (domain {domain}) does not handle `{type_url}`; it handles: {known}"
    )]
    UnknownCommand {
        /// The aggregate's name.
        aggregate: String,
        /// The aggregate's domain.
        domain: String,
        /// The command's type URL.
        type_url: String,
        /// The command types it does handle, comma-separated.
        known: String,
    },

    /// A command's payload is not a valid encoding of its type.
    #[error("command `{type_name}` does not decode: {reason}")]
    UndecodableCommand {
        /// The command's full type name.
        type_name: String,
        /// What the decoder reported.
        reason: String,
    },

    /// An event is not a valid encoding of its type.
    #[error("event `{type_name}` at sequence {} does not decode: {reason}", display_sequence(*.sequence))]
    UndecodableEvent {
        /// The event's full type name.
        type_name: String,
        /// The page's sequence, if it had one.
        sequence: Option<u32>,
        /// What the decoder reported.
        reason: String,
    },

    /// An event page in an aggregate's history has no inline event.
    #[error("event page at sequence {} has no inline event", display_sequence(*.sequence))]
    MissingEvent {
        /// The page's sequence, if it had one.
        sequence: Option<u32>,
    },

    /// A snapshot could not be turned back into state.
    #[error("snapshot at sequence {sequence} does not restore: {reason}")]
    UndecodableSnapshot {
        /// The snapshot's sequence.
        sequence: u32,
        /// What went wrong.
        reason: String,
    },

    /// The history holds a snapshot, but this component keeps none.
    #[error(
        "{component} received a snapshot but keeps no snapshots; \
         declare `snapshot` with a protobuf message state"
    )]
    SnapshotUnsupported {
        /// The component's name.
        component: String,
    },

    /// A compensation notification was not a well-formed `angzarr.Notification`
    /// wrapping an `angzarr.RejectionNotification`.
    #[error("malformed rejection notification: {reason}")]
    MalformedNotification {
        /// What is wrong with it.
        reason: String,
    },

    /// A process manager was handed another workflow's history.
    #[error("process_state {reason}")]
    ForeignProcessState {
        /// Whose history it is, and whose was expected.
        reason: String,
    },

    /// The history has no sequence left for the events being produced:
    /// sequences are `u32` on the wire, and reusing or wrapping one would
    /// corrupt the history.
    #[error(
        "no sequence left: the event would need sequence {needed}, past the last one ({})",
        u32::MAX
    )]
    SequenceExhausted {
        /// The sequence the event would need.
        needed: u64,
    },

    /// `Replay` needs a state that is a protobuf message.
    #[error(
        "aggregate {aggregate} cannot replay: its state is not a protobuf message; \
         declare `#[aggregate(snapshot)]` with a prost message state to support Replay"
    )]
    ReplayUnsupported {
        /// The aggregate's name.
        aggregate: String,
    },

    /// A fault in the component itself (a handler panicked, it produced a
    /// command for a domain it does not target, an upcast never settles).
    #[error("internal error: {0}")]
    Internal(String),
}

fn display_sequence(sequence: Option<u32>) -> String {
    sequence.map_or_else(|| "(deferred)".to_owned(), |sequence| sequence.to_string())
}

impl ComponentErrorKind {
    /// The machine-readable code the caller receives with it (see
    /// [`coded`](crate::coded)): the framework's for everything but a
    /// rejection, whose code is its own, if it gave one.
    pub fn error_code(&self) -> Option<&str> {
        use crate::coded;
        Some(match self {
            ComponentErrorKind::Rejected(rejection) => return rejection.error_code(),
            ComponentErrorKind::NoCommandBook => coded::MISSING_COMMAND_BOOK,
            ComponentErrorKind::NoPages => coded::MISSING_COMMAND_PAGE,
            ComponentErrorKind::MissingCommand { .. } => coded::MISSING_COMMAND_PAYLOAD,
            ComponentErrorKind::MissingField {
                request: "SagaHandleRequest",
                field: "source",
            } => coded::MISSING_SAGA_SOURCE,
            ComponentErrorKind::MissingField {
                field: "trigger", ..
            } => coded::MISSING_PM_TRIGGER,
            ComponentErrorKind::UnknownCommand { .. } => coded::NO_HANDLER_REGISTERED,
            ComponentErrorKind::UndecodableCommand { .. } => coded::ANY_DECODE_FAILED,
            ComponentErrorKind::UndecodableEvent { .. }
            | ComponentErrorKind::MissingEvent { .. }
            | ComponentErrorKind::UndecodableSnapshot { .. } => coded::PERSISTED_EVENT_CORRUPT,
            ComponentErrorKind::MalformedNotification { .. } => coded::NOTIFICATION_DECODE_FAILED,
            ComponentErrorKind::SequenceExhausted { .. } => coded::SEQUENCE_EXHAUSTED,
            ComponentErrorKind::Internal(_) => coded::UNHANDLED_HANDLER_ERROR,
            ComponentErrorKind::MissingField { .. }
            | ComponentErrorKind::UndecodableRequest { .. }
            | ComponentErrorKind::SnapshotUnsupported { .. }
            | ComponentErrorKind::ForeignProcessState { .. }
            | ComponentErrorKind::ReplayUnsupported { .. } => coded::INVALID_REQUEST,
        })
    }

    /// The gRPC status code the caller receives.
    pub fn code(&self) -> tonic::Code {
        match self {
            ComponentErrorKind::Rejected(rejection) => rejection.code(),
            ComponentErrorKind::ReplayUnsupported { .. } => tonic::Code::Unimplemented,
            ComponentErrorKind::Internal(_) => tonic::Code::Internal,
            ComponentErrorKind::SequenceExhausted { .. } => tonic::Code::OutOfRange,
            _ => tonic::Code::InvalidArgument,
        }
    }
}

impl ComponentError {
    /// A fault in the component itself, described by `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        ComponentErrorKind::Internal(message.into()).into()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ComponentErrorKind {
        &self.0
    }

    /// What went wrong, by value.
    pub fn into_kind(self) -> ComponentErrorKind {
        *self.0
    }

    /// The gRPC status code the caller receives.
    pub fn code(&self) -> tonic::Code {
        self.0.code()
    }

    /// The rejection, if the business rules refused the request.
    pub fn rejection(&self) -> Option<&Rejection> {
        match &*self.0 {
            ComponentErrorKind::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }

    /// The same error, reporting the page's sequence when it is about an event.
    pub(crate) fn at_sequence(mut self, at: Option<u32>) -> Self {
        if let ComponentErrorKind::UndecodableEvent { sequence, .. } = &mut *self.0 {
            *sequence = at;
        }
        self
    }
}

impl From<ComponentErrorKind> for ComponentError {
    fn from(kind: ComponentErrorKind) -> Self {
        ComponentError(Box::new(kind))
    }
}

impl From<Rejection> for ComponentError {
    fn from(rejection: Rejection) -> Self {
        ComponentErrorKind::Rejected(rejection).into()
    }
}

impl fmt::Display for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for ComponentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

impl From<ComponentError> for tonic::Status {
    fn from(error: ComponentError) -> Self {
        match error.into_kind() {
            ComponentErrorKind::Rejected(rejection) => rejection.into(),
            other => {
                let status = tonic::Status::new(other.code(), other.to_string());
                match other.error_code() {
                    Some(code) => crate::coded::with_error_code(status, code),
                    None => status,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_convention() {
        let status = tonic::Status::from(ComponentError::from(Rejection::precondition(
            "Player already exists",
        )));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(status.message(), "Player already exists");
        assert_eq!(
            ComponentErrorKind::NoPages.code(),
            tonic::Code::InvalidArgument
        );
        let replay = ComponentErrorKind::ReplayUnsupported {
            aggregate: "Player".into(),
        };
        assert_eq!(replay.code(), tonic::Code::Unimplemented);
        let missing = ComponentError::from(ComponentErrorKind::MissingField {
            request: "SagaHandleRequest",
            field: "source",
        });
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
        assert_eq!(missing.to_string(), "SagaHandleRequest has no source");
    }

    #[test]
    fn messages_name_what_is_wrong() {
        let error = ComponentError::from(ComponentErrorKind::UndecodableEvent {
            type_name: "examples.FundsDeposited".into(),
            sequence: None,
            reason: "buffer underflow".into(),
        })
        .at_sequence(Some(3));
        assert_eq!(
            error.to_string(),
            "event `examples.FundsDeposited` at sequence 3 does not decode: buffer underflow"
        );
        assert_eq!(
            ComponentErrorKind::MissingEvent { sequence: None }.to_string(),
            "event page at sequence (deferred) has no inline event"
        );
    }
}
