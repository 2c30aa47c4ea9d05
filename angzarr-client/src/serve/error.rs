//! Why a server could not start, or stopped with an error.

use std::io;
use std::path::PathBuf;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listening address that does not parse.
    #[error("invalid listen address {input:?}: {reason}")]
    InvalidAddress {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An environment variable with a value that cannot be used.
    #[error("environment variable {variable}={value:?} is invalid: {reason}")]
    Environment {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting given to the `Server` builder that cannot work.
    #[error("Server::{setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// The address could not be bound (in use, no permission, ...).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A file exists where the Unix socket should go, and it is not a socket.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// Two components on one address serve the same gRPC service.
    #[error(
        "{first} and {second} would both serve {service} on {address}; \
         give one of them its own address with `Server::listen_component`"
    )]
    Conflict {
        /// The shared address.
        address: String,
        /// The gRPC service both serve.
        service: &'static str,
        /// The component added first.
        first: String,
        /// The component added second.
        second: String,
    },
    /// `listen_component` names no component of this server.
    #[error(
        "listen_component names `{name}`, but this server has no such component (it has: {known})"
    )]
    UnknownComponent {
        /// The name given.
        name: String,
        /// The components it has.
        known: String,
    },
    /// The server was given nothing to serve.
    #[error("the server has no components to serve")]
    Empty,
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
    /// A listener's task ended abnormally.
    #[error("a listener stopped abnormally: {0}")]
    Listener(String),
    /// The TLS certificate or key given to `Server::tls` cannot be used.
    #[error("cannot serve TLS: {reason}")]
    Tls {
        /// What is wrong with them.
        reason: String,
    },
}
