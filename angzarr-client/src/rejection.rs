//! Business rejections: a command refused by the aggregate's rules.

use std::fmt;

/// Which kind of refusal a [`Rejection`] is; decides its gRPC status code.
///
/// Angzarr's convention: a command that conflicts with the aggregate's state
/// ("Player already exists") is [`FailedPrecondition`](Self::FailedPrecondition);
/// a command whose own input is wrong ("amount must be positive") is
/// [`InvalidArgument`](Self::InvalidArgument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// The command is not allowed in the aggregate's current state.
    FailedPrecondition,
    /// The command's input is invalid whatever the state.
    InvalidArgument,
}

impl RejectionKind {
    /// The gRPC status code this kind maps to.
    pub fn code(self) -> tonic::Code {
        match self {
            RejectionKind::FailedPrecondition => tonic::Code::FailedPrecondition,
            RejectionKind::InvalidArgument => tonic::Code::InvalidArgument,
        }
    }
}

/// A command refused by business rules. Its message reaches the caller verbatim.
///
/// ```
/// use angzarr_client::{Rejection, RejectionKind};
///
/// let rejection = Rejection::precondition("Player already exists");
/// assert_eq!(rejection.to_string(), "Player already exists");
/// assert_eq!(rejection.kind(), RejectionKind::FailedPrecondition);
/// assert_eq!(rejection.code(), tonic::Code::FailedPrecondition);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    kind: RejectionKind,
    message: String,
    error_code: Option<String>,
}

impl Rejection {
    /// A rejection of the given kind.
    pub fn new(kind: RejectionKind, message: impl Into<String>) -> Self {
        Rejection {
            kind,
            message: message.into(),
            error_code: None,
        }
    }

    /// The command conflicts with the aggregate's state (FAILED_PRECONDITION).
    pub fn precondition(message: impl Into<String>) -> Self {
        Rejection::new(RejectionKind::FailedPrecondition, message)
    }

    /// The command's input is invalid (INVALID_ARGUMENT).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Rejection::new(RejectionKind::InvalidArgument, message)
    }

    /// The kind of refusal.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The message, as the caller will see it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The gRPC status code the caller receives.
    pub fn code(&self) -> tonic::Code {
        self.kind.code()
    }

    /// The same message as another kind, e.g. to report input checks as
    /// preconditions where a domain's convention asks for it.
    pub fn with_kind(mut self, kind: RejectionKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same rejection with a machine-readable code of the business's
    /// own (`UPPER_SNAKE_CASE`, e.g. `VALUE_NOT_POSITIVE`), which the
    /// caller reads with [`ClientError::error_code`](crate::ClientError::error_code)
    /// and a compensation handler can branch on. It travels as a
    /// `google.rpc.ErrorInfo` (see [`coded`](crate::coded)).
    ///
    /// ```
    /// use angzarr_client::{ClientError, Rejection};
    ///
    /// let rejection = Rejection::invalid_argument("amount must be positive").with_code("VALUE_NOT_POSITIVE");
    /// let seen = ClientError::from(rejection.to_status());
    /// assert_eq!(seen.error_code().as_deref(), Some("VALUE_NOT_POSITIVE"));
    /// assert!(seen.is_rejection());
    /// ```
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.error_code = Some(code.into());
        self
    }

    /// The business's own code, if it gave one.
    pub fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// The gRPC status the caller receives.
    pub fn to_status(&self) -> tonic::Status {
        self.clone().into()
    }
}

impl From<Rejection> for tonic::Status {
    fn from(rejection: Rejection) -> Self {
        let status = tonic::Status::new(rejection.code(), rejection.message);
        match &rejection.error_code {
            Some(code) => crate::coded::with_error_code(status, code),
            None => status,
        }
    }
}

/// Rejects with `message` (FAILED_PRECONDITION) unless the aggregate exists.
///
/// ```
/// use angzarr_client::require_exists;
///
/// assert!(require_exists(true, "Player does not exist").is_ok());
/// assert_eq!(
///     require_exists(false, "Player does not exist").unwrap_err().message(),
///     "Player does not exist"
/// );
/// ```
pub fn require_exists(exists: bool, message: impl Into<String>) -> Result<(), Rejection> {
    require(exists, RejectionKind::FailedPrecondition, message)
}

/// Rejects with `message` (FAILED_PRECONDITION) if the aggregate already exists.
pub fn require_not_exists(exists: bool, message: impl Into<String>) -> Result<(), Rejection> {
    require(!exists, RejectionKind::FailedPrecondition, message)
}

