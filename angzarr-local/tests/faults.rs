//! Fault injection: angzarr-local runs a random system under a random
//! workload while its components hang past the deadline, answer
//! UNAVAILABLE, panic, reject and refuse some books for good, and the
//! process is aborted at random points (between component calls, and before
//! each statement of an append) and restarted on the same database. After
//! each run the invariants are checked from the stored data alone:
//!
//! - every timeline runs 0..n with no gap and no duplicate;
//! - every command the saga emitted ran exactly once, or was rejected and
//!   compensated exactly once, or its source book is a dead letter of the
//!   saga (then at most once);
//! - the process manager closed each account at most once, and exactly once
//!   when it saw four records and none of its books is a dead letter;
//! - the projection holds exactly the stored events minus the projector's
//!   dead letters, and every gap it saw in a book's order is one of them.
//!
//! `cargo test -p angzarr-local --test faults` runs 200 seeds;
//! `-- --seeds 1000` runs more, `-- --seed 17` runs one. A seed fixes the
//! system, the workload, the faults and the abort points; which call meets
//! which fault depends on what the call carries, not on timing, but the
//! interleaving of concurrent deliveries does, so a failure can take a few
//! runs of its seed to come back. A failed run keeps its databases and each
//! incarnation's stderr (`node-N.log`) and prints where.
//!
//! To narrow a failure down: `FAULTS_MODE=async|simple|cascade` (the sync
//! modes the workload uses), `FAULTS_NOCRASH=1` (no aborts but the one at
//! the end of each incarnation), `FAULTS_NOCOMP=1` (no COMPENSATE cascades),
//! `FAULTS_TRACE=1` with `RUST_LOG` (angzarr-local's log in `node-N.log`).

#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_client::proto::{
    AnyExt, BusinessResponse, CascadeErrorMode, ContextualCommand, EventBook, FactRequest,
    ProcessManagerHandleRequest, ProcessManagerHandleResponse, ProcessManagerPrepareRequest,
    ProcessManagerPrepareResponse, Projection, SagaHandleRequest, SagaResponse, SyncMode,
};
use angzarr_client::{
    aggregate, process_manager, saga, AggregateService, Command, PmOutput, ProcessManagerService,
    Rejection, SagaContext, SagaOutput, SagaService,
};
use angzarr_local::component::{AggregateLogic, ProcessManagerLogic, ProjectorLogic, SagaLogic};
use angzarr_local::{
    AggregateKey, DeadLetter, DeliveryOptions, EventStore, LocalCoordinator, SettleError,
    SqliteStore, Subscription,
};
use prost::Message;
use tonic::Status;

