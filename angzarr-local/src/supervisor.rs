//! Starting the components a topology file lists, waiting until each
//! answers health, reporting any that exits, and stopping them at shutdown.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::{connect, ConnectOptions, Target};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::config::{ComponentSpec, Transport};

/// How components are started and stopped.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// Where each component's output goes: `{kind}-{name}.log` in it.
    pub log_dir: PathBuf,
    /// How long a component may take to answer health (default 120 s: a
    /// `cargo run` may compile first).
    pub start_timeout: Duration,
    /// How long a component may take to stop after SIGTERM before it is
    /// killed (default 5 s).
    pub stop_grace: Duration,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        SupervisorOptions {
            log_dir: std::env::temp_dir().join("angzarr-local-logs"),
            start_timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(5),
        }
    }
}

/// Why the components could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The log file could not be created.
    #[error("{component}: cannot write its log {}: {source}", log.display())]
    Log {
        /// The component.
        component: String,
        /// The log file.
        log: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("{component}: cannot start `{program}`: {source}")]
    Spawn {
        /// The component.
        component: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The component exited before answering health.
    #[error("{component} exited ({status}) before answering health; its log {}:\n{tail}", log.display())]
    Exited {
        /// The component.
        component: String,
        /// How it ended.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
    /// The component did not answer health in time.
    #[error("{component} did not answer health at {endpoint} within {waited:?}; its log {}:\n{tail}", log.display())]
    NotHealthy {
        /// The component.
        component: String,
        /// Where it was asked.
        endpoint: String,
        /// How long angzarr-local waited.
        waited: Duration,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
}

/// The started components. [`stop`](Self::stop) ends them; dropping the
/// supervisor kills any still running.
pub struct Supervisor {
    running: Vec<Running>,
    stopping: Arc<AtomicBool>,
}

struct Running {
    stop: oneshot::Sender<()>,
    watcher: JoinHandle<()>,
}

struct Started {
    label: String,
    endpoint: String,
    log: PathBuf,
    child: Child,
}

/// The last `lines` lines of `log`, indented.
fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        return "  (empty)".to_owned();
    }
    all[start..]
        .iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("{status}"),
    }
}

impl Supervisor {
    /// Starts every component of `specs` that names a `command`, with the
    /// environment conventions and its `env`, then waits until each answers
    /// health (`grpc.health.v1`, service `""`).
    pub async fn start(
        specs: &[ComponentSpec],
        transport: &Transport,
        options: &SupervisorOptions,
    ) -> Result<Supervisor, SupervisorError> {
        let stopping = Arc::new(AtomicBool::new(false));
        let mut started = Vec::new();
        for spec in specs.iter().filter(|spec| !spec.command.is_empty()) {
            started.push(spawn(spec, transport, options)?);
        }
        let mut supervisor = Supervisor {
            running: Vec::new(),
            stopping,
        };
        // All start at once (each may compile first); then each must answer.
        for mut component in started {
            if let Err(error) = wait_healthy(&mut component, options.start_timeout).await {
                let _ = component.child.start_kill();
                supervisor.stop().await;
                return Err(error);
            }
            tracing::info!(component = %component.label, endpoint = %component.endpoint, "started");
            supervisor.watch(component, options.stop_grace);
        }
        Ok(supervisor)
    }

    /// Reports the component's exit unless angzarr-local is stopping it.
    fn watch(&mut self, component: Started, grace: Duration) {
        let (stop, stopped) = oneshot::channel();
        let stopping = Arc::clone(&self.stopping);
        let Started {
            label,
            log,
            mut child,
            ..
        } = component;
        let watcher = tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    if !stopping.load(Ordering::SeqCst) {
                        let status = status.map_or_else(|e| e.to_string(), describe);
                        tracing::error!(
                            component = %label,
                            %status,
                            log = %log.display(),
                            "a component exited; books for it wait in the outbox until it is back:\n{}",
                            tail(&log, 10)
                        );
                    }
                }
                _ = stopped => terminate(&label, &mut child, grace).await,
            }
        });
        self.running.push(Running { stop, watcher });
    }

    /// Asks every component to stop (SIGTERM), kills those still running
    /// after the grace period, and waits for them.
    pub async fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for running in self.running.drain(..) {
            let _ = running.stop.send(());
            let _ = running.watcher.await;
        }
    }

    /// How many components it started.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether it started none.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