/// Rejects with "`field` must be positive" (INVALID_ARGUMENT) unless `value > 0`.
///
/// ```
/// use angzarr_client::require_positive;
///
/// assert!(require_positive(5, "amount").is_ok());
/// assert_eq!(require_positive(0, "amount").unwrap_err().message(), "amount must be positive");
/// ```
pub fn require_positive<N>(value: N, field: impl fmt::Display) -> Result<(), Rejection>
where
    N: PartialOrd + Default,
{
    require(
        value > N::default(),
        RejectionKind::InvalidArgument,
        format!("{field} must be positive"),
    )
}

/// Rejects with "`field` must not be negative" (INVALID_ARGUMENT) if `value < 0`.
pub fn require_non_negative<N>(value: N, field: impl fmt::Display) -> Result<(), Rejection>
where
    N: PartialOrd + Default,
{
    require(
        value >= N::default(),
        RejectionKind::InvalidArgument,
        format!("{field} must not be negative"),
    )
}

/// Rejects with "`field` is required" (INVALID_ARGUMENT) if `value` is empty.
///
/// ```
/// use angzarr_client::require_not_empty;
///
/// assert_eq!(
///     require_not_empty("", "email").unwrap_err().message(),
///     "email is required"
/// );
/// ```
pub fn require_not_empty(
    value: impl AsRef<str>,
    field: impl fmt::Display,
) -> Result<(), Rejection> {
    require(
        !value.as_ref().is_empty(),
        RejectionKind::InvalidArgument,
        format!("{field} is required"),
    )
}

/// Rejects with `message` (FAILED_PRECONDITION) unless the aggregate is in
/// the `expected` status: a command allowed in one state of a workflow only.
///
/// ```
/// use angzarr_client::{require_status, RejectionKind};
///
/// #[derive(PartialEq)]
/// enum Hand { Dealing, Betting }
///
/// assert!(require_status(&Hand::Betting, &Hand::Betting, "Hand is not betting").is_ok());
/// let refused = require_status(&Hand::Dealing, &Hand::Betting, "Hand is not betting").unwrap_err();
/// assert_eq!((refused.kind(), refused.message()), (RejectionKind::FailedPrecondition, "Hand is not betting"));
/// ```
pub fn require_status<S: PartialEq + ?Sized>(
    actual: &S,
    expected: &S,
    message: impl Into<String>,
) -> Result<(), Rejection> {
    require(
        actual == expected,
        RejectionKind::FailedPrecondition,
        message,
    )
}

/// Rejects with `message` (FAILED_PRECONDITION) if the aggregate is in the
/// `forbidden` status, e.g. a command refused once a table has closed.
///
/// ```
/// use angzarr_client::require_status_not;
///
/// assert!(require_status_not("open", "closed", "Table is closed").is_ok());
/// assert_eq!(
///     require_status_not("closed", "closed", "Table is closed").unwrap_err().message(),
///     "Table is closed"
/// );
/// ```
pub fn require_status_not<S: PartialEq + ?Sized>(
    actual: &S,
    forbidden: &S,
    message: impl Into<String>,
) -> Result<(), Rejection> {
    require(
        actual != forbidden,
        RejectionKind::FailedPrecondition,
        message,
    )
}

fn require(holds: bool, kind: RejectionKind, message: impl Into<String>) -> Result<(), Rejection> {
    if holds {
        Ok(())
    } else {
        Err(Rejection::new(kind, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_pick_kinds_by_convention() {
        assert_eq!(
            require_not_exists(true, "Player already exists").unwrap_err(),
            Rejection::precondition("Player already exists")
        );
        assert_eq!(
            require_positive(-1_i64, "amount").unwrap_err(),
            Rejection::invalid_argument("amount must be positive")
        );
        assert!(require_non_negative(0_i64, "amount").is_ok());
        assert_eq!(
            require_non_negative(-3_i64, "stack").unwrap_err().message(),
            "stack must not be negative"
        );
        assert!(require_not_empty("x", "email").is_ok());
        assert_eq!(
            require_status(&1, &2, "Hand is not betting").unwrap_err(),
            Rejection::precondition("Hand is not betting")
        );
        assert!(require_status("a", "a", "").is_ok());
        assert_eq!(
            require_status_not(&7_u8, &7, "Table is closed").unwrap_err(),
            Rejection::precondition("Table is closed")
        );
        assert!(require_status_not(&6_u8, &7, "").is_ok());
    }

    #[test]
    fn maps_to_status() {
        let status = tonic::Status::from(Rejection::invalid_argument("bad"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "bad");
        let relabeled = Rejection::invalid_argument("amount must be positive")
            .with_kind(RejectionKind::FailedPrecondition);
        assert_eq!(
            relabeled.to_status().code(),
            tonic::Code::FailedPrecondition
        );
    }
}
