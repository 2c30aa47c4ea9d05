//! Bound listeners: TCP (with `TCP_NODELAY` on every accepted connection) or
//! a Unix socket (its directory created, a stale socket replaced, anything
//! else at the path refused, the file removed on exit).

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use super::{ListenAddress, ServeError};

/// A bound listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    pub(crate) async fn bind(address: &ListenAddress) -> Result<Self, ServeError> {
        let bind_error = |source| ServeError::Bind {
            address: address.to_string(),
            source,
        };
        match address {
            ListenAddress::Tcp(socket) => TcpListener::bind(socket)
                .await
                .map(Listener::Tcp)
                .map_err(bind_error),
            ListenAddress::Unix(path) => {
                prepare_socket_path(path).map_err(|error| match error {
                    PrepareError::NotASocket => ServeError::NotASocket { path: path.clone() },
                    PrepareError::Io(source) => bind_error(source),
                })?;
                UnixListener::bind(path)
                    .map(|listener| Listener::Unix(listener, path.clone()))
                    .map_err(bind_error)
            }
        }
    }

    /// Where it listens, with the actual port when 0 was asked for.
    pub(crate) fn local_address(&self, asked: &ListenAddress) -> ListenAddress {
        match self {
            Listener::Tcp(listener) => listener
                .local_addr()
                .map(ListenAddress::Tcp)
                .unwrap_or_else(|_| asked.clone()),
            Listener::Unix(_, path) => ListenAddress::Unix(path.clone()),
        }
    }

    /// The socket file to remove once serving ends.
    pub(crate) fn socket_path(&self) -> Option<&Path> {
        match self {
            Listener::Unix(_, path) => Some(path),
            Listener::Tcp(_) => None,
        }
    }
}

enum PrepareError {
    NotASocket,
    Io(io::Error),
}

/// Creates the socket's directory and removes a stale socket left by a
/// previous run; anything else at the path is left alone.
fn prepare_socket_path(path: &Path) -> Result<(), PrepareError> {
    use std::os::unix::fs::FileTypeExt;
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(PrepareError::Io)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(PrepareError::Io)
        }
        Ok(_) => Err(PrepareError::NotASocket),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PrepareError::Io(error)),
    }
}
