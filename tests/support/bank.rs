//! A small system on the player domain for the delivery tests: two sagas, a
//! process manager with state, and a recording projector that can be slowed
//! down, failed or gated, in process or over gRPC.
//!
//! - `welcome` (saga, player -> player): a registered player gets 100 chips.
//! - `overdraw` (saga, player -> player): a deposit of exactly 13 chips asks
//!   to withdraw a million, which the player refuses: compensation.
//! - `audit` (process manager over player, per correlation id): opens on a
//!   registration, flags a deposit of exactly 7 chips (noting the player's
//!   next sequence from `Prepare`) and asks to withdraw a million; flags the
//!   refusal when it hears of it.
//! - [`Recorder`]: a projector that records every book it is given.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::projector_service_server::{ProjectorService, ProjectorServiceServer};
use angzarr_client::proto::{Any, AnyExt, Cover, EventBook, Projection, RejectionNotification};
use angzarr_client::proto::{EventPage, UpcastRequest, UpcastResponse};
use angzarr_local::component::{ProjectorLogic, UpcasterLogic};
use angzarr_local::store::{Append, EventStore};
use examples::player::{amount, chips};
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, WithdrawFunds};
use prost::Name;
use tokio::sync::{Notify, Semaphore};

/// The audit workflow opened for a player.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AuditOpened {
    #[prost(bytes = "vec", tag = "1")]
    pub player_root: Vec<u8>,
}

/// The audit workflow noticed something.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AuditFlagged {
    #[prost(string, tag = "1")]
    pub reason: String,
    /// The player's next sequence as `Prepare` made the coordinator fetch it.
    #[prost(uint32, tag = "2")]
    pub player_next_sequence: u32,
}

impl Name for AuditOpened {
    const NAME: &'static str = "AuditOpened";
    const PACKAGE: &'static str = "audit";
}

impl Name for AuditFlagged {
    const NAME: &'static str = "AuditFlagged";
    const PACKAGE: &'static str = "audit";
}

/// `test.OldDeposit`: a deposit as an older version of the player stored it
/// (the chips as a plain number).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OldDeposit {
    #[prost(int64, tag = "1")]
    pub chips: i64,
}

impl Name for OldDeposit {
    const NAME: &'static str = "OldDeposit";
    const PACKAGE: &'static str = "test";
}

/// Upgrades `test.OldDeposit` to `examples.FundsDeposited`.
pub struct OldDeposits;

#[tonic::async_trait]
impl UpcasterLogic for OldDeposits {
    async fn upcast(&self, request: UpcastRequest) -> Result<UpcastResponse, tonic::Status> {
        let mut events = request.events;
        for page in &mut events {
            let Some(old) = page.event().filter(|e| e.is::<OldDeposit>()) else {
                continue;
            };
            let old: OldDeposit = old
                .unpack()
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
            page.payload = Some(angzarr_client::proto::event_page::Payload::Event(
                Any::pack(&FundsDeposited {
                    amount: Some(chips(old.chips)),
                    new_balance: Some(chips(old.chips)),
                    deposited_at: None,
                }),
            ));
        }
        Ok(UpcastResponse { events })
    }

    fn describe(&self) -> String {
        "old-deposit upcaster".into()
    }
}

/// Stores `pages` on `root`'s player timeline directly, as an older version
/// (or a test's setup) left them.
pub fn store_pages(store: &dyn EventStore, root: uuid::Uuid, pages: &[EventPage]) {
    let key = angzarr_local::AggregateKey {
        domain: "player".into(),
        edition: angzarr_client::proto::DEFAULT_EDITION.into(),
        root,
    };
    store
        .append(&Append {
            key: &key,
            at: pages
                .first()
                .and_then(EventPage::sequence)
                .unwrap_or_default(),
            pages,
            snapshot: None,
            correlation_id: "",
            fact: None,
            publish: None,
            outcome: None,
        })
        .expect("the pages are stored");
}

/// A player registered and given `chips` by an older version.
pub fn old_history(chips: i64) -> Vec<EventPage> {
    vec![
        EventPage::new(0, Any::pack(&PlayerRegistered::default())),
        EventPage::new(1, Any::pack(&OldDeposit { chips })),
    ]
}

