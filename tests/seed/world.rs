//! The world every seed scenario runs in: angzarr-local on a loopback port
//! (SQLite in the scenario's own directory) in front of the domains the
//! scenarios name, and what the scenario's steps have built and seen.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use angzarr_client::proto::{CommandBook, CommandResponse, EventBook, EventPage};
use angzarr_client::{ClientError, DomainClient, ListenAddress};
use angzarr_local::{Coordinator, LocalCoordinator, SqliteStore};
use tokio::sync::watch;

use crate::domains::{
    Counter, Fulfillment, Inventory, InventoryOrder, OrderSummaries, OrderWorkflow, Orders, Probe,
    Set, Slow,
};
use crate::poker::{HandPlayer, Hands, LostFacts, SeatFacts};

/// Which components beside the aggregates a scenario's backend runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Components {
    /// The `order-fulfillment` saga (orders → inventory).
    pub saga: bool,
    /// The `inventory-order` saga (inventory → orders), which makes a
    /// chain of the two.
    pub chain: bool,
    /// The `order-summary` projector on orders.
    pub projector: bool,
    /// The `order-workflow` process manager (orders, inventory → orders).
    pub process_manager: bool,
    /// The poker facts: the `hand-player` saga and the seat facts saga.
    pub facts: bool,
    /// A saga recording facts on a domain nobody serves.
    pub lost_facts: bool,
}

/// One scenario's angzarr-local. Dropping it stops the server and removes
/// its files.
pub struct Backend {
    /// Where clients reach it: a forwarder in front of the coordinator's
    /// own port, which counts connections and can go away and come back.
    pub address: SocketAddr,
    internal: SocketAddr,
    front: Front,
    /// A client of it, over loopback TCP.
    pub client: DomainClient,
    /// The coordinator itself, to wait for delivery.
    pub coordinator: Arc<Coordinator>,
    /// What the order-summary projector wrote outside itself.
    pub summaries: OrderSummaries,
    /// The scenario's directory.
    pub dir: PathBuf,
    /// A second handle on the coordinator's database, for histories the
    /// API cannot write (old timestamps, snapshots).
    pub store: SqliteStore,
    _stop: watch::Sender<()>,
}

/// A fresh directory for one scenario's files.
pub fn scenario_dir() -> PathBuf {
    static SCENARIOS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "angzarr-seed-{}-{}",
        std::process::id(),
        SCENARIOS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create the scenario's directory");
    dir
}

impl Backend {
    /// Starts angzarr-local with every aggregate the scenarios name, and the
    /// components `with` asks for.
    pub async fn start(with: Components) -> Backend {
        let dir = scenario_dir();
        let (stop, stopped) = watch::channel(());
        let summaries = OrderSummaries::default();
        let mut builder = LocalCoordinator::builder()
            .store(SqliteStore::open(dir.join("events.db")).expect("open SQLite"))
            .domain_aggregate(Orders)
            .domain_aggregate(Inventory)
            .domain_aggregate(Counter)
            .domain_aggregate(Set)
            .domain_aggregate(Probe)
            .domain_aggregate(Slow)
            .domain_aggregate(examples::player::Player)
            .domain_aggregate(examples::table::Table)
            .domain_aggregate(Hands);
        if with.saga {
            builder = builder.saga(Fulfillment);
        }
        if with.chain {
            builder = builder.saga(InventoryOrder);
        }
        if with.projector {
            builder = builder.projector(summaries.clone());
        }
        if with.process_manager {
            builder = builder.process_manager(OrderWorkflow);
        }
        if with.facts {
            builder = builder.saga(HandPlayer).saga(SeatFacts);
        }
        if with.lost_facts {
            builder = builder.saga(LostFacts);
        }
        let local = builder.try_build().expect("the coordinator builds");
        let coordinator = Arc::clone(local.coordinator());
        let mut stopped = stopped.clone();
        let bound = local
            .bind(ListenAddress::loopback(0), async move {
                let _ = stopped.changed().await;
            })
            .await
            .expect("bind a loopback port");
        let internal = bound.local_address().tcp().expect("a TCP address");
        tokio::spawn(bound.serve());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the front");
        let address = listener.local_addr().expect("an address");
        let front = Front::start(listener, internal);
        let client = DomainClient::connect(&address.to_string())
            .await
            .expect("connect to angzarr-local");
        Backend {
            address,
            internal,
            front,
            client,
            coordinator,
            summaries,
            store: SqliteStore::open(dir.join("events.db")).expect("open SQLite again"),
            dir,
            _stop: stop,
        }
    }