// ---- the system ----------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub struct Deposit {
    #[prost(uint64, tag = "1")]
    pub amount: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Deposited {
    #[prost(uint64, tag = "1")]
    pub amount: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Note {
    #[prost(uint32, tag = "1")]
    pub source_seq: u32,
    #[prost(uint32, tag = "2")]
    pub index: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Noted {
    #[prost(uint32, tag = "1")]
    pub source_seq: u32,
    #[prost(uint32, tag = "2")]
    pub index: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Record {
    #[prost(bytes = "vec", tag = "1")]
    pub account: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub source_seq: u32,
    #[prost(uint32, tag = "3")]
    pub index: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Recorded {
    #[prost(bytes = "vec", tag = "1")]
    pub account: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub source_seq: u32,
    #[prost(uint32, tag = "3")]
    pub index: u32,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Close {}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Closed {}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tracked {
    #[prost(bytes = "vec", tag = "1")]
    pub account: Vec<u8>,
}

macro_rules! named {
    ($($name:ident)*) => {$(
        impl prost::Name for $name {
            const NAME: &'static str = stringify!($name);
            const PACKAGE: &'static str = "faults";
        }
    )*};
}
named!(Deposit Deposited Note Noted Record Recorded Close Closed Tracked);

/// The business rule by which an account refuses a saga's note.
fn note_refused(source_seq: u32) -> bool {
    source_seq % 5 == 3
}

/// The business rule by which an audit refuses a record.
fn record_refused(source_seq: u32, index: u32) -> bool {
    (source_seq * 31 + index).is_multiple_of(7)
}

/// The audit trail of an account.
fn audit_of(account: uuid::Uuid) -> uuid::Uuid {
    uuid::Uuid::new_v5(&account, b"audit")
}

tokio::task_local! {
    /// Set when the fault plan says this call's handler panics.
    static PANIC: bool;
}

/// Panics inside a handler when the plan said so: the SDK's runtime turns
/// it into INTERNAL, as it does for any panicking business logic.
fn maybe_panic() {
    if PANIC.try_with(|panic| *panic).unwrap_or(false) {
        panic!("injected panic");
    }
}

#[derive(Default)]
pub struct Nothing;

pub struct Account;

#[aggregate(domain = "account", state = Nothing)]
impl Account {
    #[handles(Deposit)]
    fn deposit(&self, command: Deposit, _: &Nothing) -> Result<Deposited, Rejection> {
        maybe_panic();
        Ok(Deposited {
            amount: command.amount,
        })
    }

    #[handles(Note)]
    fn note(&self, command: Note, _: &Nothing) -> Result<Noted, Rejection> {
        maybe_panic();
        if note_refused(command.source_seq) {
            return Err(Rejection::precondition("this account takes no such note"));
        }
        Ok(Noted {
            source_seq: command.source_seq,
            index: command.index,
        })
    }

    #[handles(Close)]
    fn close(&self, _: Close, _: &Nothing) -> Result<Closed, Rejection> {
        maybe_panic();
        Ok(Closed {})
    }

    #[applies(Deposited)]
    fn deposited(_: &mut Nothing, _: &Deposited) {}

    #[applies(Noted)]
    fn noted(_: &mut Nothing, _: &Noted) {}

    #[applies(Closed)]
    fn closed(_: &mut Nothing, _: &Closed) {}
}

pub struct Audit;

#[aggregate(domain = "audit", state = Nothing)]
impl Audit {
    #[handles(Record)]
    fn record(&self, command: Record, _: &Nothing) -> Result<Recorded, Rejection> {
        maybe_panic();
        if record_refused(command.source_seq, command.index) {
            return Err(Rejection::precondition("the audit refuses this record"));
        }
        Ok(Recorded {
            account: command.account,
            source_seq: command.source_seq,
            index: command.index,
        })
    }

    #[applies(Recorded)]
    fn recorded(_: &mut Nothing, _: &Recorded) {}
}

/// Three commands per deposit: a note to the account itself, and two
/// records to one audit trail.
pub struct Fanout;

#[saga(name = "fanout", source = "account", targets = ["account", "audit"])]
impl Fanout {
    #[handles(Deposited)]
    fn fan_out(&self, _: &Deposited, ctx: &SagaContext) -> SagaOutput {
        maybe_panic();
        let account = ctx.root();
        let source_seq = ctx.sequence().unwrap_or_default();
        let record = |index| Record {
            account: account.as_bytes().to_vec(),
            source_seq,
            index,
        };
        SagaOutput::new()
            .command(Command::to(
                "account",
                account,
                Note {
                    source_seq,
                    index: 0,
                },
            ))
            .command(Command::to("audit", audit_of(account), record(1)))
            .command(Command::to("audit", audit_of(account), record(2)))
    }
}

#[derive(Default)]
pub struct Tally {
    pub records: u32,
}

/// Closes an account once its audit trail holds four records.
pub struct Tracker;

#[process_manager(name = "tracker", sources = ["audit"], targets = ["account"], state = Tally)]
impl Tracker {
    #[handles(Recorded)]
    fn recorded(&self, event: &Recorded, state: &Tally) -> PmOutput {
        maybe_panic();
        let output = PmOutput::new().event(Tracked {
            account: event.account.clone(),
        });
        match uuid::Uuid::from_slice(&event.account) {
            Ok(account) if state.records == 3 => {
                output.command(Command::to("account", account, Close {}))
            }
            _ => output,
        }
    }

    #[applies(Tracked)]
    fn tracked(state: &mut Tally, _: &Tracked) {
        state.records += 1;
    }
}

/// Every event of `account` and `audit`, applied once each in a SQLite
/// file of its own, with every gap it met in a timeline's order.
struct Totals {
    db: Mutex<rusqlite::Connection>,
}

impl Totals {
    fn open(path: &Path) -> Self {
        let db = rusqlite::Connection::open(path).expect("projection db");
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS applied (domain TEXT, root BLOB, sequence INTEGER,
                 PRIMARY KEY (domain, root, sequence));
             CREATE TABLE IF NOT EXISTS gaps (domain TEXT, root BLOB, expected INTEGER, got INTEGER);",
        )
        .expect("projection schema");
        Totals { db: Mutex::new(db) }
    }

    fn apply(&self, book: &EventBook) -> Result<(), rusqlite::Error> {
        let domain = book.domain().to_owned();
        let root = book.root_uuid().unwrap_or_default().as_bytes().to_vec();
        let mut db = self
            .db
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let transaction = db.transaction()?;
        let last: Option<i64> = transaction.query_row(
            "SELECT MAX(sequence) FROM applied WHERE domain = ?1 AND root = ?2",
            rusqlite::params![domain, root],
            |row| row.get(0),
        )?;
        let mut next = last.map_or(0, |last| last + 1);
        for page in &book.pages {
            let Some(sequence) = page.sequence().map(i64::from) else {
                continue;
            };
            if sequence < next {
                continue; // delivered again: applied already
            }
            if sequence > next {
                transaction.execute(
                    "INSERT INTO gaps VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![domain, root, next, sequence],
                )?;
            }
            transaction.execute(
                "INSERT INTO applied VALUES (?1, ?2, ?3)",
                rusqlite::params![domain, root, sequence],
            )?;
            next = sequence + 1;
        }
        transaction.commit()
    }
}

// ---- faults --------------------------------------------------------------

/// What one call meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Hang,
    Unavailable,
    Panic,
    /// A book this projector refuses every time.
    Poison,
}

/// The faults of one incarnation: decided by hashing the seed with what
/// the call is about and how often it was made, so that a seed means the
/// same faults however the calls interleave.
struct Plan {
    seed: u64,
    attempts: Mutex<HashMap<u64, u32>>,
    calls: AtomicU64,
    /// Abort the process at this call (counting every component call).
    abort_at: Option<u64>,
    /// At this call, arm the store to abort before statement `n` of the
    /// next append.
    crash_append_at: Option<(u64, usize)>,
    store: Arc<SqliteStore>,
    log: Mutex<std::fs::File>,
}

fn hash_of(parts: &[&dyn HashPart]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.feed(&mut hasher);
    }
    hasher.finish()
}

trait HashPart {
    fn feed(&self, hasher: &mut std::collections::hash_map::DefaultHasher);
}

impl<T: Hash> HashPart for T {
    fn feed(&self, hasher: &mut std::collections::hash_map::DefaultHasher) {
        self.hash(hasher);
    }
}

impl Plan {
    fn decide(&self, component: &str, request: &[u8], poisonable: bool) -> Fault {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_at == Some(call) {
            self.note("crash");
            std::process::abort();
        }
        if let Some((at, statement)) = self.crash_append_at {
            if at == call {
                self.note("crash");
                self.store.crash_before_statement(statement);
            }
        }
        let key = hash_of(&[&self.seed, &component, &request]);
        if poisonable && hash_of(&[&key, &"poison"]) % 100 < 3 {
            self.note("poison");
            return Fault::Poison;
        }
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            let attempt = attempts.entry(key).or_default();
            *attempt += 1;
            *attempt
        };
        let fault = match hash_of(&[&key, &attempt]) % 100 {
            0..=2 => Fault::Hang,
            3..=10 => Fault::Unavailable,
            11..=13 => Fault::Panic,
            _ => Fault::None,
        };
        match fault {
            Fault::Hang => self.note("hang"),
            Fault::Unavailable => self.note("unavailable"),
            Fault::Panic => self.note("panic"),
            _ => {}
        }
        fault
    }

    /// One line per fault, written at once: an abort loses none.
    fn note(&self, what: &str) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let _ = log.write_all(format!("{what}\n").as_bytes());
    }
}

