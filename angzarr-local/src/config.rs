//! The topology file: Angzarr's standalone configuration, so that the file
//! a system runs with on the real coordinator runs it here too.
//!
//! ```yaml
//! storage:                  # sqlite (path) or memory
//!   type: sqlite
//!   sqlite: { path: ./poker.db, synchronous: normal }  # or full
//! transport:                # uds (base_path) or tcp
//!   type: uds
//!   uds: { base_path: /tmp/angzarr }
//! messaging: { type: ipc }  # accepted; angzarr-local delivers through its outbox
//! call_timeout: 30s         # the deadline of every call to a component
//! max_attempts: 10          # failed attempts before a book is a dead letter
//! standalone:
//!   aggregates:
//!     - domain: player
//!       command: [cargo, run, -p, examples, --example, player]
//!       env: { RUST_LOG: info }
//!   sagas:
//!     - domain: saga-table-player   # the saga's name
//!       listen_domain: table
//!   process_managers:
//!     - domain: buy-in
//!       subscriptions: "player;table:PlayerSeated,SeatingRejected"
//!   projectors:
//!     - domain: table-seating
//!       listen_domain: table
//! ```
//!
//! Each component may name a `command` (argv) that angzarr-local starts,
//! `env` for it, and where it is served: `socket` (a Unix socket path),
//! `address` (`host:port`, needed with the tcp transport), else the
//! transport's convention, `{base_path}/{kind}-{name}.sock` with kind
//! `business`, `saga`, `process-manager` or `projector`. An aggregate may set
//! `upcaster: true` when its server also answers `UpcasterService`.
//! `storage` under an aggregate is accepted and ignored (one store holds
//! every domain). Unknown keys are reported as warnings, never fatal.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use angzarr_client::ComponentKind;
use serde_norway::{Mapping, Value};

use crate::registry::Subscription;
use crate::store::Synchronous;

/// The default directory of Unix sockets, as the real coordinator's.
pub const DEFAULT_BASE_PATH: &str = "/tmp/angzarr";

/// Where events are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Not said: the command line decides.
    Unspecified,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// In memory, gone at exit.
    Memory,
}

/// How components are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Unix sockets under `base_path`.
    Uds {
        /// The directory.
        base_path: PathBuf,
    },
    /// TCP: each component names its `address`.
    Tcp,
}

/// One component of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// Its kind.
    pub kind: ComponentKind,
    /// Its name: the domain of an aggregate or process manager, the name of
    /// a saga or projector.
    pub name: String,
    /// What it consumes (sagas, process managers, projectors).
    pub subscriptions: Vec<Subscription>,
    /// The program to start, if angzarr-local starts it.
    pub command: Vec<String>,
    /// Environment for that program.
    pub env: BTreeMap<String, String>,
    /// Where it is served: a socket path or `host:port`, when given.
    pub address: Option<String>,
    /// An aggregate whose server also upcasts its events.
    pub upcaster: bool,
    /// Where its program runs: the topology file's directory when read from
    /// a file (so that relative paths in its `env` mean the same from
    /// anywhere), else angzarr-local's own.
    pub directory: Option<PathBuf>,
}

