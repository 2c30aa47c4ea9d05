//! Where a server listens: a TCP address or a Unix socket, given explicitly
//! or taken from the environment the way Angzarr spawns business logic.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::{ComponentKind, ServeError};

/// The port a server listens on when neither an address nor `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 50303;
/// Where Unix sockets go when `UDS_BASE_PATH` is unset.
pub const DEFAULT_UDS_BASE_PATH: &str = "/tmp/angzarr";
/// The service name in an aggregate's socket file name when `SERVICE_NAME`
/// is unset (each kind has its own: [`ComponentKind::default_service_name`]).
pub const DEFAULT_SERVICE_NAME: &str = "business";

/// A listening address.
///
/// ```
/// use angzarr_client::ListenAddress;
///
/// assert_eq!(ListenAddress::parse("50303").unwrap().to_string(), "0.0.0.0:50303");
/// assert_eq!(ListenAddress::parse("127.0.0.1:7000").unwrap().to_string(), "127.0.0.1:7000");
/// assert_eq!(ListenAddress::parse("unix:/tmp/a.sock").unwrap().to_string(), "unix:/tmp/a.sock");
/// assert!(ListenAddress::parse("port seven").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A Unix domain socket at this path.
    Unix(PathBuf),
}

impl ListenAddress {
    /// Parses `50303` (every interface), `:50303`, `host:port`, `[v6]:port`,
    /// `localhost:port`, `unix:/path`, or a path starting with `/` or `./`.
    pub fn parse(text: &str) -> Result<Self, ServeError> {
        let invalid = |reason: &str| ServeError::InvalidAddress {
            input: text.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(path) = trimmed.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid("the socket path is empty"));
            }
            return Ok(ListenAddress::Unix(PathBuf::from(path)));
        }
        if trimmed.starts_with('/') || trimmed.starts_with("./") {
            return Ok(ListenAddress::Unix(PathBuf::from(trimmed)));
        }
        let port_only = trimmed.strip_prefix(':').unwrap_or(trimmed);
        if port_only.bytes().all(|b| b.is_ascii_digit()) {
            let port = parse_port(port_only).map_err(|reason| invalid(&reason))?;
            return Ok(ListenAddress::Tcp(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port,
            )));
        }
        if let Some(port) = trimmed.strip_prefix("localhost:") {
            let port = parse_port(port).map_err(|reason| invalid(&reason))?;
            return Ok(ListenAddress::Tcp(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            )));
        }
        trimmed
            .parse::<SocketAddr>()
            .map(ListenAddress::Tcp)
            .map_err(|_| {
                invalid(
                    "expected a port (50303), host:port (127.0.0.1:50303) or unix:/path/to.sock",
                )
            })
    }

    /// `127.0.0.1:port` (port 0: any free port, which the bound server reports).
    pub fn loopback(port: u16) -> Self {
        ListenAddress::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    }

    /// The TCP socket address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ListenAddress::Tcp(address) => Some(*address),
            ListenAddress::Unix(_) => None,
        }
    }

    /// The address from the environment, as Angzarr's sidecars set it, for
    /// a component of `kind` named `name` (an aggregate's or upcaster's
    /// domain, a saga's, process manager's or projector's name):
    ///
    /// - `TRANSPORT_TYPE`: `tcp` (the default) or `uds`;
    /// - TCP: `PORT` (default 50303) on every interface;
    /// - Unix socket: `{UDS_BASE_PATH}/{SERVICE_NAME}-{qualifier}.sock`, where
    ///   `UDS_BASE_PATH` defaults to `/tmp/angzarr`, `SERVICE_NAME` to the
    ///   kind's prefix (`business`, `saga`, `process-manager`, `projector`;
    ///   an upcaster shares its aggregate's `business`), and the qualifier is
    ///   `DOMAIN`, else `SAGA_NAME`, else `PROJECTOR_NAME`, else `name`: the
    ///   real coordinator's `{kind}-{name}.sock`.
    pub fn from_env(kind: ComponentKind, name: &str) -> Result<Self, ServeError> {
        Self::from_lookup(kind, name, |variable| std::env::var(variable).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup`
    /// (unset and empty are the same).
    pub fn from_lookup(
        kind: ComponentKind,
        name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ServeError> {
        let var = |variable: &str| lookup(variable).filter(|value| !value.trim().is_empty());
        let transport = var("TRANSPORT_TYPE").unwrap_or_else(|| "tcp".to_owned());
        match transport.trim().to_ascii_lowercase().as_str() {
            "tcp" => {
                let port = match var("PORT") {
                    Some(port) => {
                        parse_port(port.trim()).map_err(|reason| ServeError::Environment {
                            variable: "PORT",
                            value: port.clone(),
                            reason,
                        })?
                    }
                    None => DEFAULT_PORT,
                };
                Ok(ListenAddress::Tcp(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    port,
                )))
            }
            "uds" => {
                let base = var("UDS_BASE_PATH").unwrap_or_else(|| DEFAULT_UDS_BASE_PATH.to_owned());
                let service =
                    var("SERVICE_NAME").unwrap_or_else(|| kind.default_service_name().to_owned());
                let qualifier = var("DOMAIN")
                    .or_else(|| var("SAGA_NAME"))
                    .or_else(|| var("PROJECTOR_NAME"))
                    .unwrap_or_else(|| name.to_owned());
                Ok(ListenAddress::Unix(
                    PathBuf::from(base).join(format!("{service}-{qualifier}.sock")),
                ))
            }
            _ => Err(ServeError::Environment {
                variable: "TRANSPORT_TYPE",
                value: transport,
                reason: "expected `tcp` or `uds`".to_owned(),
            }),
        }
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("`{text}` is not a port number (0-65535)"))
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::Tcp(address) => write!(f, "{address}"),
            ListenAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl From<SocketAddr> for ListenAddress {
    fn from(address: SocketAddr) -> Self {
        ListenAddress::Tcp(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn parses_every_form() {
        let tcp = |s: &str| ListenAddress::Tcp(s.parse().unwrap());
        assert_eq!(ListenAddress::parse("50303").unwrap(), tcp("0.0.0.0:50303"));
        assert_eq!(ListenAddress::parse(":7").unwrap(), tcp("0.0.0.0:7"));
        assert_eq!(
            ListenAddress::parse("localhost:9").unwrap(),
            tcp("127.0.0.1:9")
        );
        assert_eq!(ListenAddress::parse("[::1]:9").unwrap(), tcp("[::1]:9"));
        assert_eq!(
            ListenAddress::parse("./run/a.sock").unwrap(),
            ListenAddress::Unix("./run/a.sock".into())
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (input, reason) in [
            ("", "it is empty"),
            ("unix:", "the socket path is empty"),
            ("70000", "`70000` is not a port number (0-65535)"),
            (
                "host:port",
                "expected a port (50303), host:port (127.0.0.1:50303) or unix:/path/to.sock",
            ),
        ] {
            match ListenAddress::parse(input) {
                Err(ServeError::InvalidAddress { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn environment_defaults_to_tcp_50303() {
        assert_eq!(
            ListenAddress::from_lookup(ComponentKind::Aggregate, "player", env(&[]))
                .unwrap()
                .to_string(),
            "0.0.0.0:50303"
        );
        assert_eq!(
            ListenAddress::from_lookup(
                ComponentKind::Aggregate,
                "player",
                env(&[("PORT", "6000"), ("TRANSPORT_TYPE", "")])
            )
            .unwrap()
            .to_string(),
            "0.0.0.0:6000"
        );
    }

    #[test]
    fn environment_builds_the_socket_path() {
        let address = ListenAddress::from_lookup(
            ComponentKind::Aggregate,
            "player",
            env(&[
                ("TRANSPORT_TYPE", "uds"),
                ("UDS_BASE_PATH", "/run/az"),
                ("SERVICE_NAME", "agg"),
            ]),
        )
        .unwrap();
        assert_eq!(
            address,
            ListenAddress::Unix("/run/az/agg-player.sock".into())
        );
        let defaults = ListenAddress::from_lookup(
            ComponentKind::Aggregate,
            "player",
            env(&[("TRANSPORT_TYPE", "UDS")]),
        )
        .unwrap();
        assert_eq!(
            defaults.to_string(),
            "unix:/tmp/angzarr/business-player.sock"
        );
        let overridden = ListenAddress::from_lookup(
            ComponentKind::Aggregate,
            "player",
            env(&[("TRANSPORT_TYPE", "uds"), ("DOMAIN", "table")]),
        )
        .unwrap();
        assert_eq!(
            overridden.to_string(),
            "unix:/tmp/angzarr/business-table.sock"
        );
    }

    #[test]
    fn each_kind_has_the_coordinators_socket_name() {
        let uds = env(&[("TRANSPORT_TYPE", "uds")]);
        let path = |kind, name| {
            ListenAddress::from_lookup(kind, name, &uds)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            path(ComponentKind::Saga, "saga-table-player"),
            "unix:/tmp/angzarr/saga-saga-table-player.sock"
        );
        assert_eq!(
            path(ComponentKind::ProcessManager, "buy-in"),
            "unix:/tmp/angzarr/process-manager-buy-in.sock"
        );
        assert_eq!(
            path(ComponentKind::Projector, "table-seating"),
            "unix:/tmp/angzarr/projector-table-seating.sock"
        );
        assert_eq!(
            path(ComponentKind::Upcaster, "player"),
            "unix:/tmp/angzarr/business-player.sock",
            "an upcaster shares its aggregate's socket"
        );
        let named = env(&[
            ("TRANSPORT_TYPE", "uds"),
            ("SAGA_NAME", "from-env"),
            ("SERVICE_NAME", "svc"),
        ]);
        assert_eq!(
            ListenAddress::from_lookup(ComponentKind::Saga, "ignored", &named)
                .unwrap()
                .to_string(),
            "unix:/tmp/angzarr/svc-from-env.sock"
        );
        let projector = env(&[("TRANSPORT_TYPE", "uds"), ("PROJECTOR_NAME", "p")]);
        assert_eq!(
            ListenAddress::from_lookup(ComponentKind::Projector, "x", &projector)
                .unwrap()
                .to_string(),
            "unix:/tmp/angzarr/projector-p.sock"
        );
    }

    #[test]
    fn bad_environment_names_the_variable() {
        let error = ListenAddress::from_lookup(
            ComponentKind::Aggregate,
            "p",
            env(&[("TRANSPORT_TYPE", "quic")]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable TRANSPORT_TYPE=\"quic\" is invalid: expected `tcp` or `uds`"
        );
        let error =
            ListenAddress::from_lookup(ComponentKind::Aggregate, "p", env(&[("PORT", "http")]))
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable PORT=\"http\" is invalid: `http` is not a port number (0-65535)"
        );
    }
}
