//! The one error type of the clients, with predicates to tell failures apart.

use angzarr_proto::{EventBook, InvalidTimestamp, UnpackError};
use prost::Message;
use tonic::{Code, Status};

/// Why a client call failed.
///
/// ```
/// use angzarr_client::ClientError;
///
/// let error = ClientError::from(tonic::Status::failed_precondition(
///     "Sequence mismatch: command expects 1, aggregate at 3",
/// ));
/// assert!(error.is_precondition_failed());
/// assert!(error.is_sequence_conflict());
/// assert!(!error.is_rejection());
/// assert!(error.is_retryable());
///
/// let rejected = ClientError::from(tonic::Status::failed_precondition("Insufficient funds"));
/// assert!(rejected.is_rejection());
/// assert_eq!(rejected.message(), "Insufficient funds");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The endpoint could not be reached, or is not a valid endpoint.
    #[error("cannot connect to {endpoint}: {message}")]
    Connection {
        /// The endpoint as given.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The connection failed underneath a call.
    #[error("transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The connection failed during a call (refused, reset, closed).
    #[error("the connection failed during the call: {0}")]
    ConnectionLost(String),
    /// The server answered with a gRPC error status.
    #[error("{} ({:?})", .0.message(), .0.code())]
    Grpc(Status),
    /// A request was rejected before it was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A timestamp could not be read.
    #[error(transparent)]
    InvalidTimestamp(#[from] InvalidTimestamp),
    /// An event or message in a response does not decode as the expected type.
    #[error(transparent)]
    Decode(#[from] UnpackError),
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        // tonic reports its own client-side call timeout as CANCELLED;
        // callers ask one question for both sides: did the deadline pass?
        if status.code() == Code::Cancelled && status.message() == "Timeout expired" {
            return ClientError::Grpc(Status::deadline_exceeded(
                "the call's deadline passed before the server answered",
            ));
        }
        // A status synthesized from a broken connection is not the server's answer.
        let broken = std::error::Error::source(&status)
            .is_some_and(|source| source.downcast_ref::<tonic::transport::Error>().is_some());
        if broken {
            // Each cause said once: hyper's layers repeat one another.
            let mut text = status.message().to_owned();
            let mut cause = std::error::Error::source(&status);
            while let Some(error) = cause {
                let said = error.to_string();
                if !said.is_empty() && !text.contains(&said) {
                    text.push_str(": ");
                    text.push_str(&said);
                }
                cause = error.source();
            }
            return ClientError::ConnectionLost(text);
        }
        ClientError::Grpc(status)
    }
}

impl ClientError {
    /// The human-readable message (the server's, for gRPC errors).
    pub fn message(&self) -> String {
        match self {
            ClientError::Grpc(status) => status.message().to_owned(),
            ClientError::Connection { message, .. } => message.clone(),
            ClientError::InvalidArgument(message) => message.clone(),
            other => other.to_string(),
        }
    }

    /// The gRPC status code, for gRPC errors.
    pub fn code(&self) -> Option<Code> {
        self.status().map(Status::code)
    }

    /// The gRPC status, for gRPC errors.
    pub fn status(&self) -> Option<&Status> {
        match self {
            ClientError::Grpc(status) => Some(status),
            _ => None,
        }
    }

    /// NOT_FOUND (e.g. a domain the coordinator does not serve).
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(Code::NotFound)
    }

    /// FAILED_PRECONDITION: a business rejection or a sequence conflict.
    pub fn is_precondition_failed(&self) -> bool {
        self.code() == Some(Code::FailedPrecondition)
    }

    /// INVALID_ARGUMENT from the server, or a request refused by the client.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            ClientError::InvalidArgument(_) | ClientError::InvalidTimestamp(_)
        ) || self.code() == Some(Code::InvalidArgument)
    }

    /// The connection could not be made or was lost (including UNAVAILABLE).
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            ClientError::Connection { .. }
                | ClientError::Transport(_)
                | ClientError::ConnectionLost(_)
        ) || self.code() == Some(Code::Unavailable)
    }

    /// DEADLINE_EXCEEDED: the call outlived its deadline.
    pub fn is_deadline_exceeded(&self) -> bool {
        self.code() == Some(Code::DeadlineExceeded)
    }

    /// The coordinator's optimistic-concurrency failure: the command expected
    /// an older sequence. [`current_event_book`](Self::current_event_book)
    /// tells where the aggregate is.
    pub fn is_sequence_conflict(&self) -> bool {
        self.status()
            .is_some_and(crate::coded::is_sequence_conflict)
    }

    /// A refusal by the business logic, which it would repeat for the same
    /// command: see [`coded::is_rejection`](crate::coded::is_rejection) for
    /// the one definition (the coordinator's own request checks and
    /// sequence conflicts are not rejections).
    pub fn is_rejection(&self) -> bool {
        self.status().is_some_and(crate::coded::is_rejection)
    }

    /// The machine-readable code the refusal carries
    /// (`google.rpc.ErrorInfo.reason` of domain `angzarr.io`), e.g.
    /// `UNKNOWN_DOMAIN` from angzarr-local or a business rejection's own.
    /// See [`coded`](crate::coded).
    pub fn error_code(&self) -> Option<String> {
        self.status().and_then(crate::coded::error_code)
    }

    /// The aggregate's current history, carried by a sequence conflict.
    pub fn current_event_book(&self) -> Option<EventBook> {
        let status = self.status().filter(|_| self.is_sequence_conflict())?;
        if status.details().is_empty() {
            return None;
        }
        EventBook::decode(status.details()).ok()
    }

    /// How long the server asked the client to wait before trying again:
    /// gRPC's `grpc-retry-pushback-ms` trailer (milliseconds), else an HTTP
    /// style `retry-after` (whole seconds). `None` when the server gave no
    /// hint, or one that does not parse.
    ///
    /// ```
    /// use std::time::Duration;
    /// use angzarr_client::ClientError;
    ///
    /// let mut status = tonic::Status::resource_exhausted("slow down");
    /// status.metadata_mut().insert("grpc-retry-pushback-ms", "250".parse().unwrap());
    /// assert_eq!(ClientError::from(status).retry_after(), Some(Duration::from_millis(250)));
    /// assert_eq!(ClientError::from(tonic::Status::unavailable("down")).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        let metadata = self.status()?.metadata();
        let number =
            |key: &str| -> Option<u64> { metadata.get(key)?.to_str().ok()?.trim().parse().ok() };
        number("grpc-retry-pushback-ms")
            .map(std::time::Duration::from_millis)
            .or_else(|| number("retry-after").map(std::time::Duration::from_secs))
    }

    /// Whether trying again may succeed: connection failures, UNAVAILABLE,
    /// RESOURCE_EXHAUSTED, ABORTED, and sequence conflicts (after rebuilding
    /// the command at the fresh sequence).
    pub fn is_retryable(&self) -> bool {
        self.is_connection_error()
            || self.is_sequence_conflict()
            || matches!(self.code(), Some(Code::ResourceExhausted | Code::Aborted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::Cover;

    #[test]
    fn a_conflict_carries_the_current_book() {
        let book = EventBook {
            cover: Some(Cover::new("player", uuid::Uuid::nil())),
            next_sequence: 3,
            ..Default::default()
        };
        let status = Status::with_details(
            Code::FailedPrecondition,
            "Sequence mismatch: command expects 1, aggregate at 3",
            book.encode_to_vec().into(),
        );
        let error = ClientError::from(status);
        assert_eq!(error.current_event_book(), Some(book));
        assert_eq!(error.code(), Some(Code::FailedPrecondition));
    }

    #[test]
    fn predicates_tell_failures_apart() {
        let invalid = ClientError::InvalidArgument("command not set".into());
        assert!(invalid.is_invalid_argument());
        assert!(invalid.status().is_none());
        assert!(!invalid.is_rejection());
        assert_eq!(invalid.to_string(), "invalid argument: command not set");

        let unavailable = ClientError::from(Status::unavailable("down"));
        assert!(unavailable.is_connection_error() && unavailable.is_retryable());
        let connection = ClientError::Connection {
            endpoint: "x".into(),
            message: "refused".into(),
        };
        assert_eq!(connection.to_string(), "cannot connect to x: refused");
        assert!(connection.is_connection_error());

        let not_found = ClientError::from(Status::not_found("unknown domain"));
        assert!(not_found.is_not_found() && !not_found.is_retryable());
        assert_eq!(not_found.to_string(), "unknown domain (NotFound)");
        assert!(ClientError::from(Status::deadline_exceeded("late")).is_deadline_exceeded());
        assert!(
            ClientError::from(Status::invalid_argument("amount must be positive")).is_rejection()
        );
        let unknown = ClientError::from(crate::coded::with_error_code(
            Status::not_found("domain `x` not found"),
            crate::coded::UNKNOWN_DOMAIN,
        ));
        assert_eq!(unknown.error_code().as_deref(), Some("UNKNOWN_DOMAIN"));
        assert!(!unknown.is_rejection());
        let checked = ClientError::from(crate::coded::with_error_code(
            Status::invalid_argument("command book has no pages"),
            crate::coded::MISSING_COMMAND_PAGE,
        ));
        assert!(checked.is_invalid_argument() && !checked.is_rejection());
        assert!(
            ClientError::from(Status::failed_precondition("Sequence conflict: x"))
                .current_event_book()
                .is_none()
        );
    }
}