/// A component whose calls meet the plan's faults.
struct Faulty<L> {
    name: &'static str,
    inner: L,
    plan: Arc<Plan>,
}

impl<L> Faulty<L> {
    fn new(name: &'static str, inner: L, plan: &Arc<Plan>) -> Self {
        Faulty {
            name,
            inner,
            plan: Arc::clone(plan),
        }
    }

    async fn call<T>(
        &self,
        request: &impl Message,
        poisonable: bool,
        call: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        match self
            .plan
            .decide(self.name, &request.encode_to_vec(), poisonable)
        {
            Fault::None => call.await,
            Fault::Hang => std::future::pending().await,
            Fault::Unavailable => Err(Status::unavailable("injected: down for a moment")),
            Fault::Panic => PANIC.scope(true, call).await,
            Fault::Poison => Err(Status::invalid_argument("injected: this book is poison")),
        }
    }
}

#[tonic::async_trait]
impl<L: AggregateLogic> AggregateLogic for Faulty<L> {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        let request = command.clone();
        self.call(&request, false, self.inner.handle(command)).await
    }
    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        self.inner.handle_fact(facts).await
    }
    fn describe(&self) -> String {
        self.name.to_owned()
    }
}

#[tonic::async_trait]
impl<L: SagaLogic> SagaLogic for Faulty<L> {
    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse, Status> {
        let copy = request.clone();
        self.call(&copy, true, self.inner.handle(request)).await
    }
    fn describe(&self) -> String {
        self.name.to_owned()
    }
}