impl ComponentSpec {
    /// The `SERVICE_NAME` prefix of its socket: `business`, `saga`,
    /// `process-manager` or `projector`.
    pub fn service_name(&self) -> &'static str {
        self.kind.default_service_name()
    }

    /// Where angzarr-local reaches it: `unix:{path}` or `http://host:port`.
    pub fn endpoint(&self, transport: &Transport) -> Result<String, ConfigError> {
        match (&self.address, transport) {
            (Some(address), _) if address.starts_with('/') || address.starts_with('.') => {
                Ok(format!("unix:{address}"))
            }
            (Some(address), _) => Ok(address.clone()),
            (None, Transport::Uds { base_path }) => Ok(format!(
                "unix:{}",
                base_path
                    .join(format!("{}-{}.sock", self.service_name(), self.name))
                    .display()
            )),
            (None, Transport::Tcp) => Err(ConfigError::Invalid(format!(
                "{} `{}`: the tcp transport needs its `address` (host:port)",
                self.kind, self.name
            ))),
        }
    }

    /// The environment a started component gets: the conventions by which
    /// Angzarr's servers find their address, no drain period on shutdown
    /// (nothing routes to a supervised component by health, and the
    /// supervisor stops it itself), then `env`.
    pub fn environment(&self, transport: &Transport) -> BTreeMap<String, String> {
        let mut environment = BTreeMap::new();
        environment.insert("SHUTDOWN_DRAIN".to_owned(), "0".to_owned());
        environment.insert("SERVICE_NAME".to_owned(), self.service_name().to_owned());
        environment.insert("DOMAIN".to_owned(), self.name.clone());
        match (transport, &self.address) {
            (_, Some(address)) if address.starts_with('/') || address.starts_with('.') => {
                let path = Path::new(address);
                environment.insert("TRANSPORT_TYPE".to_owned(), "uds".to_owned());
                if let Some(parent) = path.parent() {
                    environment.insert("UDS_BASE_PATH".to_owned(), parent.display().to_string());
                }
            }
            (_, Some(address)) => {
                environment.insert("TRANSPORT_TYPE".to_owned(), "tcp".to_owned());
                if let Some((_, port)) = address.rsplit_once(':') {
                    environment.insert("PORT".to_owned(), port.trim_end_matches('/').to_owned());
                }
            }
            (Transport::Uds { base_path }, None) => {
                environment.insert("TRANSPORT_TYPE".to_owned(), "uds".to_owned());
                environment.insert("UDS_BASE_PATH".to_owned(), base_path.display().to_string());
            }
            (Transport::Tcp, None) => {
                environment.insert("TRANSPORT_TYPE".to_owned(), "tcp".to_owned());
            }
        }
        environment.extend(self.env.clone());
        environment
    }
}

/// A topology file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Where events are stored.
    pub storage: Storage,
    /// SQLite's `synchronous` setting, when the file names one
    /// (`storage.sqlite.synchronous` or `storage.synchronous`).
    pub synchronous: Option<Synchronous>,
    /// The deadline of every call to a component (`call_timeout: 30s`),
    /// when the file names one.
    pub call_timeout: Option<std::time::Duration>,
    /// Failed attempts before a book becomes a dead letter
    /// (`max_attempts: 10`), when the file names it.
    pub max_attempts: Option<u32>,
    /// How components are reached.
    pub transport: Transport,
    /// Every component, in file order.
    pub components: Vec<ComponentSpec>,
    /// Keys angzarr-local does not know or ignores, with their place.
    pub warnings: Vec<String>,
}

/// Why a topology file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A value is missing or wrong; the message names where.
    #[error("{0}")]
    Invalid(String),
}

/// Reads the topology file at `path`. Relative paths in it (the SQLite
/// file, the sockets' directory, a component's socket) are resolved against
/// the file's own directory, and the programs it starts run there: the
/// file means the same whatever directory angzarr-local is started from.
pub fn load(path: &Path) -> Result<Topology, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let topology = parse(&text).map_err(|error| match error {
        ConfigError::Invalid(message) => {
            ConfigError::Invalid(format!("{}: {message}", path.display()))
        }
        other => other,
    })?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let directory = std::path::absolute(directory).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(topology.relative_to(&directory))
}

