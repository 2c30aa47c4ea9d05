//! Coded errors: the machine-readable reason a refusal carries, and the one
//! definition of a *rejection*.
//!
//! Every refusal this SDK and angzarr-local make themselves carries a
//! `google.rpc.ErrorInfo` (domain [`ERROR_DOMAIN`], reason one of the codes
//! below) in the status details, beside the status code and message that
//! stay as they were. A business [`Rejection`](crate::Rejection) may carry a
//! code of its own ([`Rejection::with_code`](crate::Rejection::with_code)).
//! The seed protocol's sequence conflicts keep the coordinator's format: the
//! details hold the aggregate's `EventBook`, and no code.
//!
//! ```
//! use angzarr_client::coded::{self, error_code, is_rejection, with_error_code};
//!
//! let unknown = with_error_code(tonic::Status::unimplemented("no handler for Bet"), coded::NO_HANDLER_REGISTERED);
//! assert_eq!(error_code(&unknown).as_deref(), Some("NO_HANDLER_REGISTERED"));
//! assert!(!is_rejection(&unknown));
//!
//! let refused = with_error_code(tonic::Status::invalid_argument("amount must be positive"), "VALUE_NOT_POSITIVE");
//! assert!(is_rejection(&refused), "a business code");
//! assert!(is_rejection(&tonic::Status::failed_precondition("Insufficient funds")), "no code at all");
//! assert!(!is_rejection(&tonic::Status::failed_precondition("Sequence mismatch: command expects 1, aggregate at 3")));
//! ```

use angzarr_proto::rpc::{ErrorInfo, Status as RpcStatus};
use angzarr_proto::AnyExt;
use prost::Message;
use tonic::{Code, Status};

/// The `ErrorInfo.domain` of every Angzarr code.
pub const ERROR_DOMAIN: &str = "angzarr.io";

/// The request's command book is missing.
pub const MISSING_COMMAND_BOOK: &str = "MISSING_COMMAND_BOOK";
/// The command book has no pages.
pub const MISSING_COMMAND_PAGE: &str = "MISSING_COMMAND_PAGE";
/// A command page has no payload.
pub const MISSING_COMMAND_PAYLOAD: &str = "MISSING_COMMAND_PAYLOAD";
/// No handler for the command's (or event's) type.
pub const NO_HANDLER_REGISTERED: &str = "NO_HANDLER_REGISTERED";
/// A payload does not decode as its type.
pub const ANY_DECODE_FAILED: &str = "ANY_DECODE_FAILED";
/// A stored event (or snapshot) in the history does not decode.
pub const PERSISTED_EVENT_CORRUPT: &str = "PERSISTED_EVENT_CORRUPT";
/// A compensation's `Notification` does not decode.
pub const NOTIFICATION_DECODE_FAILED: &str = "NOTIFICATION_DECODE_FAILED";
/// A compensation's `RejectionNotification` does not decode.
pub const REJECTION_NOTIFICATION_DECODE_FAILED: &str = "REJECTION_NOTIFICATION_DECODE_FAILED";
/// A failure in a handler that is not a rejection (a panic, a bug).
pub const UNHANDLED_HANDLER_ERROR: &str = "UNHANDLED_HANDLER_ERROR";
/// A saga request without its source book.
pub const MISSING_SAGA_SOURCE: &str = "MISSING_SAGA_SOURCE";
/// A process-manager request without its trigger.
pub const MISSING_PM_TRIGGER: &str = "MISSING_PM_TRIGGER";
/// A request that cannot be decoded, or lacks another part it needs.
pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
/// The command book has no cover.
pub const MISSING_COVER: &str = "MISSING_COVER";
/// The cover's root is missing or not a UUID.
pub const INVALID_ROOT: &str = "INVALID_ROOT";
/// The domain name breaks Angzarr's rule.
pub const INVALID_DOMAIN: &str = "INVALID_DOMAIN";
/// The edition name, or its divergences, break Angzarr's rule.
pub const INVALID_EDITION: &str = "INVALID_EDITION";
/// The correlation id breaks Angzarr's rule.
pub const INVALID_CORRELATION_ID: &str = "INVALID_CORRELATION_ID";
/// More command pages than a command may have.
pub const TOO_MANY_PAGES: &str = "TOO_MANY_PAGES";
/// A page's payload is larger than a command's may be.
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
/// No aggregate of the domain is registered with this coordinator.
pub const UNKNOWN_DOMAIN: &str = "UNKNOWN_DOMAIN";
/// No saga, process manager or projector of that name (or reading that
/// domain) runs with this coordinator.
pub const UNKNOWN_COMPONENT: &str = "UNKNOWN_COMPONENT";
/// The timeline has no sequence left for more events.
pub const SEQUENCE_EXHAUSTED: &str = "SEQUENCE_EXHAUSTED";
/// A query the coordinator cannot answer as asked.
pub const INVALID_QUERY: &str = "INVALID_QUERY";