    /// Takes the server away: its port refuses connections and every open
    /// connection is cut.
    pub async fn stop(&mut self) {
        self.front.tasks.abort_all();
        while self.front.tasks.join_next().await.is_some() {}
        assert!(tokio::net::TcpStream::connect(self.address).await.is_err());
    }

    /// Brings the server back on its port.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address)
            .await
            .expect("bind the port again");
        self.front = Front::start(listener, self.internal);
    }

    /// How many connections clients have opened to the server.
    pub fn connections(&self) -> usize {
        self.front.accepted.load(Ordering::Relaxed)
    }

    /// How many bytes clients have sent the server.
    pub fn bytes_from_clients(&self) -> usize {
        self.front.sent.load(Ordering::Relaxed)
    }

    /// Stores `pages` (and `snapshot`) on the main timeline of
    /// `domain`/`root` directly, as an older writer left them.
    pub fn write(
        &self,
        domain: &str,
        root: uuid::Uuid,
        pages: &[EventPage],
        snapshot: Option<&angzarr_client::proto::Snapshot>,
    ) {
        use angzarr_local::store::{Append, EventStore as _};
        let key = angzarr_local::AggregateKey {
            domain: domain.into(),
            edition: angzarr_client::proto::DEFAULT_EDITION.into(),
            root,
        };
        self.store
            .append(&Append {
                key: &key,
                at: pages
                    .first()
                    .and_then(EventPage::sequence)
                    .unwrap_or_default(),
                pages,
                snapshot,
                correlation_id: "",
                fact: None,
                publish: None,
                outcome: None,
            })
            .expect("the pages are stored");
    }

    /// Waits until every consumer has processed every book written so far.
    pub async fn settled(&self) {
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.coordinator.settled(),
        )
        .await
        .expect("delivery settles")
        .expect("the store answers");
    }
}

/// Forwards loopback connections to the coordinator, counting them and
/// the bytes clients send.
struct Front {
    accepted: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
    tasks: tokio::task::JoinSet<()>,
}

impl Front {
    fn start(listener: tokio::net::TcpListener, to: SocketAddr) -> Front {
        let (accepted, sent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = tokio::task::JoinSet::new();
        let (count, bytes) = (Arc::clone(&accepted), Arc::clone(&sent));
        tasks.spawn(async move {
            // Cutting this task drops every connection with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                connections.spawn(forward(client, to, Arc::clone(&bytes)));
            }
        });
        Front {
            accepted,
            sent,
            tasks,
        }
    }
}