/// Reads a topology from YAML text.
///
/// ```
/// use angzarr_local::config::{parse, Transport};
///
/// let topology = parse("
/// transport: { type: uds, uds: { base_path: /tmp/poker } }
/// standalone:
///   sagas:
///     - domain: saga-table-player
///       listen_domain: table
///       retries: 3
/// ").unwrap();
/// let saga = &topology.components[0];
/// assert_eq!(saga.endpoint(&topology.transport).unwrap(), "unix:/tmp/poker/saga-saga-table-player.sock");
/// assert_eq!(topology.warnings, ["standalone.sagas[0].retries: unknown key, ignored"]);
/// ```
pub fn parse(text: &str) -> Result<Topology, ConfigError> {
    let root: Value = serde_norway::from_str(text)?;
    let mut reader = Reader::default();
    let empty = Mapping::new();
    let top = match &root {
        Value::Mapping(map) => map,
        Value::Null => &empty,
        _ => return Err(invalid("the file must be a mapping")),
    };
    reader.known(
        top,
        "",
        &[
            "storage",
            "transport",
            "messaging",
            "standalone",
            "call_timeout",
            "max_attempts",
        ],
    );
    let max_attempts = match top.get("max_attempts") {
        None => None,
        Some(Value::Number(number)) => match number.as_u64().map(u32::try_from) {
            Some(Ok(attempts)) if attempts > 0 => Some(attempts),
            _ => {
                return Err(invalid(format!(
                    "max_attempts must be a whole number from 1 to {}, got {number}",
                    u32::MAX
                )))
            }
        },
        Some(_) => return Err(invalid("max_attempts must be a whole number (e.g. 10)")),
    };
    let call_timeout = match top.get("call_timeout") {
        None => None,
        Some(Value::String(text)) => Some(duration("call_timeout", text)?),
        Some(Value::Number(seconds)) => Some(duration("call_timeout", &seconds.to_string())?),
        Some(_) => return Err(invalid("call_timeout must be a duration (30s, 500ms)")),
    };
    let (storage, synchronous) = reader.storage(top.get("storage"))?;
    let transport = reader.transport(top.get("transport"))?;
    if top.get("messaging").is_some() {
        reader.warn(
            "messaging",
            "accepted; angzarr-local delivers through its own durable outbox",
        );
    }
    let mut components = Vec::new();
    if let Some(standalone) = top.get("standalone") {
        let standalone = mapping(standalone, "standalone")?;
        reader.known(
            standalone,
            "standalone",
            &["aggregates", "sagas", "process_managers", "projectors"],
        );
        for (key, kind) in [
            ("aggregates", ComponentKind::Aggregate),
            ("sagas", ComponentKind::Saga),
            ("process_managers", ComponentKind::ProcessManager),
            ("projectors", ComponentKind::Projector),
        ] {
            let Some(list) = standalone.get(key) else {
                continue;
            };
            let Value::Sequence(items) = list else {
                return Err(invalid(format!("standalone.{key} must be a list")));
            };
            for (index, item) in items.iter().enumerate() {
                let path = format!("standalone.{key}[{index}]");
                components.push(reader.component(item, &path, kind)?);
            }
        }
    }
    Ok(Topology {
        storage,
        synchronous,
        call_timeout,
        max_attempts,
        transport,
        components,
        warnings: reader.warnings,
    })
}

/// A duration setting (`30s`, `500ms`, `2m`, or whole seconds).
fn duration(path: &str, text: &str) -> Result<std::time::Duration, ConfigError> {
    angzarr_client::settings::parse_duration(text)
        .map_err(|reason| invalid(format!("{path}: {reason}")))
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

fn mapping<'a>(value: &'a Value, path: &str) -> Result<&'a Mapping, ConfigError> {
    match value {
        Value::Mapping(map) => Ok(map),
        _ => Err(invalid(format!("{path} must be a mapping"))),
    }
}

fn text(value: &Value, path: &str) -> Result<String, ConfigError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(invalid(format!("{path} must be text"))),
    }
}

fn string_at(map: &Mapping, key: &str, path: &str) -> Result<Option<String>, ConfigError> {
    map.get(key)
        .map(|value| text(value, &format!("{path}.{key}")))
        .transpose()
}

#[derive(Default)]
struct Reader {
    warnings: Vec<String>,
}