#[tonic::async_trait]
impl<L: ProcessManagerLogic> ProcessManagerLogic for Faulty<L> {
    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse, Status> {
        self.inner.prepare(request).await
    }
    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse, Status> {
        let copy = request.trigger.clone().unwrap_or_default();
        self.call(&copy, true, self.inner.handle(request)).await
    }
    fn describe(&self) -> String {
        self.name.to_owned()
    }
}

#[tonic::async_trait]
impl ProjectorLogic for Faulty<Totals> {
    async fn handle(&self, book: EventBook) -> Result<Projection, Status> {
        let apply = async {
            self.inner
                .apply(&book)
                .map_err(|error| Status::internal(format!("projection: {error}")))?;
            Ok(Projection::default())
        };
        self.call(&book, true, apply).await
    }
    async fn handle_speculative(&self, _: EventBook) -> Result<Projection, Status> {
        Ok(Projection::default())
    }
    fn describe(&self) -> String {
        self.name.to_owned()
    }
}

// ---- one incarnation of the node -----------------------------------------

/// How many incarnations a run has at most; the last one is never aborted.
const INCARNATIONS: u64 = 4;

fn rng(seed: u64, what: &str) -> impl FnMut(u64) -> u64 {
    let mut state = hash_of(&[&seed, &what]);
    move |below| {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }
}

fn accounts(seed: u64) -> Vec<uuid::Uuid> {
    let mut pick = rng(seed, "accounts");
    (0..2 + pick(3))
        .map(|index| {
            uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{seed}:{index}").as_bytes(),
            )
        })
        .collect()
}