/// Every code the framework itself gives (the SDK, the coordinator): a
/// refusal with one of these is the request or the deployment at fault,
/// never the business logic deciding.
pub const FRAMEWORK_CODES: &[&str] = &[
    MISSING_COMMAND_BOOK,
    MISSING_COMMAND_PAGE,
    MISSING_COMMAND_PAYLOAD,
    NO_HANDLER_REGISTERED,
    ANY_DECODE_FAILED,
    PERSISTED_EVENT_CORRUPT,
    NOTIFICATION_DECODE_FAILED,
    REJECTION_NOTIFICATION_DECODE_FAILED,
    UNHANDLED_HANDLER_ERROR,
    MISSING_SAGA_SOURCE,
    "EMPTY_SAGA_SOURCE",
    MISSING_PM_TRIGGER,
    "EMPTY_PM_TRIGGER",
    "MISSING_DESTINATION_SEQUENCE",
    INVALID_REQUEST,
    MISSING_COVER,
    INVALID_ROOT,
    INVALID_DOMAIN,
    INVALID_EDITION,
    INVALID_CORRELATION_ID,
    TOO_MANY_PAGES,
    PAYLOAD_TOO_LARGE,
    UNKNOWN_DOMAIN,
    UNKNOWN_COMPONENT,
    SEQUENCE_EXHAUSTED,
    INVALID_QUERY,
];

/// The status messages by which the coordinator says a command expected
/// another sequence.
const SEQUENCE_CONFLICT_PREFIXES: [&str; 2] = ["Sequence mismatch:", "Sequence conflict:"];

/// `status` with an `ErrorInfo` of `code` in its details (metadata kept).
/// A status whose details hold something else already (a sequence
/// conflict's `EventBook`) is returned as it is.
pub fn with_error_code(status: Status, code: &str) -> Status {
    if !status.details().is_empty() {
        return status;
    }
    let info = ErrorInfo {
        reason: code.to_owned(),
        domain: ERROR_DOMAIN.to_owned(),
        ..ErrorInfo::default()
    };
    let details = RpcStatus {
        code: status.code() as i32,
        message: status.message().to_owned(),
        details: vec![prost_types::Any::pack(&info)],
    };
    Status::with_details_and_metadata(
        status.code(),
        status.message(),
        details.encode_to_vec().into(),
        status.metadata().clone(),
    )
}

/// The Angzarr code `status` carries, if any: the reason of an `ErrorInfo`
/// of domain [`ERROR_DOMAIN`] in its details.
pub fn error_code(status: &Status) -> Option<String> {
    if status.details().is_empty() || is_sequence_conflict(status) {
        return None;
    }
    let details = RpcStatus::decode(status.details()).ok()?;
    details
        .details
        .iter()
        .filter_map(|any| any.unpack::<ErrorInfo>().ok())
        .find(|info| info.domain == ERROR_DOMAIN)
        .map(|info| info.reason)
}

/// Whether `code` is one the framework gives itself ([`FRAMEWORK_CODES`]).
pub fn is_framework_code(code: &str) -> bool {
    FRAMEWORK_CODES.contains(&code)
}

/// The coordinator's optimistic-concurrency failure: FAILED_PRECONDITION
/// "Sequence mismatch: ..." (or "Sequence conflict: ...").
pub fn is_sequence_conflict(status: &Status) -> bool {
    status.code() == Code::FailedPrecondition
        && SEQUENCE_CONFLICT_PREFIXES
            .iter()
            .any(|prefix| status.message().starts_with(prefix))
}

