//! Clients of a coordinator: connecting, sending commands, reading events.

mod builder;
mod clients;
mod endpoint;
mod error;
mod retry;

pub use builder::{CommandBuilder, FactBuilder, PointInTime, QueryBuilder};
pub use clients::{
    AggregateClient, Client, CommandHandlerClient, DomainClient, EventBookStream, QueryClient,
    SpeculativeClient, COMPONENT_METADATA_KEY,
};
pub use endpoint::{
    connect, ConnectOptions, Target, CLIENT_CALL_TIMEOUT_ENV, CLIENT_MAX_MESSAGE_SIZE_ENV,
    CLIENT_RETRY_ATTEMPTS_ENV, DEFAULT_COORDINATOR_PORT,
};
pub use error::ClientError;
pub use retry::RetryPolicy;
