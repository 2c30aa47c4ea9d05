//! Group commit: appends that arrive while the store is busy wait together
//! and are stored by one [`EventStore::append_all`], so that concurrent
//! commands share a transaction (and, at `synchronous=full`, an `fsync`).
//!
//! No append waits for company: the first one starts a drain at once, and
//! whatever queued while a batch was being written makes the next batch.
//! Under no load a batch holds one append; under load batches grow with it.
//! A caller is answered only after the transaction holding its append
//! committed, so an acknowledged write is as durable as the store makes any.

use std::sync::{Arc, Mutex, MutexGuard};

use angzarr_proto::{EventPage, Snapshot};
use tokio::sync::oneshot;

use super::{AggregateKey, Append, Claim, EventStore, Outcome, Publication, StoreError};

/// Most appends in one transaction: a bound on how long one batch holds the
/// connection, and so on the latency of the reads queued behind it.
pub(crate) const MAX_BATCH: usize = 256;

/// An [`Append`] that owns its parts, so that it can wait in a queue.
#[derive(Debug, Clone)]
pub(crate) struct QueuedAppend {
    pub key: AggregateKey,
    pub at: u32,
    pub pages: Vec<EventPage>,
    pub snapshot: Option<Snapshot>,
    pub correlation_id: String,
    /// The external fact recorded, and its first sequence.
    pub fact: Option<(String, u32)>,
    /// The encoded book for consumers of `key.domain`, and who delivers it.
    pub publish: Option<(Vec<u8>, Option<Claim>)>,
    pub outcome: Option<(String, Outcome)>,
}

impl QueuedAppend {
    fn as_append(&self) -> Append<'_> {
        Append {
            key: &self.key,
            at: self.at,
            pages: &self.pages,
            snapshot: self.snapshot.as_ref(),
            correlation_id: &self.correlation_id,
            fact: self
                .fact
                .as_ref()
                .map(|(id, first)| super::Fact { id, first: *first }),
            publish: self.publish.as_ref().map(|(book, claim)| Publication {
                domain: &self.key.domain,
                book,
                claim: *claim,
            }),
            outcome: self
                .outcome
                .as_ref()
                .map(|(key, outcome)| (key.as_str(), outcome)),
        }
    }
}

type Answer = oneshot::Sender<Result<Option<u64>, StoreError>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(QueuedAppend, Answer)>,
    /// A drain is running: it takes what is waiting before it stops.
    draining: bool,
}

/// Batches the appends of concurrent writers over one store.
pub(crate) struct Committer {
    store: Arc<dyn EventStore>,
    queue: Arc<Mutex<Queue>>,
}

impl Committer {
    pub(crate) fn new(store: Arc<dyn EventStore>) -> Self {
        Committer {
            store,
            queue: Arc::default(),
        }
    }

    /// Stores `append` (alone or with others) and answers once it is
    /// committed: the outbox id of its published book, if it had one.
    pub(crate) async fn append(&self, append: QueuedAppend) -> Result<Option<u64>, StoreError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.waiting.push((append, answer));
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            let store = Arc::clone(&self.store);
            let queue = Arc::clone(&self.queue);
            tokio::task::spawn_blocking(move || drain(store.as_ref(), &queue));
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Transaction(
                "the writer stopped before answering".into(),
            ))
        })
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    // The queue is consistent between statements: a panic elsewhere leaves
    // nothing half-done in it.
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes batches until none is waiting.
fn drain(store: &dyn EventStore, queue: &Mutex<Queue>) {
    loop {
        let batch: Vec<(QueuedAppend, Answer)> = {
            let mut queue = lock(queue);
            if queue.waiting.is_empty() {
                queue.draining = false;
                return;
            }
            let take = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..take).collect()
        };
        let appends: Vec<Append<'_>> = batch.iter().map(|(queued, _)| queued.as_append()).collect();
        let results =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.append_all(&appends)))
                .unwrap_or_else(|_| {
                    appends
                        .iter()
                        .map(|_| Err(StoreError::Transaction("the store panicked".into())))
                        .collect()
                });
        drop(appends);
        let mut results = results.into_iter();
        for (_, answer) in batch {
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Transaction(
                    "the store answered fewer appends than it was given".into(),
                ))
            });
            // A caller that went away still had its append stored.
            let _ = answer.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};

    fn queued(root: u128, at: u32) -> QueuedAppend {
        QueuedAppend {
            key: AggregateKey {
                domain: "player".into(),
                edition: "angzarr".into(),
                root: uuid::Uuid::from_u128(root),
            },
            at,
            pages: vec![crate::store::contract::page(at)],
            snapshot: None,
            correlation_id: String::new(),
            fact: None,
            publish: Some((Vec::new(), None)),
            outcome: None,
        }
    }

    /// Runs `appends` concurrently through one committer. With `together`,
    /// the drain starts only once all of them wait, so they make one batch.
    async fn concurrently(
        store: Arc<dyn EventStore>,
        appends: Vec<QueuedAppend>,
        together: bool,
    ) -> Vec<Result<Option<u64>, StoreError>> {
        let committer = Arc::new(Committer::new(Arc::clone(&store)));
        if together {
            lock(&committer.queue).draining = true;
        }
        let count = appends.len();
        let tasks: Vec<_> = appends
            .into_iter()
            .map(|append| {
                let committer = Arc::clone(&committer);
                tokio::spawn(async move { committer.append(append).await })
            })
            .collect();
        if together {
            while lock(&committer.queue).waiting.len() < count {
                tokio::task::yield_now().await;
            }
            let queue = Arc::clone(&committer.queue);
            tokio::task::spawn_blocking(move || drain(store.as_ref(), &queue))
                .await
                .expect("drain");
            assert!(!lock(&committer.queue).draining);
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("append task"));
        }
        results
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_concurrent_append_is_answered_with_its_own_result() {
        for together in [true, false] {
            for store in [
                Arc::new(SqliteStore::in_memory().unwrap()) as Arc<dyn EventStore>,
                Arc::new(MemoryStore::new()),
            ] {
                // 64 timelines, each written at 0 twice: one of each pair is
                // stored, the other conflicts, whichever comes first.
                let appends: Vec<_> = (0..128).map(|n| queued(n % 64, 0)).collect();
                let results = concurrently(Arc::clone(&store), appends, together).await;
                let mut ids = Vec::new();
                for root in 0..64 {
                    let pair = [&results[root], &results[root + 64]];
                    let stored: Vec<u64> = pair
                        .iter()
                        .filter_map(|result| result.as_ref().ok().copied().flatten())
                        .collect();
                    assert_eq!(stored.len(), 1, "{pair:?}");
                    assert!(
                        pair.iter().any(|result| matches!(
                            result,
                            Err(StoreError::Conflict {
                                expected: 0,
                                actual: 1
                            })
                        )),
                        "{pair:?}"
                    );
                    ids.extend(stored);
                }
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), 64, "one outbox id each");
                assert_eq!(store.outbox_after(0, 1000).unwrap().len(), 64);
                for root in 0..64 {
                    assert_eq!(store.pages(&queued(root, 0).key, None).unwrap().len(), 1);
                }
            }
        }
    }
}
