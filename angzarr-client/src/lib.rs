//! The Rust SDK for [Angzarr], a CQRS / event-sourcing framework whose
//! business logic runs as gRPC services behind a coordinator that stores
//! events and enforces optimistic concurrency.
//!
//! This is the crate users depend on. It re-exports the protocol's wire types
//! as [`proto`].
//!
//! [Angzarr]: https://angzarr.io

#![warn(missing_docs)]

/// The Angzarr wire types and gRPC stubs (the `angzarr-proto` crate).
pub use angzarr_proto as proto;
