//! Where a client connects, and how.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::retry::{Repeat, RetryPolicy};
use crate::settings::{self, DEFAULT_MAX_MESSAGE_SIZE};
use crate::ClientError;

/// The port of a coordinator when only a host is known.
pub const DEFAULT_COORDINATOR_PORT: u16 = 1310;

/// A coordinator's address: TCP (plain or TLS) or a Unix socket.
///
/// ```
/// use angzarr_client::Target;
///
/// assert_eq!(Target::parse("localhost:1310").unwrap(), Target::Http("http://localhost:1310".into()));
/// assert_eq!(Target::parse("unix:/tmp/ch.sock").unwrap(), Target::Unix("/tmp/ch.sock".into()));
/// assert!(Target::parse("not an endpoint").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `http://host:port`.
    Http(String),
    /// `https://host:port` (needs the `tls` feature).
    Https(String),
    /// A Unix domain socket.
    Unix(PathBuf),
}

impl Target {
    /// Parses `host:port`, `http://host:port`, `https://host:port`,
    /// `unix:/path`, `/abs/path` or `./rel/path`.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        let invalid = |message: &str| ClientError::Connection {
            endpoint: text.to_owned(),
            message: message.to_owned(),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(invalid("the endpoint is empty"));
        }
        if let Some(path) = text.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(invalid("the socket path is empty"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        if text.starts_with('/') || text.starts_with("./") || text.starts_with("../") {
            return Ok(Target::Unix(PathBuf::from(text)));
        }
        let (secure, with_scheme) = if text.starts_with("https://") {
            (true, text.to_owned())
        } else if text.starts_with("http://") {
            (false, text.to_owned())
        } else if text.contains("://") {
            return Err(invalid(
                "unsupported scheme; use http://, https:// or unix:",
            ));
        } else {
            (false, format!("http://{text}"))
        };
        let uri: Uri = with_scheme.parse().map_err(|_| {
            invalid("expected host:port, http(s)://host:port, unix:/path or a socket path")
        })?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("the endpoint has no host"));
        }
        if uri.port_u16().is_none() {
            return Err(invalid("the endpoint has no port (e.g. localhost:1310)"));
        }
        Ok(if secure {
            Target::Https(with_scheme)
        } else {
            Target::Http(with_scheme)
        })
    }

    /// The endpoint in environment variable `variable`, or `default` when it
    /// is unset or empty.
    pub fn from_env(variable: &str, default: &str) -> Result<Self, ClientError> {
        Self::from_env_with(variable, default, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup`, so
    /// that tests (and hosts with their own configuration) need not touch
    /// the process environment.
    ///
    /// ```
    /// use angzarr_client::Target;
    ///
    /// let lookup = |name: &str| (name == "ORDERS").then(|| "orders:1310".to_owned());
    /// assert_eq!(
    ///     Target::from_env_with("ORDERS", "localhost:1310", lookup).unwrap(),
    ///     Target::Http("http://orders:1310".into())
    /// );
    /// assert_eq!(
    ///     Target::from_env_with("OTHER", "localhost:1310", lookup).unwrap(),
    ///     Target::Http("http://localhost:1310".into())
    /// );
    /// ```
    pub fn from_env_with(
        variable: &str,
        default: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ClientError> {
        match lookup(variable) {
            Some(value) if !value.trim().is_empty() => Self::parse(&value),
            _ => Self::parse(default),
        }
    }

    /// The coordinator of `domain` as Angzarr deploys it: with
    /// `ANGZARR_MODE=standalone` (the default) the socket
    /// `{ANGZARR_UDS_BASE or /tmp/angzarr}/ch-{domain}.sock`; with
    /// `ANGZARR_MODE=distributed` the service
    /// `ch-{domain}.{ANGZARR_NAMESPACE or angzarr}.svc:{ANGZARR_CH_PORT or 1310}`.
    pub fn for_domain(domain: &str) -> Result<Self, ClientError> {
        Self::for_domain_with(domain, |name| std::env::var(name).ok())
    }

    /// [`for_domain`](Self::for_domain) reading variables through `lookup`.
    pub fn for_domain_with(
        domain: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ClientError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mode = var("ANGZARR_MODE").unwrap_or_else(|| "standalone".to_owned());
        match mode.trim().to_ascii_lowercase().as_str() {
            "standalone" => {
                let base = var("ANGZARR_UDS_BASE").unwrap_or_else(|| "/tmp/angzarr".to_owned());
                Ok(Target::Unix(
                    PathBuf::from(base).join(format!("ch-{domain}.sock")),
                ))
            }
            "distributed" => {
                let namespace = var("ANGZARR_NAMESPACE").unwrap_or_else(|| "angzarr".to_owned());
                let port =
                    var("ANGZARR_CH_PORT").unwrap_or_else(|| DEFAULT_COORDINATOR_PORT.to_string());
                Self::parse(&format!("ch-{domain}.{namespace}.svc:{port}"))
            }
            other => Err(ClientError::Connection {
                endpoint: format!("ANGZARR_MODE={other}"),
                message: "expected `standalone` or `distributed`".to_owned(),
            }),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http(uri) | Target::Https(uri) => f.write_str(uri),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// How to connect: timeouts, keep-alive, laziness, TLS roots, message size,
/// retries.
///
/// ```
/// use std::time::Duration;
/// use angzarr_client::{ConnectOptions, RetryPolicy};
///
/// let options = ConnectOptions {
///     call_timeout: Some(Duration::from_secs(5)),
///     retry: RetryPolicy::default(),
///     ..ConnectOptions::default()
/// };
/// assert_eq!(options.max_message_size, 64 * 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long establishing the connection may take (default 5 s).
    pub connect_timeout: Option<Duration>,
    /// The deadline of every call (default none).
    pub call_timeout: Option<Duration>,
    /// HTTP/2 keep-alive ping interval (default none).
    pub keep_alive: Option<Duration>,
    /// Connect on first use instead of now (default false).
    pub lazy: bool,
    /// A CA certificate (PEM) to trust for `https://`, instead of the system roots.
    pub ca_certificate: Option<Vec<u8>>,
    /// The largest message sent or accepted, in bytes (default
    /// [`DEFAULT_MAX_MESSAGE_SIZE`], 64 MiB, the servers' and angzarr-local's).
    pub max_message_size: usize,
    /// How connecting, and every call of the clients made with these
    /// options, retries transport failures (default: no retry).
    pub retry: RetryPolicy,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            call_timeout: None,
            keep_alive: None,
            lazy: false,
            ca_certificate: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            retry: RetryPolicy::none(),
        }
    }
}

/// The variable [`ConnectOptions::from_env`] reads the call deadline from.
pub const CLIENT_CALL_TIMEOUT_ENV: &str = "ANGZARR_CALL_TIMEOUT";
/// The variable [`ConnectOptions::from_env`] reads the message size from.
pub const CLIENT_MAX_MESSAGE_SIZE_ENV: &str = "ANGZARR_MAX_MESSAGE_SIZE";
/// The variable [`ConnectOptions::from_env`] reads the number of attempts
/// from: set, the clients retry by [`RetryPolicy::default`] with that many.
pub const CLIENT_RETRY_ATTEMPTS_ENV: &str = "ANGZARR_RETRY_ATTEMPTS";

impl ConnectOptions {
    /// The defaults, with what the environment sets: `ANGZARR_CALL_TIMEOUT`
    /// (`5s`, `250ms`), `ANGZARR_MAX_MESSAGE_SIZE` (`64MiB`) and
    /// `ANGZARR_RETRY_ATTEMPTS` (`5`). A value that does not parse is an
    /// error naming the variable.
    pub fn from_env() -> Result<Self, ClientError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use angzarr_client::ConnectOptions;
    ///
    /// let options = ConnectOptions::from_lookup(|name| match name {
    ///     "ANGZARR_CALL_TIMEOUT" => Some("2s".into()),
    ///     "ANGZARR_RETRY_ATTEMPTS" => Some("3".into()),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert_eq!(options.call_timeout, Some(Duration::from_secs(2)));
    /// assert_eq!(options.retry.max_attempts(), 3);
    /// assert!(ConnectOptions::from_lookup(|_| Some("lots".into())).is_err());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        let invalid = |(variable, value, reason): (&str, String, String)| {
            ClientError::InvalidArgument(format!("{variable}={value:?}: {reason}"))
        };
        let mut options = ConnectOptions::default();
        if let Some(timeout) =
            settings::from_env(CLIENT_CALL_TIMEOUT_ENV, &lookup, settings::parse_duration)
                .map_err(invalid)?
        {
            options.call_timeout = Some(timeout);
        }
        if let Some(size) =
            settings::from_env(CLIENT_MAX_MESSAGE_SIZE_ENV, &lookup, settings::parse_size)
                .map_err(invalid)?
        {
            options.max_message_size = size;
        }
        let attempts = |text: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("expected a whole number of attempts, got {text:?}"))
        };
        if let Some(attempts) =
            settings::from_env(CLIENT_RETRY_ATTEMPTS_ENV, &lookup, attempts).map_err(invalid)?
        {
            options.retry = RetryPolicy::default().with_max_attempts(attempts);
        }
        Ok(options)
    }
}

