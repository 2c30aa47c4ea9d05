//! A whole system behind angzarr-local for the delivery contracts: the
//! player and cashier aggregates, and the sagas, process manager, projector
//! and upcaster a scenario names, in process or served over gRPC on Unix
//! sockets; SQLite in the scenario's directory, so that a restart keeps
//! everything.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use angzarr_client::{ListenAddress, Server};
use angzarr_local::{
    DeliveryOptions, LocalCoordinator, LocalCoordinatorBuilder, SqliteStore, Subscription,
    REVOCATION_DOMAIN,
};
use examples::player::Player;
use tokio::sync::watch;

use crate::serving::{signal, Serving};

use crate::bank::{Audit, OldDeposits, Overdraw, Recorder, Welcome};
use crate::domains::{Cashier, Payout};

/// Which components a scenario runs.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub welcome: bool,
    pub overdraw: bool,
    pub audit: bool,
    pub ledger: bool,
    pub payout: bool,
    pub upcaster: bool,
    /// Served over gRPC (Unix sockets) instead of in process.
    pub remote: bool,
}

impl Components {
    /// Reads the names a step lists: `the welcome saga and the ledger projector`.
    pub fn named(text: &str) -> Components {
        let has = |name: &str| text.contains(name);
        let components = Components {
            welcome: has("welcome"),
            overdraw: has("overdraw"),
            audit: has("audit"),
            ledger: has("ledger"),
            payout: has("payout"),
            upcaster: has("upcaster"),
            remote: false,
        };
        assert!(
            text.split(&[',', ' '][..])
                .filter(|word| !word.is_empty())
                .all(|word| {
                    [
                        "the",
                        "and",
                        "saga",
                        "process",
                        "manager",
                        "projector",
                        "upcaster",
                        "welcome",
                        "overdraw",
                        "audit",
                        "ledger",
                        "payout",
                        "old-deposit",
                    ]
                    .contains(&word)
                }),
            "unknown component in {text:?}"
        );
        components
    }
}

/// A running system. Dropping it stops its servers and removes its files.
pub struct System {
    pub components: Components,
    pub local: Serving,
    pub store: Arc<SqliteStore>,
    pub ledger: Recorder,
    dir: PathBuf,
    components_stop: Option<watch::Sender<()>>,
}

impl System {
    pub async fn start(components: Components) -> System {
        static SYSTEMS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "azl-sys-{}-{}",
            std::process::id(),
            SYSTEMS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("the scenario's directory");
        let store = Arc::new(SqliteStore::open(dir.join("events.db")).expect("SQLite"));
        let ledger = Recorder::new("ledger");
        let components_stop = if components.remote {
            Some(Self::serve_components(&components, &dir, &ledger).await)
        } else {
            None
        };
        let local = Self::serve(&components, &dir, &store, &ledger).await;
        System {
            components,
            local,
            store,
            ledger,
            dir,
            components_stop,
        }
    }

    fn socket(dir: &std::path::Path, name: &str) -> String {
        format!("unix:{}", dir.join(format!("{name}.sock")).display())
    }

    /// The sagas, process manager and projector as gRPC servers on Unix sockets.
    async fn serve_components(
        components: &Components,
        dir: &std::path::Path,
        ledger: &Recorder,
    ) -> watch::Sender<()> {
        let (stop, _) = watch::channel(());
        let mut server = Server::new();
        for (on, name) in [
            (components.welcome, "welcome"),
            (components.overdraw, "overdraw"),
            (components.audit, "audit"),
            (components.payout, "payout"),
        ] {
            if !on {
                continue;
            }
            server = match name {
                "welcome" => server.saga(Welcome),
                "overdraw" => server.saga(Overdraw),
                "audit" => server.process_manager(Audit),
                _ => server.saga(Payout),
            }
            .listen_component(name, ListenAddress::Unix(dir.join(format!("{name}.sock"))));
        }
        if components.ledger {
            server = server.service(ledger.clone().into_server());
        }
        let bound = server
            .listen(ListenAddress::Unix(dir.join("ledger.sock")))
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(signal(&stop))
            .bind()
            .await
            .unwrap_or_else(|error| panic!("the components serve: {error}"));
        tokio::spawn(bound.serve());
        stop
    }

    fn register(
        mut builder: LocalCoordinatorBuilder,
        components: &Components,
        dir: &std::path::Path,
        ledger: &Recorder,
    ) -> LocalCoordinatorBuilder {
        let ledger_subscriptions = vec![
            Subscription::domain("player"),
            Subscription::domain("cashier"),
            Subscription::domain("audit"),
            Subscription::domain(REVOCATION_DOMAIN),
        ];
        if components.remote {
            let saga = |builder: LocalCoordinatorBuilder, name: &str, source: &str| {
                builder
                    .saga_endpoint(name, source, &Self::socket(dir, name))
                    .expect("a saga endpoint")
            };
            if components.welcome {
                builder = saga(builder, "welcome", "player");
            }
            if components.overdraw {
                builder = saga(builder, "overdraw", "player");
            }
            if components.payout {
                builder = saga(builder, "payout", "cashier");
            }
            if components.audit {
                builder = builder
                    .process_manager_endpoint(
                        "audit",
                        &[Subscription::domain("player")],
                        &Self::socket(dir, "audit"),
                    )
                    .expect("a process manager endpoint");
            }
            if components.ledger {
                builder = builder
                    .projector_endpoint(
                        "ledger",
                        &ledger_subscriptions,
                        &Self::socket(dir, "ledger"),
                    )
                    .expect("a projector endpoint");
            }
        } else {
            if components.welcome {
                builder = builder.saga(Welcome);
            }
            if components.overdraw {
                builder = builder.saga(Overdraw);
            }
            if components.payout {
                builder = builder.saga(Payout);
            }
            if components.audit {
                builder = builder.process_manager(Audit);
            }
            if components.ledger {
                builder =
                    builder.projector_logic("ledger", Ok(ledger_subscriptions), ledger.clone());
            }
        }
        if components.upcaster {
            builder = builder.upcaster_logic("player", OldDeposits);
        }
        builder
    }

    /// angzarr-local with the domains and `components`, on `store`.
    async fn serve(
        components: &Components,
        dir: &std::path::Path,
        store: &Arc<SqliteStore>,
        ledger: &Recorder,
    ) -> Serving {
        let builder = LocalCoordinator::builder()
            .store(Arc::clone(store))
            .domain_aggregate(Player)
            .domain_aggregate(Cashier)
            .delivery_options(DeliveryOptions {
                retry_initial: std::time::Duration::from_millis(5),
                retry_max: std::time::Duration::from_millis(50),
                ..DeliveryOptions::default()
            });
        let local = Self::register(builder, components, dir, ledger)
            .try_build()
            .expect("the system builds");
        Serving::start(local).await
    }

    /// Stops angzarr-local and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.local.stop();
        self.local = Self::serve(&self.components, &self.dir, &self.store, &self.ledger).await;
    }

    /// Waits until every consumer has processed every book written so far.
    pub async fn settled(&self) {
        self.local.settled().await;
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.local.stop();
        if let Some(stop) = &self.components_stop {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