impl Reader {
    fn warn(&mut self, path: &str, what: &str) {
        self.warnings.push(format!("{path}: {what}"));
    }

    fn known(&mut self, map: &Mapping, path: &str, keys: &[&str]) {
        for key in map.keys() {
            let name = match key {
                Value::String(name) => name.clone(),
                other => format!("{other:?}"),
            };
            if !keys.contains(&name.as_str()) {
                let place = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                self.warn(&place, "unknown key, ignored");
            }
        }
    }

    fn storage(
        &mut self,
        value: Option<&Value>,
    ) -> Result<(Storage, Option<Synchronous>), ConfigError> {
        let Some(value) = value else {
            return Ok((Storage::Unspecified, None));
        };
        let map = mapping(value, "storage")?;
        self.known(
            map,
            "storage",
            &["type", "sqlite", "path", "memory", "synchronous"],
        );
        let kind = string_at(map, "type", "storage")?.unwrap_or_else(|| "sqlite".to_owned());
        let synchronous_at = |map: &Mapping, path: &str| -> Result<_, ConfigError> {
            string_at(map, "synchronous", path)?
                .map(|text| {
                    text.parse::<Synchronous>()
                        .map_err(|error| invalid(format!("{path}.synchronous: {error}")))
                })
                .transpose()
        };
        let outer = synchronous_at(map, "storage")?;
        match kind.as_str() {
            "memory" => {
                if outer.is_some() {
                    self.warn(
                        "storage.synchronous",
                        "ignored: memory storage writes no file",
                    );
                }
                Ok((Storage::Memory, None))
            }
            "sqlite" => {
                let (nested, inner) = match map.get("sqlite") {
                    Some(sqlite) => {
                        let sqlite = mapping(sqlite, "storage.sqlite")?;
                        self.known(sqlite, "storage.sqlite", &["path", "synchronous"]);
                        (
                            string_at(sqlite, "path", "storage.sqlite")?,
                            synchronous_at(sqlite, "storage.sqlite")?,
                        )
                    }
                    None => (None, None),
                };
                let path = nested.or(string_at(map, "path", "storage")?);
                let storage =
                    path.map_or(Storage::Unspecified, |path| Storage::Sqlite(path.into()));
                Ok((storage, inner.or(outer)))
            }
            other => Err(invalid(format!(
                "storage.type: `{other}` is not available in angzarr-local (sqlite or memory)"
            ))),
        }
    }

    fn transport(&mut self, value: Option<&Value>) -> Result<Transport, ConfigError> {
        let default = Transport::Uds {
            base_path: DEFAULT_BASE_PATH.into(),
        };
        let Some(value) = value else {
            return Ok(default);
        };
        let map = mapping(value, "transport")?;
        self.known(map, "transport", &["type", "uds", "tcp"]);
        let kind = string_at(map, "type", "transport")?.unwrap_or_else(|| "uds".to_owned());
        match kind.as_str() {
            "uds" => {
                let base_path = match map.get("uds") {
                    Some(uds) => {
                        let uds = mapping(uds, "transport.uds")?;
                        self.known(uds, "transport.uds", &["base_path"]);
                        string_at(uds, "base_path", "transport.uds")?
                    }
                    None => None,
                };
                Ok(Transport::Uds {
                    base_path: base_path
                        .unwrap_or_else(|| DEFAULT_BASE_PATH.to_owned())
                        .into(),
                })
            }
            "tcp" => {
                if let Some(tcp) = map.get("tcp") {
                    self.known(mapping(tcp, "transport.tcp")?, "transport.tcp", &[]);
                }
                Ok(Transport::Tcp)
            }
            other => Err(invalid(format!(
                "transport.type: `{other}` is not known (uds or tcp)"
            ))),
        }
    }