/// Opens a channel to `target`; a failure to connect is retried by the
/// options' retry policy.
pub async fn connect(target: &Target, options: &ConnectOptions) -> Result<Channel, ClientError> {
    if options.lazy || options.retry.max_attempts() <= 1 {
        return connect_once(target, options).await;
    }
    options
        .retry
        .run(Repeat::Safe, || connect_once(target, options))
        .await
}

async fn connect_once(target: &Target, options: &ConnectOptions) -> Result<Channel, ClientError> {
    let failed = |message: String| ClientError::Connection {
        endpoint: target.to_string(),
        message,
    };
    let uri = match target {
        Target::Http(uri) | Target::Https(uri) => uri.clone(),
        // The authority is unused: the connector below dials the socket.
        Target::Unix(_) => "http://localhost".to_owned(),
    };
    let mut endpoint = Endpoint::from_shared(uri)
        .map_err(|error| failed(error.to_string()))?
        .tcp_nodelay(true);
    if let Some(timeout) = options.connect_timeout {
        endpoint = endpoint.connect_timeout(timeout);
    }
    if let Some(timeout) = options.call_timeout {
        endpoint = endpoint.timeout(timeout);
    }
    if let Some(interval) = options.keep_alive {
        endpoint = endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_while_idle(true);
    }
    if let Target::Https(_) = target {
        endpoint = tls(endpoint, options).map_err(failed)?;
    }
    match target {
        Target::Unix(path) => {
            let path = path.clone();
            let connector = tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move { UnixStream::connect(path).await.map(TokioIo::new) }
            });
            if options.lazy {
                Ok(endpoint.connect_with_connector_lazy(connector))
            } else {
                endpoint
                    .connect_with_connector(connector)
                    .await
                    .map_err(|error| failed(describe(&error)))
            }
        }
        _ if options.lazy => Ok(endpoint.connect_lazy()),
        _ => endpoint
            .connect()
            .await
            .map_err(|error| failed(describe(&error))),
    }
}