/// Copies one connection both ways, counting what the client sends.
async fn forward(client: tokio::net::TcpStream, to: SocketAddr, sent: Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(server) = tokio::net::TcpStream::connect(to).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upstream = async move {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(read) = from_client.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            sent.fetch_add(read, Ordering::Relaxed);
            if to_server.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a seed scenario has set up and seen.
#[derive(Default, cucumber::World)]
pub struct Seed {
    /// The backend, started on first use with [`Seed::components`].
    pub backend: Option<Backend>,
    /// What the backend runs beside the aggregates.
    pub components: Components,
    /// Aggregate roots by the names the scenario gives them.
    pub roots: HashMap<String, uuid::Uuid>,
    /// The domain and root name the scenario is about.
    pub subject: Option<(String, String)>,
    /// The sequence the scenario's next command expects.
    pub sequence: u32,
    /// The last command's answer.
    pub outcome: Option<Result<CommandResponse, ClientError>>,
    /// The last failure of any other call.
    pub failure: Option<ClientError>,
    /// Commands built, or why building failed.
    pub built: Vec<Result<CommandBook, ClientError>>,
    /// The last book read.
    pub book: Option<EventBook>,
    /// Books read in turn.
    pub books: Vec<EventBook>,
    /// Pages under test (events given to decode or to build state from).
    pub pages: Vec<EventPage>,
    /// A client the scenario connected itself.
    pub connected: Option<DomainClient>,
    /// Errors the scenario collected to compare.
    pub errors: Vec<(String, ClientError)>,
    /// Free-form notes a step leaves for the next: the endpoint asked for,
    /// a variable name, a payload, ...
    pub notes: HashMap<&'static str, String>,
    /// What runtimes answered, by name.
    pub answers: Vec<String>,
    /// Counters a step compares later (events stored before, ...).
    pub counts: HashMap<&'static str, usize>,
    /// A channel the scenario opened itself.
    pub channel: Option<tonic::transport::Channel>,
    /// Clients the scenario made itself.
    pub queries: Option<angzarr_client::QueryClient>,
    pub aggregates: Option<angzarr_client::AggregateClient>,
    pub speculative: Option<angzarr_client::SpeculativeClient>,
    pub all: Option<angzarr_client::Client>,
    /// An event decoded (its debug form), none for another type, or why it
    /// failed to decode.
    pub decoded: Option<Result<Option<String>, String>>,
    /// Events decoded one by one.
    pub decoded_each: Vec<Option<String>>,
    /// Whether each event matched a type name.
    pub matched: Vec<bool>,
    /// State a runtime built, or why it could not.
    pub state: Option<Result<crate::domains::Order, String>>,
    /// A state the scenario held before building another.
    pub existing: Option<crate::domains::Order>,
    /// A book as it was before a step used it.
    pub original: Option<EventBook>,
    /// A counter's state and the increments applied to it.
    pub count: Option<crate::domains::Count>,
    pub increments: Vec<i64>,
    /// What a router answered (its debug form), or why it failed.
    pub router: Option<Result<String, String>>,
    /// Commands to send together, with the sequence each expects.
    pub concurrent: Vec<(prost_types::Any, u32)>,
    /// Commands named by a table, with the merge strategy of each.
    pub mixed: Vec<(String, String)>,
    /// Answers to those commands, by name.
    pub named_results: Vec<(String, Result<CommandResponse, ClientError>)>,
    /// A projector's dry run.
    pub projection: Option<Result<angzarr_client::proto::Projection, ClientError>>,
    /// A saga's dry run.
    pub saga: Option<Result<angzarr_client::proto::SagaResponse, ClientError>>,
    /// A process manager's answer.
    pub pm: Option<angzarr_client::proto::ProcessManagerHandleResponse>,
    /// A refused command, and the one that led to it in a chain.
    pub rejected: Option<CommandBook>,
    pub outer: Option<CommandBook>,
    /// A compensation context, and what was built from it.
    pub compensation: Option<angzarr_client::CompensationContext>,
    pub rejection: Option<(
        angzarr_client::proto::RejectionNotification,
        angzarr_client::proto::Notification,
    )>,
    pub notification: Option<angzarr_client::proto::Notification>,
    /// What the recording routers were called with, in order.
    pub calls: Arc<std::sync::Mutex<Vec<String>>>,
    /// A coordinator a step built for itself.
    pub local: Option<LocalCoordinator>,
    /// The last command sent, to send again.
    pub command: Option<prost_types::Any>,
    /// The recording stand-in for a coordinator (the seed's "mock" clients).
    pub fake: Option<angzarr_client::testing::FakeCoordinator>,
    /// A command builder under construction.
    pub builder: Option<angzarr_client::CommandBuilder>,
    /// The type a step named for the command under construction.
    pub command_type: Option<String>,
    /// A query builder under construction.
    pub query_builder: Option<angzarr_client::QueryBuilder>,
    /// Answers to commands sent together.
    pub results: Vec<Result<CommandResponse, ClientError>>,
}

impl Seed {
    /// The backend, started now if no step started it yet.
    pub async fn backend(&mut self) -> &Backend {
        if self.backend.is_none() {
            self.backend = Some(Backend::start(self.components).await);
        }
        self.backend.as_ref().expect("started above")
    }

    /// Runs the backend with other components: restarts it on a fresh
    /// database, so the steps after this one see nothing written before.
    pub fn with_components(&mut self, change: impl FnOnce(&mut Components)) {
        change(&mut self.components);
        self.backend = None;
    }

    /// Brings the stopped backend back on `address`.
    pub async fn restart_on(&mut self, address: SocketAddr) {
        let backend = self.backend.as_mut().expect("a backend");
        assert_eq!(backend.address, address);
        backend.restart().await;
    }

    /// A client of the backend on a connection of its own, with `options`.
    pub async fn connect_with(&mut self, options: angzarr_client::ConnectOptions) -> DomainClient {
        let address = self.backend().await.address;
        let target = angzarr_client::Target::parse(&address.to_string()).expect("a valid address");
        DomainClient::connect_with(&target, &options)
            .await
            .expect("connect to angzarr-local")
    }

    /// Every aggregate the backend holds.
    pub async fn stored_roots(&mut self) -> Vec<angzarr_client::proto::AggregateRoot> {
        self.client()
            .await
            .queries()
            .aggregate_roots()
            .await
            .expect("the backend lists its aggregates")
    }

    /// A client of the backend.
    pub async fn client(&mut self) -> DomainClient {
        self.backend().await.client.clone()
    }

    /// The root named `name`: the UUID itself when it is one, otherwise one
    /// made up on first mention.
    pub fn root(&mut self, name: &str) -> uuid::Uuid {
        if let Ok(uuid) = uuid::Uuid::parse_str(name) {
            return uuid;
        }
        *self
            .roots
            .entry(name.to_owned())
            .or_insert_with(uuid::Uuid::new_v4)
    }

    /// The domain and root of the scenario's subject.
    pub fn subject(&mut self) -> (String, uuid::Uuid) {
        let (domain, name) = self
            .subject
            .clone()
            .expect("no aggregate yet: a step must name one");
        let root = self.root(&name);
        (domain, root)
    }

    /// The last command's answer, which must be a success.
    pub fn response(&self) -> &CommandResponse {
        match &self.outcome {
            Some(Ok(response)) => response,
            Some(Err(error)) => panic!("the command failed: {error} ({error:?})"),
            None => panic!("no command was sent"),
        }
    }

    /// The last command's failure, which must be one.
    pub fn command_error(&self) -> &ClientError {
        match &self.outcome {
            Some(Err(error)) => error,
            Some(Ok(response)) => panic!("the command succeeded: {response:?}"),
            None => panic!("no command was sent"),
        }
    }

    /// The last failure of any call: a command's, else another call's.
    pub fn error(&self) -> &ClientError {
        match (&self.outcome, &self.failure) {
            (_, Some(error)) | (Some(Err(error)), None) => error,
            _ => panic!("nothing failed"),
        }
    }

    /// Records a call's result, keeping its failure.
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

    /// A note a previous step left.
    pub fn note(&self, key: &'static str) -> &str {
        self.notes
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no step recorded {key}"))
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("roots", &self.roots)
            .field("subject", &self.subject)
            .field("outcome", &self.outcome)
            .field("failure", &self.failure)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}
