//! Delivery of published books to sagas, process managers and projectors.
//!
//! Every write whose domain has consumers queues its book (cover, new
//! pages, snapshot, next sequence) in the store's outbox, in the same
//! transaction as the events. One worker per consumer walks the outbox in
//! order from its stored position: books reach each consumer in the order
//! they were written (so in order per aggregate), at least once, retried
//! with backoff while the consumer is down or failing, and resumed after a
//! restart. A book a consumer keeps failing (it answers, with an error, or
//! does not answer within the call deadline) becomes a [`DeadLetter`] after
//! [`DeliveryOptions::max_attempts`], and the consumer moves on to the next
//! book; a consumer that cannot be reached at all (nothing listens at its
//! address) is waited for instead, however long. A dead letter replayed is
//! delivered to its consumer alone, after the books it has seen since. SIMPLE and CASCADE commands deliver to projectors (SIMPLE) or
//! to everyone (CASCADE, depth first) before answering; the outbox then
//! leaves those books alone for the consumers served.
//!
//! What sagas and process managers emit is executed here: commands with the
//! deferred header rewritten to their source and run at most once each,
//! rejected commands turned into compensation, facts through the fact path.

mod backlog;
mod claims;
mod consumers;
mod outbox;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use angzarr_proto::{CascadeError, Projection};
use tokio::sync::{watch, Notify};
use tonic::Status;

pub(crate) use backlog::Backlog;
pub(crate) use claims::{ClaimGuard, Claims};
pub(crate) use outbox::initial_positions;

use crate::component::Deadline;
use crate::store::{DeadLetter, SyncReach};

/// How delivery retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// The first wait after a failed delivery (default 50 ms).
    pub retry_initial: Duration,
    /// The longest wait between attempts (default 5 s); waits double up to it.
    pub retry_max: Duration,
    /// Outbox entries read at a time (default 64).
    pub batch: usize,
    /// Failed attempts after which a book becomes a dead letter (default
    /// [`DEFAULT_MAX_ATTEMPTS`]; 0 counts as 1). Calls to a consumer that
    /// cannot be reached are not attempts: nothing was delivered.
    pub max_attempts: u32,
    /// How long the outcome of a command run at most once is kept (default
    /// [`DEFAULT_OUTCOME_RETENTION`], 7 days): a repeat within it is
    /// answered with the first outcome, one after it runs again.
    pub outcome_retention: Duration,
}

/// How long outcomes are kept by default: far longer than any redelivery
/// angzarr-local makes itself (a book is retried until it is delivered, and
/// a restart resumes at once), and than a caller outside would wait to
/// send a command again.
pub const DEFAULT_OUTCOME_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Failed attempts before a book is set aside by default: with the default
/// backoff, about 16 seconds of a consumer answering errors (or 5 minutes of
/// one that hangs until the 30-second call deadline).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// Why delivery did not settle cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettleError {
    /// Everything was processed, but these books are dead letters: their
    /// consumers failed them [`DeliveryOptions::max_attempts`] times and
    /// moved on. Replay or discard them to settle cleanly.
    #[error("{}", dead_letters_message(.0))]
    DeadLetters(Vec<DeadLetter>),
    /// The store could not be read.
    #[error("event store: {}", .0.message())]
    Store(Status),
}

fn dead_letters_message(letters: &[DeadLetter]) -> String {
    let mut message = format!("delivery settled with {} dead letter(s)", letters.len());
    for letter in letters.iter().take(3) {
        message.push_str(&format!(
            "; #{} {} failed {} entry {} {} time(s): {:?}: {}",
            letter.id,
            letter.consumer,
            letter.domain,
            letter.entry,
            letter.attempts,
            letter.code(),
            letter.message
        ));
    }
    if letters.len() > 3 {
        message.push_str("; ...");
    }
    message
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            batch: 64,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            outcome_retention: DEFAULT_OUTCOME_RETENTION,
        }
    }
}

/// Longest chain of rejection notifications one trigger may cause (a
/// process manager answering each rejection with another rejected command).
pub(crate) const MAX_REJECTION_DEPTH: usize = 8;

/// Delivery's state: this run's identity, the claims of synchronous
/// deliveries, the signal that wakes the workers, and their stop signal.
pub(crate) struct Delivery {
    run: u64,
    claims: Claims,
    wake: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    started: AtomicBool,
    options: DeliveryOptions,
    /// What each consumer has yet to receive, per aggregate.
    backlog: Backlog,
    /// The call deadline: how long a synchronous delivery waits for the
    /// outbox to deliver what it must not overtake.
    deadline: Deadline,
    /// Each worker's position, as it moves.
    progress: Mutex<HashMap<usize, u64>>,
    progressed: Notify,
}

/// What synchronous delivery reports back to the caller.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub projections: Vec<Projection>,
    pub errors: Vec<CascadeError>,
    /// FAIL_FAST met an error: the rest is left to the outbox.
    pub stopped: bool,
    /// Consumers (registry indexes) that failed a book the outbox will
    /// retry: the rest of the cascade leaves them to the outbox too, which
    /// delivers in order from the failed book on.
    pub left_to_outbox: Vec<usize>,
}

/// Whether a status answering a command is the business refusing it
/// (compensated, never retried) rather than a failure that may pass
/// (retried): the SDK's one definition.
pub(crate) use angzarr_client::coded::is_rejection;

impl Delivery {
    pub fn new(options: DeliveryOptions, backlog: Backlog, deadline: Deadline) -> Self {
        // Any value unlikely to repeat across runs: claims of another run
        // are treated as interrupted.
        let run = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        Delivery {
            run,
            claims: Claims::default(),
            wake: watch::Sender::new(0),
            stop: watch::Sender::new(false),
            started: AtomicBool::new(false),
            options,
            backlog,
            deadline,
            progress: Mutex::new(HashMap::new()),
            progressed: Notify::new(),
        }
    }

    pub fn run(&self) -> u64 {
        self.run
    }

    /// Starts a synchronous delivery to `reach`.
    pub fn claim(&self, reach: SyncReach) -> ClaimGuard {
        self.claims.claim(self.run, reach)
    }

    /// What each consumer has yet to receive.
    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    /// How long a synchronous delivery waits behind the outbox.
    pub fn patience(&self) -> Duration {
        self.deadline.get()
    }

    /// Tells the workers that entry `id` was written.
    pub fn wake(&self, id: u64) {
        self.wake.send_if_modified(|head| {
            if id > *head {
                *head = id;
                true
            } else {
                false
            }
        });
    }

    /// Stops the workers (they finish the call in flight, and keep their
    /// position where they were: the next run resumes there).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn start_once(&self) -> bool {
        !self.started.swap(true, Ordering::SeqCst)
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, HashMap<usize, u64>> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A worker reached `position`.
    fn advanced(&self, consumer: usize, position: u64) {
        self.progress().insert(consumer, position);
        self.progressed.notify_waiters();
    }

    /// Waits until each of `consumers` has reached `head`.
    async fn reached(&self, consumers: &[usize], head: u64) {
        loop {
            let mut progressed = std::pin::pin!(self.progressed.notified());
            progressed.as_mut().enable();
            {
                let progress = self.progress();
                if consumers
                    .iter()
                    .all(|consumer| progress.get(consumer).is_some_and(|&p| p >= head))
                {
                    return;
                }
            }
            progressed.await;
        }
    }
}