fn node(dir: &Path, seed: u64, incarnation: u64) {
    let last = incarnation + 1 == INCARNATIONS;
    let mut pick = rng(seed, &format!("incarnation {incarnation}"));
    let store = Arc::new(SqliteStore::open(dir.join("events.db")).expect("events db"));
    let (abort_at, crash_append_at) =
        match (last || std::env::var("FAULTS_NOCRASH").is_ok(), pick(3)) {
            (true, _) => (None, None),
            (false, 0) => (Some(1 + pick(60)), None),
            (false, 1) => (None, Some((1 + pick(60), pick(8) as usize))),
            (false, _) => (None, None),
        };
    let plan = Arc::new(Plan {
        seed: seed ^ incarnation.rotate_left(32),
        attempts: Mutex::default(),
        calls: AtomicU64::new(0),
        abort_at,
        crash_append_at,
        store: Arc::clone(&store),
        log: Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("faults.log"))
                .expect("fault log"),
        ),
    });
    let account = Faulty::new("account", AggregateService::new(Account), &plan);
    let audit = Faulty::new("audit", AggregateService::new(Audit), &plan);
    let fanout = Faulty::new("fanout", SagaService::new(Fanout), &plan);
    let tracker = Faulty::new("tracker", ProcessManagerService::new(Tracker), &plan);
    let totals = Faulty::new("totals", Totals::open(&dir.join("projection.db")), &plan);
    let local = LocalCoordinator::builder()
        .store(Arc::clone(&store))
        .domain_logic("account", account)
        .domain_logic("audit", audit)
        .saga_logic("fanout", "account", fanout)
        .process_manager_logic("tracker", Ok(vec![Subscription::domain("audit")]), tracker)
        .projector_logic(
            "totals",
            Ok(vec![
                Subscription::domain("account"),
                Subscription::domain("audit"),
            ]),
            totals,
        )
        .call_timeout(Duration::from_millis(25))
        .delivery_options(DeliveryOptions {
            retry_initial: Duration::from_millis(1),
            retry_max: Duration::from_millis(4),
            max_attempts: 4,
            ..DeliveryOptions::default()
        })
        .try_build()
        .expect("the system builds");
    if std::env::var("FAULTS_TRACE").is_ok() {
        angzarr_client::init_tracing();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let client = local.client();
        let accounts = accounts(seed);
        for _ in 0..4 + pick(8) {
            let root = accounts[pick(accounts.len() as u64) as usize];
            let roll = pick(10);
            let roll = match std::env::var("FAULTS_MODE").as_deref() {
                Ok("async") => 5,
                Ok("simple") if roll < 3 => 0,
                Ok("cascade") if roll < 3 => 1,
                _ => roll,
            };
            let mode = match roll {
                0 => SyncMode::Simple,
                1 | 2 => SyncMode::Cascade,
                _ => SyncMode::Async,
            };
            let errors = match if std::env::var("FAULTS_NOCOMP").is_ok() {
                pick(2)
            } else {
                pick(3)
            } {
                0 => CascadeErrorMode::CascadeErrorFailFast,
                1 => CascadeErrorMode::CascadeErrorContinue,
                _ => CascadeErrorMode::CascadeErrorCompensate,
            };
            let amount = 1 + pick(100);
            for _ in 0..3 {
                let Ok(next) = client.next_sequence("account", root).await else {
                    continue;
                };
                let sent = client
                    .command("account", root)
                    .with_command(&Deposit { amount })
                    .with_sequence(next)
                    .with_correlation_id(root.simple().to_string())
                    .with_sync_mode(mode)
                    .with_cascade_error_mode(errors)
                    .execute()
                    .await;
                match sent {
                    Err(error) if error.is_sequence_conflict() => continue,
                    _ => break,
                }
            }
        }
        if last {
            match tokio::time::timeout(Duration::from_secs(60), local.settled()).await {
                Ok(Ok(())) | Ok(Err(SettleError::DeadLetters(_))) => {}
                Ok(Err(error)) => panic!("settling failed: {error}"),
                Err(_) => panic!("delivery never settled: something is stuck"),
            }
        } else {
            // Let delivery run a little before the next incarnation, if the
            // plan did not abort the process already.
            let _ = tokio::time::timeout(Duration::from_millis(50), local.settled()).await;
            std::process::abort();
        }
    });
}

// ---- the invariants ------------------------------------------------------

fn event_of<T: prost::Name + Default>(page: &angzarr_client::proto::EventPage) -> Option<T> {
    page.event()
        .filter(|event| event.type_url.ends_with(&format!("/{}", T::full_name())))
        .and_then(|event| event.unpack::<T>().ok())
}

