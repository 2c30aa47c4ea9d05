//! The poker system behind angzarr-local for the poker contracts: the player
//! (with its upcaster) and table aggregates, the buy-in process manager, both
//! sagas and both projectors, each served over gRPC on a Unix socket of the
//! scenario's directory; SQLite for the events and the read model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use angzarr_client::{ListenAddress, Server};
use angzarr_local::{DeliveryOptions, LocalCoordinator, SqliteStore, Subscription};
use examples::buy_in::BuyIn;
use examples::feed::PokerEvents;
use examples::player::Player;
use examples::sagas::{PlayerTableSaga, TablePlayerSaga};
use examples::seating::Seating;
use examples::table::Table;
use examples::upcaster::PlayerUpcaster;
use tokio::sync::watch;

use crate::serving::{signal, Serving};

/// A running poker system. Dropping it stops everything and removes its files.
pub struct Poker {
    pub local: Serving,
    pub store: Arc<SqliteStore>,
    dir: PathBuf,
    components: watch::Sender<()>,
}

fn socket(dir: &Path, name: &str) -> ListenAddress {
    ListenAddress::Unix(dir.join(format!("{name}.sock")))
}

fn endpoint(dir: &Path, name: &str) -> String {
    format!("unix:{}", dir.join(format!("{name}.sock")).display())
}

impl Poker {
    pub async fn start() -> Poker {
        static SYSTEMS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "azl-poker-{}-{}",
            std::process::id(),
            SYSTEMS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("the scenario's directory");
        let (components, _) = watch::channel(());
        let seating = Seating::open(dir.join("seating.db")).expect("the read model opens");
        let bound = Server::new()
            .aggregate(Player)
            .upcaster(PlayerUpcaster)
            .listen_component("player", socket(&dir, "player"))
            .listen_component(
                angzarr_client::Upcaster::name(&PlayerUpcaster).to_owned(),
                socket(&dir, "player"),
            )
            .aggregate(Table)
            .listen_component("table", socket(&dir, "table"))
            .process_manager(BuyIn)
            .listen_component("buy-in", socket(&dir, "buy-in"))
            .saga(TablePlayerSaga)
            .listen_component("saga-table-player", socket(&dir, "saga-table-player"))
            .saga(PlayerTableSaga)
            .listen_component("saga-player-table", socket(&dir, "saga-player-table"))
            .projector(seating)
            .listen_component("table-seating", socket(&dir, "table-seating"))
            .projector(PokerEvents)
            .listen_component("poker-events", socket(&dir, "poker-events"))
            .listen(socket(&dir, "default"))
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(signal(&components))
            .bind()
            .await
            .unwrap_or_else(|error| panic!("the poker components serve: {error}"));
        tokio::spawn(bound.serve());
        let store = Arc::new(SqliteStore::open(dir.join("events.db")).expect("SQLite"));
        let local = Self::serve(&dir, &store).await;
        Poker {
            local,
            store,
            dir,
            components,
        }
    }

    /// angzarr-local with every component, on `store`.
    async fn serve(dir: &Path, store: &Arc<SqliteStore>) -> Serving {
        let e = |name| endpoint(dir, name);
        let local = LocalCoordinator::builder()
            .store(Arc::clone(store))
            .delivery_options(DeliveryOptions {
                retry_initial: std::time::Duration::from_millis(5),
                retry_max: std::time::Duration::from_millis(50),
                ..DeliveryOptions::default()
            })
            .domain_endpoint("player", &e("player"))
            .and_then(|b| b.upcaster_endpoint("player", &e("player")))
            .and_then(|b| b.domain_endpoint("table", &e("table")))
            .and_then(|b| {
                b.process_manager_endpoint(
                    "buy-in",
                    &Subscription::parse_listed("player;table").expect("subscriptions"),
                    &e("buy-in"),
                )
            })
            .and_then(|b| b.saga_endpoint("saga-table-player", "table", &e("saga-table-player")))
            .and_then(|b| b.saga_endpoint("saga-player-table", "player", &e("saga-player-table")))
            .and_then(|b| {
                b.projector_endpoint(
                    "table-seating",
                    &[Subscription::domain("table")],
                    &e("table-seating"),
                )
            })
            .and_then(|b| {
                b.projector_endpoint(
                    "poker-events",
                    &Subscription::parse_listed("player,table").expect("subscriptions"),
                    &e("poker-events"),
                )
            })
            .and_then(|b| b.try_build())
            .expect("the poker system builds");
        Serving::start(local).await
    }

    /// Stops angzarr-local and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.local.stop();
        self.local = Self::serve(&self.dir, &self.store).await;
    }

    /// Waits until every consumer has processed every book written so far.
    pub async fn settled(&self) {
        self.local.settled().await;
    }

    /// Where the component `name` is served.
    pub fn endpoint(&self, name: &str) -> String {
        endpoint(&self.dir, name)
    }

    /// The read model, as `table-seating` keeps it.
    pub fn seating(&self) -> Seating {
        Seating::open(self.dir.join("seating.db")).expect("the read model opens")
    }
}

impl Drop for Poker {
    fn drop(&mut self) {
        self.local.stop();
        let _ = self.components.send(());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