/// Whether `status` is a **rejection**: the business logic refusing a
/// command it would refuse again as it is, as opposed to the request, the
/// deployment or the moment being at fault.
///
/// It is FAILED_PRECONDITION or INVALID_ARGUMENT, or NOT_FOUND with a code
/// of the business's own, that is neither a sequence conflict nor carries
/// one of the [framework's codes](FRAMEWORK_CODES). Without a code,
/// FAILED_PRECONDITION and INVALID_ARGUMENT count as rejections (business
/// logic in other SDKs sends none), NOT_FOUND does not. A coordinator that
/// codes its own refusals (angzarr-local does) is told apart from the
/// business; the real coordinator's request checks carry no code, so against
/// it an INVALID_ARGUMENT of its own counts as a rejection.
///
/// Clients ask it through [`ClientError::is_rejection`](crate::ClientError::is_rejection);
/// angzarr-local asks it of a saga's or process manager's command to decide
/// between compensation (a rejection) and retrying (anything else).
pub fn is_rejection(status: &Status) -> bool {
    let business_code = match error_code(status) {
        Some(code) if is_framework_code(&code) => return false,
        Some(_) => true,
        None => false,
    };
    match status.code() {
        Code::FailedPrecondition => !is_sequence_conflict(status),
        Code::InvalidArgument => true,
        Code::NotFound => business_code,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_survives_the_trip_and_leaves_the_rest_alone() {
        let mut status = Status::not_found("domain `x` not found");
        status.metadata_mut().insert("x-seen", "1".parse().unwrap());
        let coded = with_error_code(status, UNKNOWN_DOMAIN);
        assert_eq!(coded.code(), Code::NotFound);
        assert_eq!(coded.message(), "domain `x` not found");
        assert_eq!(coded.metadata().get("x-seen").unwrap(), "1");
        assert_eq!(error_code(&coded).as_deref(), Some(UNKNOWN_DOMAIN));
        let details = RpcStatus::decode(coded.details()).unwrap();
        assert_eq!(details.code, Code::NotFound as i32);
        assert_eq!(
            details.details[0].type_url,
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        assert!(!is_rejection(&coded));
    }

    #[test]
    fn a_sequence_conflict_keeps_its_event_book_and_has_no_code() {
        let book = angzarr_proto::EventBook {
            next_sequence: 3,
            ..Default::default()
        };
        let conflict = Status::with_details(
            Code::FailedPrecondition,
            "Sequence mismatch: command expects 1, aggregate at 3",
            book.encode_to_vec().into(),
        );
        let kept = with_error_code(conflict, INVALID_REQUEST);
        assert_eq!(kept.details(), book.encode_to_vec().as_slice());
        assert_eq!(error_code(&kept), None);
        assert!(is_sequence_conflict(&kept) && !is_rejection(&kept));
    }

    #[test]
    fn details_of_another_domain_or_shape_carry_no_code() {
        let foreign = RpcStatus {
            code: 3,
            message: "m".into(),
            details: vec![prost_types::Any::pack(&ErrorInfo {
                reason: "QUOTA".into(),
                domain: "googleapis.com".into(),
                ..ErrorInfo::default()
            })],
        };
        let status =
            Status::with_details(Code::InvalidArgument, "m", foreign.encode_to_vec().into());
        assert_eq!(error_code(&status), None);
        let garbage = Status::with_details(Code::InvalidArgument, "m", vec![0xff, 0x01].into());
        assert_eq!(error_code(&garbage), None);
    }

    #[test]
    fn rejections_are_the_business_deciding() {
        let coded = |status: Status, code: &str| with_error_code(status, code);
        // The business refusing, with or without a code of its own.
        assert!(is_rejection(&Status::failed_precondition(
            "Insufficient funds"
        )));
        assert!(is_rejection(&Status::invalid_argument(
            "amount must be positive"
        )));
        assert!(is_rejection(&coded(
            Status::invalid_argument("no"),
            "VALUE_NOT_POSITIVE"
        )));
        assert!(is_rejection(&coded(
            Status::not_found("no such seat"),
            "SEAT_NOT_FOUND"
        )));
        // The framework refusing the request, or the moment being wrong.
        assert!(!is_rejection(&coded(
            Status::invalid_argument("command book has no pages"),
            MISSING_COMMAND_PAGE
        )));
        assert!(!is_rejection(&coded(
            Status::not_found("domain `x` not found"),
            UNKNOWN_DOMAIN
        )));
        assert!(!is_rejection(&Status::not_found("domain `x` not found")));
        assert!(!is_rejection(&coded(
            Status::unimplemented("no handler"),
            NO_HANDLER_REGISTERED
        )));
        assert!(!is_rejection(&Status::unimplemented("no handler")));
        assert!(!is_rejection(&Status::failed_precondition(
            "Sequence conflict: expected 1, at 2"
        )));
        for code in [
            Code::Unavailable,
            Code::Internal,
            Code::DeadlineExceeded,
            Code::OutOfRange,
            Code::PermissionDenied,
            Code::AlreadyExists,
            Code::Unauthenticated,
        ] {
            assert!(!is_rejection(&Status::new(code, "x")), "{code:?}");
        }
    }
}
