//! Clients of a coordinator: connecting, sending commands, reading events.

mod builder;
mod clients;
mod endpoint;
mod error;

pub use builder::{CommandBuilder, PointInTime, QueryBuilder};
pub use clients::{
    AggregateClient, Client, CommandHandlerClient, DomainClient, EventBookStream, QueryClient,
    SpeculativeClient,
};
pub use endpoint::{connect, ConnectOptions, Target, DEFAULT_COORDINATOR_PORT};
pub use error::ClientError;
