//! Procedural macros of [angzarr-client](https://docs.rs/angzarr-client).
//!
//! Depend on `angzarr-client`, which re-exports these macros; this crate is an
//! implementation detail whose version is pinned to the client's. The macros
//! turn an impl block into an Angzarr aggregate: its dispatch table, state
//! rebuild and gRPC service, with mistakes reported at compile time.

#![warn(missing_docs)]