#[cfg(feature = "tls")]
fn tls(endpoint: Endpoint, options: &ConnectOptions) -> Result<Endpoint, String> {
    let mut config = tonic::transport::ClientTlsConfig::new();
    config = match &options.ca_certificate {
        Some(pem) => config.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
        None => config.with_native_roots(),
    };
    endpoint
        .tls_config(config)
        .map_err(|error| error.to_string())
}

#[cfg(not(feature = "tls"))]
fn tls(_: Endpoint, _: &ConnectOptions) -> Result<Endpoint, String> {
    Err("https:// needs angzarr-client's `tls` feature".to_owned())
}

/// The transport error with its causes, which hold the useful part, each
/// said once: layers that repeat their cause's text (hyper's "tcp connect
/// error" wraps another "tcp connect error") or already include it add
/// nothing.
fn describe(error: &tonic::transport::Error) -> String {
    describe_chain(error)
}

fn describe_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut last = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !said.is_empty() && said != last && !last.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        last = said;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|cause| cause as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let chain = Layer(
            "transport error",
            Some(Box::new(Layer(
                "tcp connect error",
                Some(Box::new(Layer(
                    "tcp connect error",
                    Some(Box::new(Layer("Connection refused (os error 111)", None))),
                ))),
            ))),
        );
        assert_eq!(
            describe_chain(&chain),
            "transport error: tcp connect error: Connection refused (os error 111)"
        );
        let including = Layer(
            "cannot reach it: refused",
            Some(Box::new(Layer("refused", None))),
        );
        assert_eq!(describe_chain(&including), "cannot reach it: refused");
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Target::parse("http://a:1").unwrap(),
            Target::Http("http://a:1".into())
        );
        assert_eq!(
            Target::parse("https://a:443").unwrap(),
            Target::Https("https://a:443".into())
        );
        assert_eq!(
            Target::parse("./ch.sock").unwrap(),
            Target::Unix("./ch.sock".into())
        );
        assert_eq!(
            Target::parse("/run/ch.sock").unwrap(),
            Target::Unix("/run/ch.sock".into())
        );
        assert_eq!(
            Target::parse("[::1]:1310").unwrap(),
            Target::Http("http://[::1]:1310".into())
        );
    }

    #[test]
    fn invalid_endpoints_are_named() {
        for (text, message) in [
            ("", "the endpoint is empty"),
            ("unix:", "the socket path is empty"),
            (
                "ftp://a:1",
                "unsupported scheme; use http://, https:// or unix:",
            ),
            (
                "localhost",
                "the endpoint has no port (e.g. localhost:1310)",
            ),
            (
                "a b:1",
                "expected host:port, http(s)://host:port, unix:/path or a socket path",
            ),
        ] {
            match Target::parse(text) {
                Err(ClientError::Connection {
                    endpoint,
                    message: got,
                }) => {
                    assert_eq!((endpoint.as_str(), got.as_str()), (text, message));
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn options_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let defaults = ConnectOptions::from_lookup(env(&[])).unwrap();
        assert_eq!(defaults.call_timeout, None);
        assert_eq!(defaults.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
        assert_eq!(defaults.retry, RetryPolicy::none());
        let set = ConnectOptions::from_lookup(env(&[
            ("ANGZARR_CALL_TIMEOUT", "250ms"),
            ("ANGZARR_MAX_MESSAGE_SIZE", "8MiB"),
            ("ANGZARR_RETRY_ATTEMPTS", "3"),
        ]))
        .unwrap();
        assert_eq!(set.call_timeout, Some(Duration::from_millis(250)));
        assert_eq!(set.max_message_size, 8 << 20);
        assert_eq!(set.retry, RetryPolicy::default().with_max_attempts(3));
        let bad =
            ConnectOptions::from_lookup(env(&[("ANGZARR_MAX_MESSAGE_SIZE", "lots")])).unwrap_err();
        assert!(
            bad.message()
                .starts_with("ANGZARR_MAX_MESSAGE_SIZE=\"lots\": "),
            "{bad}"
        );
    }

    #[test]
    fn for_domain_follows_the_mode() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            move |name: &str| map.get(name).cloned()
        };
        assert_eq!(
            Target::for_domain_with("player", env(&[])).unwrap(),
            Target::Unix("/tmp/angzarr/ch-player.sock".into())
        );
        assert_eq!(
            Target::for_domain_with("player", env(&[("ANGZARR_UDS_BASE", "/run/az")])).unwrap(),
            Target::Unix("/run/az/ch-player.sock".into())
        );
        assert_eq!(
            Target::for_domain_with("player", env(&[("ANGZARR_MODE", "distributed")])).unwrap(),
            Target::Http("http://ch-player.angzarr.svc:1310".into())
        );
        assert_eq!(
            Target::for_domain_with(
                "table",
                env(&[
                    ("ANGZARR_MODE", "DISTRIBUTED"),
                    ("ANGZARR_NAMESPACE", "poker"),
                    ("ANGZARR_CH_PORT", "7")
                ])
            )
            .unwrap(),
            Target::Http("http://ch-table.poker.svc:7".into())
        );
        assert!(Target::for_domain_with("p", env(&[("ANGZARR_MODE", "cloud")])).is_err());
    }
}
