//! An embedded Angzarr coordinator: the real coordinator's behaviour on one
//! machine, storing events in SQLite or in memory, so that examples and tests
//! run against a real server with no infrastructure to install.
//!
//! It speaks the protocol of [`angzarr_proto`]; binaries written against it
//! talk to the production Angzarr coordinator unchanged.

#![warn(missing_docs)]

pub use angzarr_proto as proto;
