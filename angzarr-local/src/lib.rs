//! An embedded Angzarr coordinator: the real coordinator's behaviour on one
//! machine, storing events in SQLite or in memory, so that a whole system
//! (aggregates, sagas, process managers, projectors, upcasters) runs with
//! no infrastructure to install.
//!
//! It serves `angzarr.CommandHandlerCoordinatorService` and
//! `angzarr.EventQueryService` (plus health and reflection) for many domains
//! at once, calls each component in this process or over gRPC, and delivers
//! every published book through a durable outbox (see [`delivery`]).
//! Binaries written against it talk to the production Angzarr coordinator
//! unchanged.
//!
//! Where the real coordinator is odd, this one does better, and says so:
//! a command book with no pages is INVALID_ARGUMENT "command book has no
//! pages" (not a sequence mismatch); a temporal query without a point names
//! `as_of_sequence` / `as_of_time`; an unknown domain is NOT_FOUND naming the
//! registered ones; sequence mismatches are answered at once (the real
//! sidecar retries internally for about ten seconds), with details that
//! stay under gRPC's metadata limit; nothing published is lost; deferred
//! commands run at most once; CASCADE honours `cascade_error_mode`.

#![warn(missing_docs)]

pub mod component;
pub mod config;
pub mod coordinator;
pub mod delivery;
mod registry;
mod server;
mod service;
pub mod store;
pub mod supervisor;
pub mod validate;

pub use angzarr_proto as proto;
pub use coordinator::{Coordinator, REVOCATION_DOMAIN};
pub use delivery::{DeliveryOptions, SettleError, DEFAULT_MAX_ATTEMPTS, DEFAULT_OUTCOME_RETENTION};
pub use registry::Subscription;
pub use server::{
    LocalCoordinator, LocalCoordinatorBuilder, LocalError, DEFAULT_LISTEN, MAX_MESSAGE_BYTES,
};
pub use service::CoordinatorService;
pub use store::{
    AggregateKey, DeadLetter, EventStore, MemoryStore, SqliteStore, StoreError, Synchronous,
};