fn covers(
    letter: &DeadLetter,
    consumer: &str,
    domain: &str,
    root: uuid::Uuid,
    sequence: u32,
) -> bool {
    letter.consumer == consumer
        && letter.book.domain() == domain
        && letter.book.root_uuid().ok() == Some(root)
        && letter
            .book
            .pages
            .iter()
            .any(|page| page.sequence() == Some(sequence))
}

/// Every violation of the invariants in `dir`'s stored data.
fn check(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let store = SqliteStore::open(dir.join("events.db")).expect("events db");
    let letters = store.dead_letters().expect("dead letters");
    for letter in &letters {
        if letter.message.is_empty() {
            found.push(format!("dead letter {} has no cause", letter.id));
        }
    }
    let mut timelines: BTreeMap<AggregateKey, Vec<angzarr_client::proto::EventPage>> =
        BTreeMap::new();
    for key in store.roots().expect("roots") {
        let pages = store.pages(&key, None).expect("pages");
        let sequences: Vec<u32> = pages.iter().filter_map(|page| page.sequence()).collect();
        let expected: Vec<u32> = (0..pages.len() as u32).collect();
        if sequences != expected {
            found.push(format!(
                "{}/{}: sequences {sequences:?}",
                key.domain, key.root
            ));
        }
        timelines.insert(key, pages);
    }
    let timeline = |domain: &str, root: uuid::Uuid| {
        timelines
            .iter()
            .find(|(key, _)| key.domain == domain && key.root == root && key.edition == "angzarr")
            .map(|(_, pages)| pages.as_slice())
            .unwrap_or_default()
    };

    // The saga's commands: once each, or refused and compensated once.
    for (key, pages) in timelines.iter().filter(|(key, _)| key.domain == "account") {
        let account = key.root;
        let audit = timeline("audit", audit_of(account));
        let mut refused = 0;
        let mut slack = false;
        for page in pages {
            let (Some(_), Some(source_seq)) = (event_of::<Deposited>(page), page.sequence()) else {
                continue;
            };
            let dead = letters
                .iter()
                .any(|l| covers(l, "saga:fanout", "account", account, source_seq));
            slack |= dead;
            let noted = pages
                .iter()
                .filter_map(event_of::<Noted>)
                .filter(|noted| noted.source_seq == source_seq && noted.index == 0)
                .count();
            let mut expect = vec![(
                format!("note {source_seq}"),
                noted,
                note_refused(source_seq),
            )];
            for index in [1, 2] {
                let recorded = audit
                    .iter()
                    .filter_map(event_of::<Recorded>)
                    .filter(|r| {
                        r.account == account.as_bytes()
                            && r.source_seq == source_seq
                            && r.index == index
                    })
                    .count();
                expect.push((
                    format!("record {source_seq}.{index}"),
                    recorded,
                    record_refused(source_seq, index),
                ));
            }
            for (what, ran, rejected) in expect {
                let wanted = usize::from(!rejected);
                let fine = if dead { ran <= wanted } else { ran == wanted };
                if !fine {
                    found.push(format!(
                        "account {account}: {what} ran {ran} time(s), expected {wanted}{}",
                        if dead { " or fewer (dead letter)" } else { "" }
                    ));
                }
                refused += usize::from(rejected);
            }
        }
        // Revocations of refused commands; a consumer's failure that a
        // COMPENSATE cascade sent back is revoked too, and says so.
        let revocations = timeline(angzarr_local::REVOCATION_DOMAIN, account)
            .iter()
            .filter_map(event_of::<angzarr_client::proto::Revocation>)
            .filter(|revocation| {
                revocation.reason.contains("`faults.Note`")
                    || revocation.reason.contains("`faults.Record`")
            })
            .count();
        let fine = if slack {
            revocations <= refused
        } else {
            revocations == refused
        };
        if !fine {
            found.push(format!(
                "account {account}: {revocations} revocation(s) for {refused} refused command(s)"
            ));
        }

        // The tracker: closes once, after four records.
        let closed = pages.iter().filter_map(event_of::<Closed>).count();
        let records = audit
            .iter()
            .filter_map(event_of::<Recorded>)
            .filter(|r| r.account == account.as_bytes())
            .count();
        let tracker_dead = letters.iter().any(|l| {
            l.consumer == "process-manager:tracker"
                && l.book.root_uuid().ok() == Some(audit_of(account))
        });
        if closed > 1 {
            found.push(format!("account {account}: closed {closed} times"));
        }
        if records >= 4 && !tracker_dead && closed != 1 {
            found.push(format!(
                "account {account}: {records} records but closed {closed} time(s)"
            ));
        }
        if records < 4 && closed > 0 {
            found.push(format!("account {account}: closed after {records} records"));
        }
    }

    // The projection: every event, once, minus the projector's dead letters.
    let projection = rusqlite::Connection::open(dir.join("projection.db")).expect("projection db");
    let mut applied: BTreeSet<(String, uuid::Uuid, u32)> = BTreeSet::new();
    let mut statement = projection
        .prepare("SELECT domain, root, sequence FROM applied")
        .expect("applied");
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, u32>(2)?,
            ))
        })
        .expect("applied rows");
    for row in rows {
        let (domain, root, sequence) = row.expect("applied row");
        applied.insert((
            domain,
            uuid::Uuid::from_slice(&root).unwrap_or_default(),
            sequence,
        ));
    }
    let mut wanted = BTreeSet::new();
    for (key, pages) in &timelines {
        if key.edition != "angzarr" || !(key.domain == "account" || key.domain == "audit") {
            continue;
        }
        for sequence in pages.iter().filter_map(|page| page.sequence()) {
            if !letters
                .iter()
                .any(|l| covers(l, "projector:totals", &key.domain, key.root, sequence))
            {
                wanted.insert((key.domain.clone(), key.root, sequence));
            }
        }
    }
    for missing in wanted.difference(&applied) {
        found.push(format!("projection lacks {missing:?}"));
    }
    for extra in applied.difference(&wanted) {
        let dead = letters
            .iter()
            .any(|l| covers(l, "projector:totals", &extra.0, extra.1, extra.2));
        if !dead {
            found.push(format!("projection holds {extra:?}, which is not stored"));
        }
    }
    let mut gaps = projection
        .prepare("SELECT domain, root, expected, got FROM gaps")
        .expect("gaps");
    let rows = gaps
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, u32>(3)?,
            ))
        })
        .expect("gap rows");
    for row in rows {
        let (domain, root, expected, got) = row.expect("gap row");
        let root = uuid::Uuid::from_slice(&root).unwrap_or_default();
        for sequence in expected..got {
            if !letters
                .iter()
                .any(|l| covers(l, "projector:totals", &domain, root, sequence))
            {
                found.push(format!("projector got {domain}/{root} {got} before {sequence}, which is no dead letter"));
            }
        }
    }
    found
}