    fn component(
        &mut self,
        value: &Value,
        path: &str,
        kind: ComponentKind,
    ) -> Result<ComponentSpec, ConfigError> {
        let map = mapping(value, path)?;
        let common = ["domain", "command", "env", "socket", "address"];
        let own: &[&str] = match kind {
            ComponentKind::Aggregate => &["storage", "upcaster"],
            ComponentKind::Saga | ComponentKind::Projector => &["listen_domain"],
            ComponentKind::ProcessManager => &["subscriptions"],
            ComponentKind::Upcaster => &[],
        };
        let keys: Vec<&str> = common.iter().chain(own).copied().collect();
        self.known(map, path, &keys);
        let name = string_at(map, "domain", path)?
            .ok_or_else(|| invalid(format!("{path}: `domain` is required")))?;
        crate::validate::domain(&name)
            .map_err(|status| invalid(format!("{path}.domain: {}", status.message())))?;
        let subscriptions = match kind {
            ComponentKind::Saga | ComponentKind::Projector => {
                let listen = string_at(map, "listen_domain", path)?.ok_or_else(|| {
                    invalid(format!("{path}: `listen_domain` is required for a {kind}"))
                })?;
                Subscription::parse_listed(&listen)
                    .map_err(|reason| invalid(format!("{path}.listen_domain: {reason}")))?
            }
            ComponentKind::ProcessManager => {
                let listed = string_at(map, "subscriptions", path)?.ok_or_else(|| {
                    invalid(format!(
                        "{path}: `subscriptions` is required for a process manager"
                    ))
                })?;
                Subscription::parse_list(&listed)
                    .map_err(|reason| invalid(format!("{path}.subscriptions: {reason}")))?
            }
            _ => Vec::new(),
        };
        if kind == ComponentKind::Saga && subscriptions.len() != 1 {
            return Err(invalid(format!(
                "{path}.listen_domain: a saga listens to one domain"
            )));
        }
        let command = match map.get("command") {
            None => Vec::new(),
            Some(Value::Sequence(argv)) => argv
                .iter()
                .enumerate()
                .map(|(index, arg)| text(arg, &format!("{path}.command[{index}]")))
                .collect::<Result<_, _>>()?,
            Some(Value::String(line)) => line.split_whitespace().map(str::to_owned).collect(),
            Some(_) => return Err(invalid(format!("{path}.command must be a list (argv)"))),
        };
        let mut env = BTreeMap::new();
        if let Some(vars) = map.get("env") {
            for (key, value) in mapping(vars, &format!("{path}.env"))? {
                let key = text(key, &format!("{path}.env"))?;
                let value = text(value, &format!("{path}.env.{key}"))?;
                env.insert(key, value);
            }
        }
        let address = match (
            string_at(map, "socket", path)?,
            string_at(map, "address", path)?,
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "{path}: give `socket` or `address`, not both"
                )))
            }
            (socket, address) => socket.or(address),
        };
        if map.get("storage").is_some() {
            self.warn(
                &format!("{path}.storage"),
                "ignored: angzarr-local keeps every domain in one store",
            );
        }
        let upcaster = match map.get("upcaster") {
            None => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(invalid(format!("{path}.upcaster must be true or false"))),
        };
        Ok(ComponentSpec {
            kind,
            name,
            subscriptions,
            command,
            env,
            address,
            upcaster,
            directory: None,
        })
    }
}