/// A million chips: more than any test player has.
pub const TOO_MUCH: i64 = 1_000_000;

pub struct Welcome;

#[saga(name = "welcome", source = "player", target = "player")]
impl Welcome {
    #[handles(PlayerRegistered)]
    fn bonus(&self, _: &PlayerRegistered, ctx: &SagaContext) -> Command<DepositFunds> {
        Command::new(
            ctx.root(),
            DepositFunds {
                amount: Some(chips(100)),
            },
        )
    }
}

pub struct Overdraw;

#[saga(name = "overdraw", source = "player", target = "player")]
impl Overdraw {
    #[handles(FundsDeposited)]
    fn greedy(&self, event: &FundsDeposited, ctx: &SagaContext) -> Option<Command<WithdrawFunds>> {
        (amount(event.amount.as_ref()) == 13).then(|| {
            Command::new(
                ctx.root(),
                WithdrawFunds {
                    amount: Some(chips(TOO_MUCH)),
                },
            )
        })
    }
}

#[derive(Default)]
pub struct AuditState {
    pub player: Option<uuid::Uuid>,
    pub flags: u32,
}

pub struct Audit;

#[process_manager(name = "audit", sources = ["player"], targets = ["player"], state = AuditState)]
impl Audit {
    #[prepares(FundsDeposited)]
    fn player(&self, _: &FundsDeposited, state: &AuditState) -> Option<Cover> {
        state.player.map(|player| Cover::new("player", player))
    }

    #[handles(PlayerRegistered)]
    fn open(&self, _: &PlayerRegistered, ctx: &PmContext) -> AuditOpened {
        AuditOpened {
            player_root: ctx.root().as_bytes().to_vec(),
        }
    }

    #[handles(FundsDeposited)]
    fn deposited(
        &self,
        event: &FundsDeposited,
        state: &AuditState,
        ctx: &PmContext,
    ) -> Option<(AuditFlagged, Command<WithdrawFunds>)> {
        let player = state.player?;
        (amount(event.amount.as_ref()) == 7).then(|| {
            (
                AuditFlagged {
                    reason: "lucky seven".into(),
                    player_next_sequence: ctx.destination_sequence("player").unwrap_or_default(),
                },
                Command::new(
                    player,
                    WithdrawFunds {
                        amount: Some(chips(TOO_MUCH)),
                    },
                ),
            )
        })
    }

    #[rejected(domain = "player", command = WithdrawFunds)]
    fn refused(&self, notice: &RejectionNotification) -> AuditFlagged {
        AuditFlagged {
            reason: format!("refused: {}", notice.rejection_reason),
            player_next_sequence: 0,
        }
    }

    #[applies(AuditOpened)]
    fn opened(state: &mut AuditState, event: &AuditOpened) {
        state.player = uuid::Uuid::from_slice(&event.player_root).ok();
    }

    #[applies(AuditFlagged)]
    fn flagged(state: &mut AuditState, _: &AuditFlagged) {
        state.flags += 1;
    }
}

/// One book as a recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub domain: String,
    pub root: uuid::Uuid,
    pub sequences: Vec<u32>,
    pub types: Vec<String>,
    pub correlation_id: String,
}