// ---- the runner ----------------------------------------------------------

struct Outcome {
    seed: u64,
    incarnations: u64,
    faults: BTreeMap<String, u64>,
    dead_letters: usize,
    violations: Vec<String>,
}

fn run(seed: u64, base: &Path) -> Outcome {
    let dir = base.join(format!("seed-{seed}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("run dir");
    let exe = std::env::current_exe().expect("own executable");
    let mut violations = Vec::new();
    let mut incarnations = 0;
    for incarnation in 0..INCARNATIONS {
        incarnations += 1;
        let output = Process::new(&exe)
            .env("ANGZARR_FAULTS_NODE", format!("{seed}:{incarnation}"))
            .env("ANGZARR_FAULTS_DIR", &dir)
            .envs(std::env::vars().filter(|(k, _)| k.starts_with("FAULTS_")))
            .output()
            .expect("the node starts");
        let _ = std::fs::write(dir.join(format!("node-{incarnation}.log")), &output.stderr);
        let aborted = {
            use std::os::unix::process::ExitStatusExt;
            output.status.signal() == Some(libc::SIGABRT)
        };
        if output.status.success() {
            break;
        }
        if !aborted || incarnation + 1 == INCARNATIONS {
            violations.push(format!(
                "incarnation {incarnation} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .filter(|l| !l.contains("injected panic") && !l.starts_with("note:"))
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
            break;
        }
    }
    if violations.is_empty() {
        violations = check(&dir);
    }
    let mut faults = BTreeMap::new();
    if let Ok(log) = std::fs::read_to_string(dir.join("faults.log")) {
        for line in log.lines() {
            *faults.entry(line.to_owned()).or_insert(0) += 1;
        }
    }
    let dead_letters = SqliteStore::open(dir.join("events.db"))
        .and_then(|store| store.dead_letters())
        .map_or(0, |letters| letters.len());
    if violations.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Outcome {
        seed,
        incarnations,
        faults,
        dead_letters,
        violations,
    }
}

fn main() {
    if let Ok(node_of) = std::env::var("ANGZARR_FAULTS_NODE") {
        let (seed, incarnation) = node_of.split_once(':').expect("seed:incarnation");
        let dir = PathBuf::from(std::env::var("ANGZARR_FAULTS_DIR").expect("dir"));
        // The injected panics are expected; their reports would bury the rest.
        std::panic::set_hook(Box::new(|info| {
            if !info.to_string().contains("injected panic") {
                eprintln!("{info}");
            }
        }));
        node(
            &dir,
            seed.parse().expect("seed"),
            incarnation.parse().expect("incarnation"),
        );
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
            .map(|text| {
                text.parse::<u64>()
                    .unwrap_or_else(|_| panic!("{flag} takes a number, got {text}"))
            })
    };
    // `cargo test` lists tests with `--list`: this binary is one.
    if args.iter().any(|arg| arg == "--list") {
        println!("faults: test");
        return;
    }
    let seeds: Vec<u64> = match (value("--seed"), value("--seeds")) {
        (Some(seed), _) => vec![seed],
        (None, count) => (1..=count.unwrap_or(200)).collect(),
    };
    let base = std::env::temp_dir().join(format!("angzarr-faults-{}", std::process::id()));
    let total = seeds.len();
    let next = Arc::new(Mutex::new(seeds.into_iter()));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, outcomes, base) = (Arc::clone(&next), Arc::clone(&outcomes), base.clone());
            std::thread::spawn(move || loop {
                let Some(seed) = next.lock().unwrap().next() else {
                    return;
                };
                let outcome = run(seed, &base);
                let mut outcomes = outcomes.lock().unwrap();
                outcomes.push(outcome);
                if outcomes.len() % 50 == 0 {
                    eprintln!("faults: {} of {total} runs done", outcomes.len());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a runner thread");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut failed = Vec::new();
    let (mut incarnations, mut dead) = (0, 0);
    for outcome in &outcomes {
        incarnations += outcome.incarnations;
        dead += outcome.dead_letters;
        for (what, count) in &outcome.faults {
            *totals.entry(what.clone()).or_insert(0) += count;
        }
        if !outcome.violations.is_empty() {
            failed.push(outcome);
        }
    }
    let injected: u64 = totals.values().sum();
    println!(
        "faults: {} runs, {incarnations} incarnations, {injected} faults injected ({}), {dead} dead letters, {} runs with violations, in {:.1?}",
        outcomes.len(),
        totals.iter().map(|(what, count)| format!("{what} {count}")).collect::<Vec<_>>().join(", "),
        failed.len(),
        started.elapsed()
    );
    for outcome in &failed {
        println!("seed {} (reproduce: cargo test -p angzarr-local --test faults -- --seed {}; data kept in {}):", outcome.seed, outcome.seed, base.join(format!("seed-{}", outcome.seed)).display());
        for violation in outcome.violations.iter().take(10) {
            println!("  {violation}");
        }
    }
    if failed.is_empty() {
        let _ = std::fs::remove_dir_all(&base);
    } else {
        std::process::exit(1);
    }
}
