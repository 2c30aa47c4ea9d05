//! Why the aggregate runtime could not answer a request, and the gRPC status
//! each reason becomes.

use crate::Rejection;

/// Why a command, replay or rebuild failed.
///
/// Every variant names what was wrong; [`code`](Self::code) gives the gRPC
/// status code the caller receives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// The business rules refused the command.
    #[error(transparent)]
    Rejected(#[from] Rejection),

    /// The ContextualCommand carried no command book.
    #[error("ContextualCommand has no command book")]
    NoCommandBook,

    /// The command book had no pages.
    #[error("command book has no pages")]
    NoPages,

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

    /// An event in the history is not a valid encoding of its type.
    #[error("event `{type_name}` at sequence {} does not decode: {reason}", display_sequence(*.sequence))]
    UndecodableEvent {
        /// The event's full type name.
        type_name: String,
        /// The page's sequence, if it had one.
        sequence: Option<u32>,
        /// What the decoder reported.
        reason: String,
    },

    /// An event page in the history has no inline event.
    #[error("event page at sequence {} has no inline event", display_sequence(*.sequence))]
    MissingEvent {
        /// The page's sequence, if it had one.
        sequence: Option<u32>,
    },

    /// The history's snapshot could not be turned back into state.
    #[error("snapshot at sequence {sequence} does not restore: {reason}")]
    UndecodableSnapshot {
        /// The snapshot's sequence.
        sequence: u32,
        /// What went wrong.
        reason: String,
    },

    /// The history holds a snapshot, but this aggregate keeps none.
    #[error(
        "aggregate {aggregate} received a snapshot but keeps no snapshots; \
         declare `#[aggregate(snapshot)]` with a protobuf message state"
    )]
    SnapshotUnsupported {
        /// The aggregate's name.
        aggregate: String,
    },

    /// A compensation notification was not a well-formed `angzarr.Notification`
    /// wrapping an `angzarr.RejectionNotification`.
    #[error("malformed rejection notification: {reason}")]
    MalformedNotification {
        /// What is wrong with it.
        reason: String,
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

    /// A fault in the aggregate itself (a handler panicked, a produced event
    /// does not decode).
    #[error("internal error: {0}")]
    Internal(String),
}

fn display_sequence(sequence: Option<u32>) -> String {
    sequence.map_or_else(|| "(deferred)".to_owned(), |sequence| sequence.to_string())
}

impl AggregateError {
    /// The gRPC status code the caller receives.
    pub fn code(&self) -> tonic::Code {
        match self {
            AggregateError::Rejected(rejection) => rejection.code(),
            AggregateError::ReplayUnsupported { .. } => tonic::Code::Unimplemented,
            AggregateError::Internal(_) => tonic::Code::Internal,
            _ => tonic::Code::InvalidArgument,
        }
    }

    /// The rejection, if the business rules refused the command.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            AggregateError::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }
}

impl From<AggregateError> for tonic::Status {
    fn from(error: AggregateError) -> Self {
        match error {
            AggregateError::Rejected(rejection) => rejection.into(),
            other => tonic::Status::new(other.code(), other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_convention() {
        let status = tonic::Status::from(AggregateError::Rejected(Rejection::precondition(
            "Player already exists",
        )));
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(status.message(), "Player already exists");
        assert_eq!(AggregateError::NoPages.code(), tonic::Code::InvalidArgument);
        let replay = AggregateError::ReplayUnsupported {
            aggregate: "Player".into(),
        };
        assert_eq!(replay.code(), tonic::Code::Unimplemented);
    }

    #[test]
    fn messages_name_what_is_wrong() {
        let error = AggregateError::UndecodableEvent {
            type_name: "examples.FundsDeposited".into(),
            sequence: Some(3),
            reason: "buffer underflow".into(),
        };
        assert_eq!(
            error.to_string(),
            "event `examples.FundsDeposited` at sequence 3 does not decode: buffer underflow"
        );
        assert_eq!(
            AggregateError::MissingEvent { sequence: None }.to_string(),
            "event page at sequence (deferred) has no inline event"
        );
    }
}