impl Seen {
    fn of(book: &EventBook) -> Self {
        Seen {
            domain: book.domain().to_owned(),
            root: book
                .cover
                .as_ref()
                .and_then(|c| c.root_uuid().ok())
                .unwrap_or_default(),
            sequences: book.pages.iter().filter_map(|p| p.sequence()).collect(),
            types: book
                .pages
                .iter()
                .filter_map(|p| p.event())
                .map(|e| {
                    e.type_name()
                        .rsplit('.')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect(),
            correlation_id: book.correlation_id().to_owned(),
        }
    }
}

#[derive(Default)]
struct RecorderState {
    seen: Mutex<Vec<Seen>>,
    changed: Notify,
    /// Calls answered UNAVAILABLE before the recorder starts recording.
    failures_left: AtomicUsize,
    /// When set, each call waits for a permit.
    gate: Mutex<Option<Arc<Semaphore>>>,
    calls: AtomicUsize,
}

/// A projector recording every book it is given, in order.
#[derive(Clone)]
pub struct Recorder {
    name: String,
    state: Arc<RecorderState>,
}

/// How long a test waits for a condition before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);

impl Recorder {
    pub fn new(name: &str) -> Self {
        Recorder {
            name: name.to_owned(),
            state: Arc::default(),
        }
    }

    /// Answers the next `count` calls with UNAVAILABLE.
    pub fn fail_next(&self, count: usize) {
        self.state.failures_left.store(count, Ordering::SeqCst);
    }

    /// Makes each call wait for a permit of the returned semaphore.
    pub fn gate(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.state.gate.lock().unwrap() = Some(Arc::clone(&gate));
        gate
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Waits (up to [`PATIENCE`]) until `done` holds for the books seen.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let waiting = async {
            loop {
                let mut changed = std::pin::pin!(self.state.changed.notified());
                changed.as_mut().enable();
                {
                    let seen = self.state.seen.lock().unwrap();
                    if done(&seen) {
                        return seen.clone();
                    }
                }
                changed.await;
            }
        };
        match tokio::time::timeout(PATIENCE, waiting).await {
            Ok(seen) => seen,
            Err(_) => panic!(
                "{}: gave up waiting until {what}; seen: {:#?}",
                self.name,
                self.seen()
            ),
        }
    }

    /// The books seen per aggregate, in arrival order.
    pub fn by_aggregate(&self) -> HashMap<(String, uuid::Uuid), Vec<Seen>> {
        let mut grouped: HashMap<(String, uuid::Uuid), Vec<Seen>> = HashMap::new();
        for seen in self.seen() {
            grouped
                .entry((seen.domain.clone(), seen.root))
                .or_default()
                .push(seen);
        }
        grouped
    }

    /// Waits (up to [`PATIENCE`]) until it has been called `count` times
    /// (calls waiting at the gate count).
    pub async fn wait_for_calls(&self, count: usize) {
        let waiting = async {
            loop {
                let mut changed = std::pin::pin!(self.state.changed.notified());
                changed.as_mut().enable();
                if self.calls() >= count {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(PATIENCE, waiting).await.is_err() {
            panic!("{}: {} calls, not {count}", self.name, self.calls());
        }
    }

    async fn record(&self, book: EventBook) -> Result<Projection, tonic::Status> {
        self.state.calls.fetch_add(1, Ordering::SeqCst);
        self.state.changed.notify_waiters();
        let gate = self.state.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.acquire()
                .await
                .map_err(|_| tonic::Status::unavailable("gate closed"))?
                .forget();
        }
        if self
            .state
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
        {
            return Err(tonic::Status::unavailable("the recorder is down for now"));
        }
        let seen = Seen::of(&book);
        let sequence = seen.sequences.last().copied().unwrap_or_default();
        self.state.seen.lock().unwrap().push(seen);
        self.state.changed.notify_waiters();
        Ok(Projection {
            cover: book.cover,
            projector: self.name.clone(),
            sequence,
            projection: Some(Any::pack(&Cover::default())),
        })
    }

    /// The recorder as a gRPC service.
    pub fn into_server(self) -> ProjectorServiceServer<Self> {
        ProjectorServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl ProjectorLogic for Recorder {
    async fn handle(&self, book: EventBook) -> Result<Projection, tonic::Status> {
        self.record(book).await
    }

    async fn handle_speculative(&self, book: EventBook) -> Result<Projection, tonic::Status> {
        ProjectorService::handle_speculative(self, tonic::Request::new(book))
            .await
            .map(tonic::Response::into_inner)
    }

    fn describe(&self) -> String {
        format!("recorder {}", self.name)
    }
}

#[tonic::async_trait]
impl ProjectorService for Recorder {
    async fn handle(
        &self,
        request: tonic::Request<EventBook>,
    ) -> Result<tonic::Response<Projection>, tonic::Status> {
        self.record(request.into_inner())
            .await
            .map(tonic::Response::new)
    }

    async fn handle_speculative(
        &self,
        request: tonic::Request<EventBook>,
    ) -> Result<tonic::Response<Projection>, tonic::Status> {
        let book = request.into_inner();
        Ok(tonic::Response::new(Projection {
            cover: book.cover,
            projector: self.name.clone(),
            ..Default::default()
        }))
    }
}
