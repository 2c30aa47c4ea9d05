//! Synchronous deliveries in progress, so that the outbox does not deliver
//! the same book to the same consumer a second time.
//!
//! A command in SIMPLE or CASCADE mode takes a [`ClaimGuard`] before it
//! writes; the outbox entry records the claim. A worker reaching a claimed
//! entry of this run waits until the guard is dropped, then skips the book
//! if its consumer was served synchronously and delivers it otherwise (the
//! cascade stopped early, or the consumer failed). A claim of an earlier run
//! was cut short by a restart: its book is delivered as if unclaimed.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use angzarr_proto::EventBook;
use tokio::sync::Notify;

use crate::registry::{Consumer, Registry};
use crate::store::{Claim, SyncReach};

#[derive(Default)]
struct ClaimState {
    done: bool,
    /// Consumers served synchronously.
    handled: HashSet<usize>,
    /// Workers yet to look at the claimed entry (known once it is written).
    visitors: Option<usize>,
    /// The claimed entry's outbox id, once written.
    entry: Option<u64>,
}

#[derive(Default)]
struct Inner {
    next_token: AtomicU64,
    states: Mutex<HashMap<u64, ClaimState>>,
    changed: Notify,
}

impl Inner {
    fn states(&self) -> MutexGuard<'_, HashMap<u64, ClaimState>> {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every claim of this run.
#[derive(Clone, Default)]
pub(crate) struct Claims {
    inner: Arc<Inner>,
}

/// What a worker does with a claimed entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Visit {
    /// Served synchronously: skip it.
    Skip,
    /// Deliver it as usual.
    Deliver,
}

/// Whether a synchronous delivery reaching `reach` covers `consumer`.
pub(crate) fn covers(reach: SyncReach, consumer: &Consumer) -> bool {
    match reach {
        SyncReach::Everyone => true,
        SyncReach::Projectors => consumer.kind() == angzarr_client::ComponentKind::Projector,
    }
}

impl Claims {
    /// Starts a synchronous delivery.
    pub fn claim(&self, run: u64, reach: SyncReach) -> ClaimGuard {
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.states().insert(token, ClaimState::default());
        ClaimGuard {
            claims: self.clone(),
            claim: Claim { run, token, reach },
        }
    }

    /// Waits until the claim `token` is settled, then says what `consumer`'s
    /// worker does with the entry.
    pub async fn visit(&self, token: u64, consumer: usize) -> Visit {
        loop {
            let mut changed = pin!(self.inner.changed.notified());
            changed.as_mut().enable();
            {
                let mut states = self.inner.states();
                let Some(state) = states.get_mut(&token) else {
                    return Visit::Deliver;
                };
                if state.done {
                    let visit = if state.handled.contains(&consumer) {
                        Visit::Skip
                    } else {
                        Visit::Deliver
                    };
                    if let Some(visitors) = &mut state.visitors {
                        *visitors = visitors.saturating_sub(1);
                        if *visitors == 0 {
                            states.remove(&token);
                        }
                    }
                    return visit;
                }
            }
            changed.await;
        }
    }

    /// How many claims are held in memory (for tests of pruning).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.states().len()
    }
}

/// A synchronous delivery in progress; dropping it settles the claim.
pub(crate) struct ClaimGuard {
    claims: Claims,
    claim: Claim,
}

impl ClaimGuard {
    /// The claim the outbox entry records.
    pub fn claim(&self) -> Claim {
        self.claim
    }

    /// Whom the claim reaches.
    pub fn reach(&self) -> SyncReach {
        self.claim.reach
    }

    /// The claimed book was written: the workers of the consumers it
    /// reaches will each look at it once.
    pub fn published(&self, registry: &Registry, book: &EventBook, entry: u64) {
        let visitors = registry
            .consumers
            .iter()
            .filter(|consumer| covers(self.claim.reach, consumer) && consumer.wants(book))
            .count();
        if let Some(state) = self.claims.inner.states().get_mut(&self.claim.token) {
            state.visitors = Some(visitors);
            state.entry = Some(entry);
        }
    }

    /// The claimed entry's outbox id, once written.
    pub fn entry(&self) -> Option<u64> {
        self.claims
            .inner
            .states()
            .get(&self.claim.token)
            .and_then(|state| state.entry)
    }

    /// `consumer` was served synchronously.
    pub fn handled(&self, consumer: usize) {
        if let Some(state) = self.claims.inner.states().get_mut(&self.claim.token) {
            state.handled.insert(consumer);
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        {
            let mut states = self.claims.inner.states();
            let finished = match states.get_mut(&self.claim.token) {
                Some(state) => {
                    state.done = true;
                    // Not written (or nobody to visit): no worker will look.
                    state.visitors.is_none_or(|visitors| visitors == 0)
                }
                None => false,
            };
            if finished {
                states.remove(&self.claim.token);
            }
        }
        self.claims.inner.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_waits_for_the_claim_then_skips_what_was_served() {
        let claims = Claims::default();
        let guard = claims.claim(1, SyncReach::Everyone);
        let token = guard.claim().token;
        if let Some(state) = claims.inner.states().get_mut(&token) {
            state.visitors = Some(2);
        }
        guard.handled(0);
        let waiting = {
            let claims = claims.clone();
            tokio::spawn(async move { claims.visit(token, 0).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the claim is not settled yet");
        drop(guard);
        assert_eq!(waiting.await.unwrap(), Visit::Skip);
        assert_eq!(claims.visit(token, 1).await, Visit::Deliver);
        assert_eq!(claims.len(), 0, "the last visitor removes the claim");
    }

    #[tokio::test]
    async fn an_unwritten_claim_leaves_nothing_behind() {
        let claims = Claims::default();
        let guard = claims.claim(1, SyncReach::Projectors);
        drop(guard);
        assert_eq!(claims.len(), 0);
        assert_eq!(claims.visit(99, 0).await, Visit::Deliver);
    }
}
