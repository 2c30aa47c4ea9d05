//! The two messages of `google.rpc` that gRPC error details use:
//! [`Status`], the payload of the `grpc-status-details-bin` trailer, and
//! [`ErrorInfo`], the machine-readable reason a status carries in it.
//!
//! ```
//! use angzarr_proto::rpc::{ErrorInfo, Status};
//! use angzarr_proto::AnyExt;
//! use prost::Message;
//!
//! let info = ErrorInfo { reason: "VALUE_NOT_POSITIVE".into(), domain: "angzarr.io".into(), ..Default::default() };
//! let status = Status { code: 3, message: "amount must be positive".into(), details: vec![prost_types::Any::pack(&info)] };
//! let decoded = Status::decode(status.encode_to_vec().as_slice()).unwrap();
//! assert_eq!(decoded.details[0].unpack::<ErrorInfo>().unwrap().reason, "VALUE_NOT_POSITIVE");
//! ```

use std::collections::HashMap;

/// `google.rpc.Status`: a status code, its message and typed details.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The status message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Typed details, e.g. an [`ErrorInfo`].
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<prost_types::Any>,
}

/// `google.rpc.ErrorInfo`: why an error happened, as a code a program can
/// branch on (`reason`), within the namespace that defines it (`domain`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorInfo {
    /// The code, `UPPER_SNAKE_CASE`, e.g. `NO_HANDLER_REGISTERED`.
    #[prost(string, tag = "1")]
    pub reason: String,
    /// Who defines the code, e.g. `angzarr.io`.
    #[prost(string, tag = "2")]
    pub domain: String,
    /// Facts about this occurrence, keyed by name.
    #[prost(map = "string, string", tag = "3")]
    pub metadata: HashMap<String, String>,
}

impl prost::Name for Status {
    const NAME: &'static str = "Status";
    const PACKAGE: &'static str = "google.rpc";

    fn type_url() -> String {
        "type.googleapis.com/google.rpc.Status".to_owned()
    }
}

impl prost::Name for ErrorInfo {
    const NAME: &'static str = "ErrorInfo";
    const PACKAGE: &'static str = "google.rpc";

    fn type_url() -> String {
        "type.googleapis.com/google.rpc.ErrorInfo".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The bytes `protoc --encode=google.rpc.Status` gives for
    /// `code: 3 message: "m" details { type_url: "t" value: "v" }`.
    #[test]
    fn status_matches_googles_encoding() {
        let status = Status {
            code: 3,
            message: "m".into(),
            details: vec![prost_types::Any {
                type_url: "t".into(),
                value: b"v".to_vec(),
            }],
        };
        assert_eq!(
            status.encode_to_vec(),
            [0x08, 0x03, 0x12, 0x01, b'm', 0x1a, 0x06, 0x0a, 0x01, b't', 0x12, 0x01, b'v']
        );
    }

    /// `reason: "R" domain: "d" metadata { key: "k" value: "v" }`.
    #[test]
    fn error_info_matches_googles_encoding() {
        let info = ErrorInfo {
            reason: "R".into(),
            domain: "d".into(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
        };
        assert_eq!(
            info.encode_to_vec(),
            [0x0a, 0x01, b'R', 0x12, 0x01, b'd', 0x1a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v']
        );
    }
}