impl Topology {
    /// This topology with its relative paths resolved against `directory`,
    /// where its programs run too.
    pub fn relative_to(mut self, directory: &Path) -> Topology {
        if let Storage::Sqlite(path) = &mut self.storage {
            *path = directory.join(&*path);
        }
        if let Transport::Uds { base_path } = &mut self.transport {
            *base_path = directory.join(&*base_path);
        }
        for component in &mut self.components {
            if let Some(address) = &mut component.address {
                if address.starts_with('.') {
                    let relative = address.strip_prefix("./").unwrap_or(address);
                    *address = directory.join(relative).display().to_string();
                }
            }
            component.directory = Some(directory.to_owned());
        }
        self
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Uds { base_path } => write!(f, "uds ({})", base_path.display()),
            Transport::Tcp => f.write_str("tcp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str = r#"
storage:
  type: sqlite
  sqlite:
    path: ./poker.db
transport:
  type: uds
  uds:
    base_path: /tmp/poker
messaging:
  type: ipc
standalone:
  aggregates:
    - domain: player
      command: ["cargo", "run", "--example", "player"]
      env:
        RUST_LOG: info
        PORT: 50303
      storage:
        type: sqlite
      upcaster: true
    - domain: table
      socket: /run/table.sock
  sagas:
    - domain: saga-table-player
      listen_domain: table
  process_managers:
    - domain: buy-in
      subscriptions: "player;table:PlayerSeated,SeatingRejected"
  projectors:
    - domain: table-seating
      listen_domain: table,player
      color: blue
"#;

    #[test]
    fn relative_paths_resolve_against_the_files_directory_and_absolute_ones_stay() {
        let text = "storage: { sqlite: { path: data/events.db } }\n\
                    transport: { type: uds, uds: { base_path: /run/sockets } }\n\
                    standalone:\n  \
                      aggregates:\n    \
                        - domain: player\n      \
                          socket: ./player.sock\n    \
                        - domain: table\n      \
                          socket: /run/table.sock\n";
        let topology = parse(text).unwrap().relative_to(Path::new("/etc/poker"));
        assert_eq!(
            topology.storage,
            Storage::Sqlite("/etc/poker/data/events.db".into())
        );
        assert_eq!(
            topology.transport,
            Transport::Uds {
                base_path: "/run/sockets".into()
            }
        );
        let addresses: Vec<_> = topology
            .components
            .iter()
            .map(|c| (c.address.as_deref(), c.directory.as_deref()))
            .collect();
        let home = Some(Path::new("/etc/poker"));
        assert_eq!(
            addresses,
            [
                (Some("/etc/poker/player.sock"), home),
                (Some("/run/table.sock"), home)
            ]
        );
    }

    #[test]
    fn max_attempts_is_a_positive_whole_number() {
        let attempts = |text: &str| parse(text).map(|topology| topology.max_attempts);
        assert_eq!(attempts("storage: { type: memory }").unwrap(), None);
        assert_eq!(attempts("max_attempts: 3").unwrap(), Some(3));
        for bad in [
            "max_attempts: 0",
            "max_attempts: -2",
            "max_attempts: 4294967296",
            "max_attempts: 2.5",
        ] {
            let number = bad.trim_start_matches("max_attempts: ");
            assert_eq!(
                attempts(bad).unwrap_err().to_string(),
                format!("max_attempts must be a whole number from 1 to 4294967295, got {number}"),
            );
        }
        assert_eq!(
            attempts("max_attempts: many").unwrap_err().to_string(),
            "max_attempts must be a whole number (e.g. 10)"
        );
    }

    #[test]
    fn the_call_timeout_is_a_duration() {
        let timeout = |text: &str| parse(text).map(|topology| topology.call_timeout);
        assert_eq!(timeout("storage: { type: memory }").unwrap(), None);
        assert_eq!(
            timeout("call_timeout: 250ms").unwrap(),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            timeout("call_timeout: 5").unwrap(),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            timeout("call_timeout: soon").unwrap_err().to_string(),
            "call_timeout: expected a whole number with ms, s, m or h (e.g. 5s, 250ms), got \"soon\""
        );
        assert_eq!(
            timeout("call_timeout: [1]").unwrap_err().to_string(),
            "call_timeout must be a duration (30s, 500ms)"
        );
    }

    #[test]
    fn the_synchronous_setting_is_read_where_the_storage_is() {
        let nested = parse("storage: { sqlite: { path: a.db, synchronous: FULL } }").unwrap();
        assert_eq!(nested.synchronous, Some(Synchronous::Full));
        let flat = parse("storage: { path: a.db, synchronous: normal }").unwrap();
        assert_eq!(flat.synchronous, Some(Synchronous::Normal));
        assert_eq!(parse(SYSTEM).unwrap().synchronous, None);
        let memory = parse("storage: { type: memory, synchronous: full }").unwrap();
        assert_eq!(memory.synchronous, None);
        assert_eq!(
            memory.warnings,
            ["storage.synchronous: ignored: memory storage writes no file"]
        );
        let refused = parse("storage: { sqlite: { path: a.db, synchronous: off } }").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "storage.sqlite.synchronous: `off` is not a synchronous setting (normal or full)"
        );
    }

    #[test]
    fn reads_angzarrs_standalone_schema() {
        let topology = parse(SYSTEM).unwrap();
        assert_eq!(topology.storage, Storage::Sqlite("./poker.db".into()));
        assert_eq!(
            topology.transport,
            Transport::Uds {
                base_path: "/tmp/poker".into()
            }
        );
        let names: Vec<_> = topology
            .components
            .iter()
            .map(|c| (c.kind, c.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (ComponentKind::Aggregate, "player"),
                (ComponentKind::Aggregate, "table"),
                (ComponentKind::Saga, "saga-table-player"),
                (ComponentKind::ProcessManager, "buy-in"),
                (ComponentKind::Projector, "table-seating"),
            ]
        );
        let player = &topology.components[0];
        assert_eq!(player.command, ["cargo", "run", "--example", "player"]);
        assert!(player.upcaster);
        let environment = player.environment(&topology.transport);
        assert_eq!(environment["TRANSPORT_TYPE"], "uds");
        assert_eq!(environment["UDS_BASE_PATH"], "/tmp/poker");
        assert_eq!(environment["SERVICE_NAME"], "business");
        assert_eq!(environment["DOMAIN"], "player");
        assert_eq!(environment["RUST_LOG"], "info");
        assert_eq!(environment["SHUTDOWN_DRAIN"], "0");
        assert_eq!(
            player.endpoint(&topology.transport).unwrap(),
            "unix:/tmp/poker/business-player.sock"
        );
        assert_eq!(
            topology.components[1]
                .endpoint(&topology.transport)
                .unwrap(),
            "unix:/run/table.sock"
        );
        let buy_in = &topology.components[3];
        assert_eq!(buy_in.subscriptions.len(), 2);
        assert_eq!(
            buy_in.subscriptions[1].types,
            ["PlayerSeated", "SeatingRejected"]
        );
        assert_eq!(
            buy_in.endpoint(&topology.transport).unwrap(),
            "unix:/tmp/poker/process-manager-buy-in.sock"
        );
        assert_eq!(topology.components[4].subscriptions.len(), 2);
        assert_eq!(
            topology.warnings,
            [
                "messaging: accepted; angzarr-local delivers through its own durable outbox",
                "standalone.aggregates[0].storage: ignored: angzarr-local keeps every domain in one store",
                "standalone.projectors[0].color: unknown key, ignored",
            ]
        );
    }

    #[test]
    fn mistakes_name_their_place() {
        let message = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(
            message("standalone: { sagas: [ { domain: welcome } ] }"),
            "standalone.sagas[0]: `listen_domain` is required for a saga"
        );
        assert_eq!(
            message("standalone: { aggregates: [ { domain: Player } ] }"),
            "standalone.aggregates[0].domain: domain name must start with lowercase letter"
        );
        assert_eq!(
            message("storage: { type: postgres }"),
            "storage.type: `postgres` is not available in angzarr-local (sqlite or memory)"
        );
        assert!(message("standalone: [").starts_with("not valid YAML"));
        let tcp =
            parse("transport: { type: tcp }\nstandalone: { aggregates: [ { domain: player } ] }")
                .unwrap();
        assert_eq!(
            tcp.components[0]
                .endpoint(&tcp.transport)
                .unwrap_err()
                .to_string(),
            "aggregate `player`: the tcp transport needs its `address` (host:port)"
        );
    }
}
