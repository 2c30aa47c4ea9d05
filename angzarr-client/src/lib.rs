//! The Rust SDK for [Angzarr], a CQRS / event-sourcing framework whose
//! business logic runs as gRPC services behind a coordinator that stores
//! events and enforces optimistic concurrency.
//!
//! This is the crate users depend on. Business logic comes in five kinds,
//! each written either as an annotated impl block (checked at compile time)
//! or from plain functions, each with one runtime, one gRPC service and one
//! test fixture:
//!
//! | kind | macro | functions | fixture |
//! |---|---|---|---|
//! | [`aggregate`](mod@aggregate): decides commands | [`macro@aggregate`] | [`CommandRouter`] | [`AggregateTest`](testing::AggregateTest) |
//! | [`saga`](mod@saga): events to commands | [`macro@saga`] | [`SagaRouter`] | [`SagaTest`](testing::SagaTest) |
//! | [`process_manager`](mod@process_manager): workflows | [`macro@process_manager`] | [`ProcessManagerRouter`] | [`ProcessManagerTest`](testing::ProcessManagerTest) |
//! | [`projector`](mod@projector): read models, CloudEvents | [`macro@projector`] | [`ProjectorRouter`] | [`ProjectorTest`](testing::ProjectorTest) |
//! | [`upcaster`](mod@upcaster): old events to new | [`macro@upcaster`] | [`UpcasterRouter`] | [`UpcasterTest`](testing::UpcasterTest) |
//!
//! Beside them:
//!
//! - [`Server`] serves any set of components (and [`run_aggregate_server`]
//!   and its siblings serve one), with health, reflection and graceful
//!   shutdown; [`topology`] lists what a binary contains;
//! - [`Rejection`] and guards such as [`require_exists`] for business rules,
//!   and [`coded`] errors: the codes refusals carry, and what a rejection is;
//! - clients of a coordinator: [`DomainClient`] with fluent command and query
//!   builders, [`QueryClient`], [`AggregateClient`], [`SpeculativeClient`],
//!   and one error type, [`ClientError`], with predicates;
//! - the protocol's wire types, re-exported as [`proto`].
//!
//! ```
//! use angzarr_client::prelude::*;
//! use angzarr_client::testing::prelude::*;
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

pub mod aggregate;
mod client;
pub mod coded;
pub mod compensation;
mod component;
mod consume;
mod decode;
mod effects;
mod error;
mod event;
mod expect;
mod history;
mod message;
mod observe;
pub mod process_manager;
pub mod projector;
mod rejection;
pub mod saga;
mod serve;
pub mod settings;
pub mod testing;
mod topology;
mod unwind;
pub mod upcaster;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use angzarr_macros::{
    aggregate, applies, handles, prepares, process_manager, projector, rejected, saga, upcaster,
    upcasts,
};

pub use aggregate::{
    Aggregate, AggregateService, CommandContext, CommandRouter, SnapshotPolicy,
    DEFAULT_SNAPSHOT_INTERVAL,
};
pub use client::{
    connect, AggregateClient, Client, ClientError, CommandBuilder, CommandHandlerClient,
    ConnectOptions, DomainClient, EventBookStream, FactBuilder, PointInTime, QueryBuilder,
    QueryClient, RetryPolicy, SpeculativeClient, Target, CLIENT_CALL_TIMEOUT_ENV,
    CLIENT_MAX_MESSAGE_SIZE_ENV, CLIENT_RETRY_ATTEMPTS_ENV, COMPONENT_METADATA_KEY,
    DEFAULT_COORDINATOR_PORT,
};
pub use compensation::CompensationContext;
pub use component::ComponentKind;
pub use effects::{
    Command, Effects, Fact, HandlerReactions, PackedCommand, PackedFact, PmOutput, Reaction,
    Reactions, SagaOutput,
};
pub use error::{ComponentError, ComponentErrorKind};
pub use event::{Event, HandlerOutput, IntoEvent, IntoEvents, One};
pub use message::{MessageName, RejectionRoute};
pub use observe::{init_tracing, init_tracing_with, DEFAULT_SLOW_CALL};
pub use process_manager::{
    IntoDestinations, PmContext, ProcessManager, ProcessManagerRouter, ProcessManagerService,
};
pub use projector::{
    cloudevents, CloudEvent, Position, Projected, ProjectionContext, Projector, ProjectorOutput,
    ProjectorRouter, ProjectorService,
};
pub use rejection::{
    require_exists, require_non_negative, require_not_empty, require_not_exists, require_positive,
    require_status, require_status_not, Rejection, RejectionKind,
};

/// The deterministic root of the aggregate a business key names (see
/// [`proto::identity::compute_root`]).
pub use angzarr_proto::identity::{compute_root, compute_root_proto};
pub use saga::{Saga, SagaContext, SagaRouter, SagaService};
pub use serve::{
    run_aggregate_server, run_process_manager_server, run_projector_server, run_saga_server,
    run_upcaster_server, shutdown_signal, BoundServer, ListenAddress, ServeError, Server,
    CALL_TIMEOUT_ENV, COMMAND_HANDLER_SERVICE, DEFAULT_PORT, DEFAULT_SERVICE_NAME,
    DEFAULT_SHUTDOWN_DRAIN, DEFAULT_SHUTDOWN_GRACE, DEFAULT_UDS_BASE_PATH, MAX_MESSAGE_SIZE_ENV,
    SHUTDOWN_DRAIN_ENV, SLOW_CALL_ENV,
};
pub use topology::{topology, ComponentTopology, Topology};
pub use upcaster::{UpcastOutput, Upcaster, UpcasterRouter, UpcasterService};

/// The Angzarr wire types and gRPC stubs (the `angzarr-proto` crate).
pub use angzarr_proto as proto;

/// What business-logic code needs, in one import. Test fixtures are in
/// [`testing::prelude`], so a production glob import does not bring them:
///
/// ```compile_fail
/// use angzarr_client::prelude::*;
/// let _fixture = AggregateTest::<CommandRouter<()>>::new;
/// ```
///
/// ```
/// use angzarr_client::prelude::*;
/// use angzarr_client::testing::prelude::*;
/// let _fixture = AggregateTest::<CommandRouter<()>>::new;
/// ```
pub mod prelude {
    pub use crate::{
        aggregate, applies, handles, prepares, process_manager, projector, rejected,
        require_exists, require_non_negative, require_not_empty, require_not_exists,
        require_positive, require_status, require_status_not, saga, upcaster, upcasts, CloudEvent,
        Command, CommandContext, CommandRouter, Event, Fact, PmContext, PmOutput,
        ProcessManagerRouter, ProjectionContext, ProjectorRouter, Rejection, RejectionKind,
        SagaContext, SagaOutput, SagaRouter, UpcasterRouter,
    };
}
