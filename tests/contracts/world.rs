//! The world every scenario runs in: a real angzarr-local in front of real
//! aggregate servers on loopback, and what the scenario's steps have seen.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_client::proto::{
    AggregateRoot, BusinessResponse, CommandBook, CommandResponse, EventBook, EventPage, Query,
};
use angzarr_client::{ClientError, DomainClient, ListenAddress, Server};
use angzarr_local::{LocalCoordinator, SqliteStore};
use examples::player::Player;
use tokio::sync::watch;

use crate::domains::{Cashier, Slow};

/// Where the coordinator listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A free loopback TCP port.
    Tcp,
    /// A Unix socket in the scenario's directory.
    Unix,
}

/// One scenario's servers. Dropping it stops them and removes its files.
pub struct Environment {
    /// The coordinator's TCP address (`Transport::Tcp`).
    pub address: Option<SocketAddr>,
    /// The coordinator's socket (`Transport::Unix`).
    pub socket: Option<PathBuf>,
    /// The player aggregate's own gRPC server.
    pub player: SocketAddr,
    /// A client of the coordinator.
    pub client: DomainClient,
    dir: PathBuf,
    stop: Option<watch::Sender<()>>,
}

impl Environment {
    /// Starts the player and cashier aggregates as gRPC servers, and
    /// angzarr-local (SQLite in a fresh directory) routing `player` and
    /// `cashier` to them over loopback and `slow` to an in-process aggregate.
    pub async fn start(transport: Transport) -> Environment {
        static SCENARIOS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "angzarr-contracts-{}-{}",
            std::process::id(),
            SCENARIOS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the scenario's directory");
        let (stop, stopped) = watch::channel(());
        let signal = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.changed().await;
            }
        };

        let player = serve_aggregate(Player, signal()).await;
        let cashier = serve_aggregate(Cashier, signal()).await;
        let coordinator = LocalCoordinator::builder()
            .store(SqliteStore::open(dir.join("events.db")).expect("open SQLite"))
            .domain_endpoint("player", &format!("http://{player}"))
            .expect("the player endpoint is valid")
            .domain_endpoint("cashier", &format!("http://{cashier}"))
            .expect("the cashier endpoint is valid")
            .domain_aggregate(Slow)
            .try_build()
            .expect("the coordinator builds");

        let (address, socket, endpoint) = match transport {
            Transport::Tcp => {
                let bound = coordinator
                    .bind(ListenAddress::loopback(0), signal())
                    .await
                    .expect("bind a loopback port");
                let address = bound.local_address().tcp().expect("a TCP address");
                tokio::spawn(bound.serve());
                (Some(address), None, address.to_string())
            }
            Transport::Unix => {
                let path = dir.join("coordinator.sock");
                let bound = coordinator
                    .bind(ListenAddress::Unix(path.clone()), signal())
                    .await
                    .expect("bind the coordinator's socket");
                tokio::spawn(bound.serve());
                let endpoint = format!("unix:{}", path.display());
                (None, Some(path), endpoint)
            }
        };
        let client = DomainClient::connect(&endpoint)
            .await
            .expect("connect to angzarr-local");
        Environment {
            address,
            socket,
            player,
            client,
            dir,
            stop: Some(stop),
        }
    }

    /// Stops every server of the scenario and waits until the coordinator's
    /// port refuses connections.
    pub async fn stop(&mut self) {
        self.stop = None;
        let address = self.tcp_address();
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(address).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("angzarr-local still accepts connections on {address} five seconds after stopping");
    }

    /// The coordinator's TCP address; the scenario must have started it on TCP.
    pub fn tcp_address(&self) -> SocketAddr {
        self.address
            .expect("angzarr-local listens on a Unix socket in this scenario")
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve_aggregate<A: angzarr_client::Aggregate>(
    aggregate: A,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> SocketAddr {
    let bound = Server::new()
        .aggregate(aggregate)
        .listen(ListenAddress::Tcp(([127, 0, 0, 1], 0).into()))
        .shutdown_drain(std::time::Duration::ZERO)
        .shutdown_signal(stop)
        .bind()
        .await
        .expect("bind the aggregate server");
    let ListenAddress::Tcp(address) = bound.local_address().clone() else {
        unreachable!("bound to a TCP address")
    };
    tokio::spawn(bound.serve());
    address
}

/// An event decoded as the type a step asked for.
#[derive(Debug)]
pub enum Read {
    /// Read as `examples.PlayerRegistered`.
    Registered(examples::proto::PlayerRegistered),
    /// Read as `examples.FundsDeposited` (the checks need nothing from it).
    Deposited,
}

/// What a scenario has set up and seen.
#[derive(Default, cucumber::World)]
pub struct Contracts {
    /// The servers, once a step started them.
    pub env: Option<Environment>,
    /// A whole system (sagas, process manager, projector), for the delivery
    /// contracts.
    pub system: Option<crate::system::System>,
    /// The poker system, for its contracts.
    pub poker: Option<crate::poker::Poker>,
    /// The answer to the last fact sent with a sync mode.
    pub fact_answer: Option<angzarr_client::proto::FactInjectionResponse>,
    /// Dealer, small and big blind of each hand played.
    pub hands: Vec<(i32, i32, i32)>,
    /// Aggregate roots by the names the scenario gives them.
    pub roots: HashMap<String, uuid::Uuid>,
    /// A client the scenario connected itself, as opposed to the environment's.
    pub connected: Option<DomainClient>,
    /// The last step's failure, if it failed.
    pub failure: Option<ClientError>,
    /// The last command's answer.
    pub outcome: Option<CommandResponse>,
    /// Command books built without sending them.
    pub built: Vec<CommandBook>,
    /// The last query built.
    pub query: Option<Query>,
    /// Books a query answered.
    pub books: Vec<EventBook>,
    /// Pages a query answered.
    pub pages: Vec<EventPage>,
    /// Aggregates listed by the query client.
    pub aggregate_roots: Vec<AggregateRoot>,
    /// History handed straight to an aggregate server.
    pub history: EventBook,
    /// An aggregate server's own answer to that history.
    pub handled: Option<Result<BusinessResponse, tonic::Status>>,
    /// A coordinator's answer to a compensation.
    pub compensation: Option<BusinessResponse>,
    /// Answers to facts, in delivery order: whether each was already processed.
    pub facts: Vec<bool>,
    /// A loopback address nothing listens on.
    pub closed: Option<SocketAddr>,
    /// The amounts of decoded deposits, or why each failed to decode.
    pub decoded: Vec<Result<i64, String>>,
    /// An event read as a chosen type, or why it could not be.
    pub read: Option<Result<Read, String>>,
    /// A command another domain refused, and its reason.
    pub refused: Option<(CommandBook, String)>,
    /// The last amount a cashier paid out.
    pub payout: i64,
    /// Answers to deferred commands, in order.
    pub deferred: Vec<CommandResponse>,
    /// The gate holding the ledger projector's calls, when closed.
    pub gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

impl Contracts {
    /// The client of the running coordinator.
    pub fn client(&self) -> &DomainClient {
        match (&self.system, &self.poker) {
            (Some(system), _) => &system.local.client,
            (None, Some(poker)) => &poker.local.client,
            (None, None) => &self.env().client,
        }
    }

    /// Waits until the running system's consumers have caught up.
    pub async fn settle(&self) {
        match (&self.system, &self.poker) {
            (Some(system), _) => system.settled().await,
            (None, Some(poker)) => poker.settled().await,
            (None, None) => panic!("no system is running"),
        }
    }

    /// The running system.
    pub fn system(&self) -> &crate::system::System {
        self.system.as_ref().expect(
            "no system yet: start with `Given angzarr-local runs the player aggregate with ...`",
        )
    }

    /// The running environment.
    pub fn env(&self) -> &Environment {
        self.env.as_ref().expect(
            "no coordinator yet: start with `Given angzarr-local is serving the player domain`",
        )
    }

    /// The root named `name`, made up on first mention.
    pub fn root(&mut self, name: &str) -> uuid::Uuid {
        *self
            .roots
            .entry(name.to_owned())
            .or_insert_with(uuid::Uuid::new_v4)
    }

    /// The last command's answer, which must be a success.
    pub fn response(&self) -> &CommandResponse {
        match (&self.outcome, &self.failure) {
            (Some(response), None) => response,
            (_, Some(error)) => panic!("the step failed: {error} ({error:?})"),
            (None, None) => panic!("no command was sent"),
        }
    }

    /// Records the result of a step that can fail.
    pub fn record<T>(&mut self, result: Result<T, ClientError>) -> Option<T> {
        match result {
            Ok(value) => {
                self.failure = None;
                Some(value)
            }
            Err(error) => {
                self.failure = Some(error);
                None
            }
        }
    }

    /// Records a command's answer.
    pub fn record_command(&mut self, result: Result<CommandResponse, ClientError>) {
        self.outcome = self.record(result);
    }

    /// The last step's failure; the step must have failed.
    pub fn error(&self) -> &ClientError {
        match &self.failure {
            Some(error) => error,
            None => panic!("the step succeeded; the last answer was {:?}", self.outcome),
        }
    }
}

impl fmt::Debug for Contracts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contracts")
            .field("roots", &self.roots)
            .field("outcome", &self.outcome)
            .field("failure", &self.failure)
            .field("pages", &self.pages)
            .field("handled", &self.handled)
            .finish_non_exhaustive()
    }
}
