//! The Rust SDK for [Angzarr], a CQRS / event-sourcing framework whose
//! business logic runs as gRPC services behind a coordinator that stores
//! events and enforces optimistic concurrency.
//!
//! This is the crate users depend on:
//!
//! - aggregates in the rich domain model: [`aggregate`], [`handles`],
//!   [`applies`] and [`rejected`] on an impl block, checked at compile time;
//! - aggregates from plain functions: [`CommandRouter`];
//! - one runtime for both ([`runtime`]), served by [`run_aggregate_server`]
//!   (or [`AggregateServer`] for more control) and tested without
//!   infrastructure by [`testing::AggregateTest`];
//! - [`Rejection`] and guards such as [`require_exists`] for business rules;
//! - clients of a coordinator: [`DomainClient`] with fluent command and query
//!   builders, [`QueryClient`], [`AggregateClient`], [`SpeculativeClient`],
//!   and one error type, [`ClientError`], with predicates;
//! - the protocol's wire types, re-exported as [`proto`].
//!
//! ```
//! use angzarr_client::prelude::*;
//!
//! // Commands and events are protobuf messages with a name; prost-build
//! // generates these from .proto files (`Config::enable_type_names()`).
//! #[derive(Clone, PartialEq, prost::Message)]
//! pub struct Add {
//!     #[prost(uint32, tag = "1")]
//!     pub amount: u32,
//! }
//! impl prost::Name for Add {
//!     const NAME: &'static str = "Add";
//!     const PACKAGE: &'static str = "tally";
//! }
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! pub struct Added {
//!     #[prost(uint32, tag = "1")]
//!     pub total: u32,
//! }
//! impl prost::Name for Added {
//!     const NAME: &'static str = "Added";
//!     const PACKAGE: &'static str = "tally";
//! }
//!
//! #[derive(Default)]
//! pub struct Total(u32);
//!
//! pub struct Tally;
//!
//! #[aggregate(domain = "tally", state = Total)]
//! impl Tally {
//!     #[handles(Add)]
//!     fn add(&self, cmd: Add, state: &Total) -> Result<Added, Rejection> {
//!         require_positive(cmd.amount, "amount")?;
//!         Ok(Added { total: state.0 + cmd.amount })
//!     }
//!
//!     #[applies(Added)]
//!     fn added(state: &mut Total, event: &Added) {
//!         state.0 = event.total;
//!     }
//! }
//!
//! AggregateTest::new(Tally)
//!     .given(Added { total: 5 })
//!     .when(Add { amount: 2 })
//!     .then_events(Added { total: 7 })
//!     .then_state(|total| assert_eq!(total.0, 7));
//!
//! AggregateTest::new(Tally)
//!     .when(Add { amount: 0 })
//!     .then_rejected("amount must be positive");
//! ```
//!
//! [Angzarr]: https://angzarr.io

#![warn(missing_docs)]

mod client;
mod context;
mod contract;
mod error;
mod event;
mod listen;
mod observe;
mod rejection;
mod router;
pub mod runtime;
mod server;
mod service;
pub mod testing;
mod topology;
mod unwind;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use angzarr_macros::{aggregate, applies, handles, rejected};
pub use client::{
    connect, AggregateClient, Client, ClientError, CommandBuilder, CommandHandlerClient,
    ConnectOptions, DomainClient, EventBookStream, PointInTime, QueryBuilder, QueryClient,
    SpeculativeClient, Target, DEFAULT_COORDINATOR_PORT,
};
pub use context::CommandContext;
pub use contract::{Aggregate, MessageName, RejectionRoute};
pub use error::AggregateError;
pub use event::{Event, HandlerOutput, IntoEvent, IntoEvents, One};
pub use listen::{ListenAddress, DEFAULT_PORT, DEFAULT_SERVICE_NAME, DEFAULT_UDS_BASE_PATH};
pub use observe::{init_tracing, init_tracing_with};
pub use rejection::{
    require_exists, require_non_negative, require_not_empty, require_not_exists, require_positive,
    Rejection, RejectionKind,
};
pub use router::CommandRouter;
pub use server::{
    run_aggregate_server, AggregateServer, BoundServer, ServeError, COMMAND_HANDLER_SERVICE,
    DEFAULT_SHUTDOWN_GRACE,
};
pub use service::AggregateService;
pub use topology::{topology, AggregateTopology};

/// The Angzarr wire types and gRPC stubs (the `angzarr-proto` crate).
pub use angzarr_proto as proto;

/// What aggregate code needs, in one import.
pub mod prelude {
    pub use crate::testing::AggregateTest;
    pub use crate::{
        aggregate, applies, handles, rejected, require_exists, require_non_negative,
        require_not_empty, require_not_exists, require_positive, CommandContext, CommandRouter,
        Event, Rejection, RejectionKind,
    };
}
