//! Bound listeners: TCP (with `TCP_NODELAY` on every accepted connection) or
//! a Unix socket (its directory created, a stale socket replaced, anything
//! else at the path refused, the file removed on exit).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tonic::transport::server::{TcpConnectInfo, UdsConnectInfo};

use super::{ListenAddress, ServeError};

/// A bound listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// An accepted connection, with what services learn of its caller (the
/// request extensions tonic's own transport sets, so that
/// `Request::remote_addr` works the same).
pub(crate) enum Accepted {
    Tcp(TcpStream, TcpConnectInfo),
    Unix(UnixStream, UdsConnectInfo),
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

    /// The next connection. TCP ones have `TCP_NODELAY` set: without it,
    /// small responses wait for delayed ACKs (about 40 ms per call on Linux).
    pub(crate) async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(listener) => loop {
                let (stream, remote) = listener.accept().await?;
                // Fails only on a socket the caller already closed: that
                // connection is dropped, not the listener paused.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, %remote, "connection gone before it was served");
                    continue;
                }
                let info = TcpConnectInfo {
                    local_addr: stream.local_addr().ok(),
                    remote_addr: Some(remote),
                };
                return Ok(Accepted::Tcp(stream, info));
            },
            Listener::Unix(listener, _) => {
                let (stream, peer) = listener.accept().await?;
                let info = UdsConnectInfo {
                    peer_addr: Some(Arc::new(peer)),
                    peer_cred: stream.peer_cred().ok(),
                };
                Ok(Accepted::Unix(stream, info))
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