fn spawn(
    spec: &ComponentSpec,
    transport: &Transport,
    options: &SupervisorOptions,
) -> Result<Started, SupervisorError> {
    let label = format!("{} {}", spec.kind, spec.name);
    let log = options
        .log_dir
        .join(format!("{}-{}.log", spec.service_name(), spec.name));
    let log_error = |source| SupervisorError::Log {
        component: label.clone(),
        log: log.clone(),
        source,
    };
    std::fs::create_dir_all(&options.log_dir).map_err(log_error)?;
    let out = std::fs::File::create(&log).map_err(log_error)?;
    let err = out.try_clone().map_err(log_error)?;
    let endpoint = spec
        .endpoint(transport)
        .map_err(|error| SupervisorError::Spawn {
            component: label.clone(),
            program: spec.command[0].clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string()),
        })?;
    if let Transport::Uds { base_path } = transport {
        let _ = std::fs::create_dir_all(base_path);
    }
    let mut command = Command::new(&spec.command[0]);
    if let Some(directory) = &spec.directory {
        command.current_dir(directory);
    }
    let child = command
        .args(&spec.command[1..])
        .envs(spec.environment(transport))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SupervisorError::Spawn {
            component: label.clone(),
            program: spec.command[0].clone(),
            source,
        })?;
    tracing::info!(component = %label, command = ?spec.command, log = %log.display(), "starting");
    Ok(Started {
        label,
        endpoint,
        log,
        child,
    })
}

async fn wait_healthy(component: &mut Started, timeout: Duration) -> Result<(), SupervisorError> {
    let started = Instant::now();
    let target =
        Target::parse(&component.endpoint).map_err(|error| SupervisorError::NotHealthy {
            component: component.label.clone(),
            endpoint: component.endpoint.clone(),
            waited: Duration::ZERO,
            log: component.log.clone(),
            tail: error.message().to_owned(),
        })?;
    let options = ConnectOptions {
        connect_timeout: Some(Duration::from_secs(1)),
        call_timeout: Some(Duration::from_secs(2)),
        ..ConnectOptions::default()
    };
    loop {
        if let Ok(Some(status)) = component.child.try_wait() {
            return Err(SupervisorError::Exited {
                component: component.label.clone(),
                status: describe(status),
                log: component.log.clone(),
                tail: tail(&component.log, 20),
            });
        }
        if let Ok(channel) = connect(&target, &options).await {
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if answer.is_ok_and(|answer| answer.get_ref().status == ServingStatus::Serving as i32) {
                return Ok(());
            }
        }
        if started.elapsed() >= timeout {
            return Err(SupervisorError::NotHealthy {
                component: component.label.clone(),
                endpoint: component.endpoint.clone(),
                waited: timeout,
                log: component.log.clone(),
                tail: tail(&component.log, 20),
            });
        }
        // A process coming up has no event to wait on: look again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM, then SIGKILL after `grace`.
async fn terminate(label: &str, child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        sigterm(pid);
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(_) => tracing::info!(component = %label, "stopped"),
        Err(_) => {
            tracing::warn!(component = %label, "did not stop in time: killed");
            let _ = child.kill().await;
        }
    }
}

/// Sends SIGTERM to `pid`: one system call, nothing to wait for, so it is
/// safe inside async code (running `kill(1)` would block a runtime thread
/// until that process exits).
fn sigterm(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // the pid is our own child's, which `Child` has not yet reaped.
    let _ = unsafe { libc::kill(pid, libc::SIGTERM) };
}
