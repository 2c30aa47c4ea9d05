//! Wire types of the [Angzarr] CQRS / event-sourcing protocol.
//!
//! Every message, enum and gRPC service of package `angzarr` lives at the crate
//! root, generated at build time from this crate's own `.proto` files by a
//! pure-Rust protobuf compiler: building needs cargo and nothing else. The
//! schema is wire-identical to the Angzarr coordinator's; a parity test proves
//! it field by field.
//!
//! Every message implements [`prost::Name`], so its full name and type URL are
//! known at compile time:
//!
//! ```
//! use angzarr_proto::{type_url, Cover};
//! use prost::Name;
//!
//! assert_eq!(Cover::full_name(), "angzarr.Cover");
//! assert_eq!(Cover::type_url(), "type.googleapis.com/angzarr.Cover");
//! assert!(type_url::matches::<Cover>("type.angzarr.io/angzarr.Cover"));
//! ```
//!
//! Beside the generated code, small helpers that every user of the protocol
//! needs:
//!
//! - [`type_url`]: the one rule for matching a type URL against a message type;
//! - [`AnyExt`]: pack and unpack [`Any`] with a typed error on mismatch;
//! - [`identity`]: `uuid::Uuid` to and from the wire [`Uuid`];
//! - [`time`]: timestamps from now, a `SystemTime` or RFC 3339 text;
//! - [`rpc`]: `google.rpc.Status` and `ErrorInfo`, the error details of gRPC;
//! - accessors on [`Cover`], [`EventBook`], [`CommandBook`] and their pages
//!   (domain, root, correlation id, edition, sequences).
//!
//! Service stubs: `<service>_client::<Service>Client` and
//! `<service>_server::{<Service>, <Service>Server}` for each of the protocol's
//! services, e.g. [`command_handler_service_server::CommandHandlerService`].
//!
//! [Angzarr]: https://angzarr.io

#![warn(missing_docs)]

mod any;
mod book;
mod descriptor;
pub mod identity;
pub mod rpc;
pub mod time;
pub mod type_url;
pub mod view;

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/angzarr.rs"));
}

pub use any::{AnyExt, UnpackError};
pub use book::DEFAULT_EDITION;
pub use descriptor::FILE_DESCRIPTOR_SET;
pub use generated::*;
pub use identity::InvalidUuid;
pub use time::InvalidTimestamp;

/// Well-known protobuf types used by the protocol, re-exported so that users
/// need not pin `prost-types` themselves.
pub use prost_types::{Any, Timestamp};

/// The protobuf runtime the generated code is built on.
pub use prost;
/// The `uuid` crate whose [`Uuid`](uuid::Uuid) the identity helpers convert to.
pub use uuid;
