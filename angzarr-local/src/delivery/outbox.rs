//! The outbox workers: one per consumer, walking the store's outbox from
//! the consumer's stored position.

use std::sync::Arc;

use tonic::Status;

use super::claims::{covers, Visit};
use super::consumers::Path;
use super::{Report, SettleError};
use crate::component::unreachable;
use crate::coordinator::Coordinator;
use crate::registry::Consumer;
use crate::store::{DeadLetter, EventStore, OutboxEntry, StoreError, Undelivered};

/// Gives every consumer without a stored position one at the outbox's
/// head: a consumer registered for the first time receives the books
/// written from then on.
pub(crate) fn initial_positions(
    store: &dyn EventStore,
    consumers: &[Arc<Consumer>],
) -> Result<(), StoreError> {
    let head = store.outbox_head()?;
    for consumer in consumers {
        if store.position(&consumer.position_key)?.is_none() {
            store.set_position(&consumer.position_key, head)?;
        }
    }
    Ok(())
}

impl Coordinator {
    /// Starts the outbox workers, one per consumer (once; later calls do
    /// nothing). They run on the current Tokio runtime until
    /// [`stop_delivery`](Self::stop_delivery).
    pub fn start_delivery(self: &Arc<Self>) {
        if !self.delivery().start_once() {
            return;
        }
        for consumer in &self.registry().consumers {
            tokio::spawn(worker(Arc::clone(self), Arc::clone(consumer)));
        }
        tokio::spawn(forget_old_outcomes(Arc::clone(self)));
        tokio::spawn(watch_outbox(Arc::clone(self)));
    }

    /// Stops the outbox workers after the delivery in flight; each keeps its
    /// position, so the next run resumes there.
    pub fn stop_delivery(&self) {
        self.delivery().stop();
    }

    /// Waits until delivery has nothing left to do: every consumer has
    /// processed every book in the outbox (delivered it, set it aside as a
    /// dead letter, or skipped it as not its own), including the books those
    /// deliveries wrote in turn (a saga's command, a process manager's
    /// events). [`SettleError::DeadLetters`] when dead letters are left (of
    /// this run or an earlier one). Needs delivery started; waits as long as
    /// a consumer cannot be reached, retries are left, or commands keep
    /// coming.
    pub async fn settled(&self) -> Result<(), SettleError> {
        self.caught_up().await.map_err(SettleError::Store)?;
        let letters = self
            .blocking(|store| store.dead_letters())
            .await
            .map_err(SettleError::Store)?;
        if letters.is_empty() {
            Ok(())
        } else {
            Err(SettleError::DeadLetters(letters))
        }
    }

    /// Every dead letter, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, Status> {
        self.blocking(|store| store.dead_letters()).await
    }

    /// Queues dead letter `id` again for its consumer alone (after the books
    /// it has processed since); the new outbox entry's id, or `None` when
    /// there is no such dead letter.
    pub async fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, Status> {
        let entry = self
            .blocking(move |store| store.replay_dead_letter(id))
            .await?;
        if let Some(entry) = entry {
            tracing::info!(dead_letter = id, entry, "dead letter queued again");
            self.delivery().wake(entry);
        }
        Ok(entry)
    }

    /// Removes dead letter `id` for good; it, or `None` when there is none.
    pub async fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, Status> {
        let letter = self
            .blocking(move |store| store.discard_dead_letter(id))
            .await?;
        if letter.is_some() {
            tracing::info!(dead_letter = id, "dead letter discarded");
        }
        Ok(letter)
    }

    /// Waits until every consumer has processed the outbox to its head.
    async fn caught_up(&self) -> Result<(), Status> {
        let consumers: Vec<usize> = self
            .registry()
            .consumers
            .iter()
            .map(|consumer| consumer.index)
            .collect();
        let mut head = self.blocking(|store| store.outbox_head()).await?;
        loop {
            self.delivery().reached(&consumers, head).await;
            // A consumer's position moves past a book only once what the
            // book caused is written: an unchanged head means quiet.
            let now = self.blocking(|store| store.outbox_head()).await?;
            if now == head {
                return Ok(());
            }
            head = now;
        }
    }
}

async fn worker(coordinator: Arc<Coordinator>, consumer: Arc<Consumer>) {
    let delivery = coordinator.delivery();
    let mut wake = delivery.wake.subscribe();
    let mut stop = delivery.stop.subscribe();
    let position_key = consumer.position_key.clone();
    let lookup = position_key.clone();
    let mut position = match coordinator
        .blocking(move |store| store.position(&lookup))
        .await
    {
        Ok(position) => position.unwrap_or_default(),
        Err(status) => {
            tracing::error!(consumer = %consumer.name, error = status.message(), "no outbox position: delivery to it stopped");
            return;
        }
    };
    tracing::debug!(consumer = %consumer.name, position, "outbox worker started");
    delivery.advanced(consumer.index, position);
    let batch = delivery.options.batch.max(1);
    let mut pruned = position;
    loop {
        if *stop.borrow() {
            return;
        }
        wake.borrow_and_update();
        let entries = match coordinator
            .blocking(move |store| store.outbox_after(position, batch))
            .await
        {
            Ok(entries) => entries,
            Err(status) => {
                tracing::error!(consumer = %consumer.name, error = status.message(), "cannot read the outbox");
                if pause(&mut stop, delivery.options.retry_max).await {
                    return;
                }
                continue;
            }
        };
        if entries.is_empty() {
            if position > pruned {
                pruned = position;
                prune(&coordinator).await;
            }
            tokio::select! {
                _ = wake.changed() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for entry in entries {
            let addressed = entry
                .consumer
                .as_deref()
                .is_none_or(|only| only == position_key);
            if addressed && consumer.wants(&entry.book) {
                let delivered = deliver(&coordinator, &consumer, &entry, &mut stop).await;
                if entry.consumer.is_none()
                    && matches!(delivered, Ok(Delivered::Done | Delivered::SetAside))
                {
                    delivery.backlog().received(&consumer, &entry.book);
                }
                match delivered {
                    Err(()) => return,
                    Ok(Delivered::SetAside) => {
                        // Its position moved with the dead letter.
                        position = entry.id;
                        delivery.advanced(consumer.index, position);
                        continue;
                    }
                    Ok(Delivered::Done | Delivered::Served) => {}
                }
            }
            position = entry.id;
            let key = position_key.clone();
            if let Err(status) = coordinator
                .blocking(move |store| store.set_position(&key, position))
                .await
            {
                tracing::error!(consumer = %consumer.name, error = status.message(), "cannot store the outbox position");
            }
            delivery.advanced(consumer.index, position);
        }
    }
}

/// How one entry's delivery ended.
enum Delivered {
    /// The consumer took it.
    Done,
    /// A synchronous delivery had served it already.
    Served,
    /// It failed every attempt and is a dead letter now; the consumer's
    /// position moved past it in the same write.
    SetAside,
}

/// Delivers one entry, retrying with backoff until it succeeds or its
/// attempts run out; `Err` when delivery was stopped first.
async fn deliver(
    coordinator: &Coordinator,
    consumer: &Consumer,
    entry: &OutboxEntry,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Delivered, ()> {
    let delivery = coordinator.delivery();
    if let Some(claim) = entry.claim {
        if claim.run == delivery.run() && covers(claim.reach, consumer) {
            let visit = tokio::select! {
                visit = delivery.claims.visit(claim.token, consumer.index) => visit,
                _ = stop.changed() => return Err(()),
            };
            if visit == Visit::Skip {
                return Ok(Delivered::Served);
            }
        }
    }
    let options = delivery.options;
    let max_attempts = options.max_attempts.max(1);
    let mut wait = options.retry_initial;
    let mut attempt: u32 = 1;
    let mut failed: u32 = 0;
    loop {
        let mut report = Report::default();
        let result: Result<(), Status> = tokio::select! {
            result = coordinator.deliver_to(consumer, &entry.book, Path::Outbox, &mut report) => result,
            _ = stop.changed() => return Err(()),
        };
        match result {
            Ok(()) => {
                if attempt > 1 {
                    tracing::info!(consumer = %consumer.name, entry = entry.id, attempt, "delivered after retrying");
                }
                return Ok(Delivered::Done);
            }
            Err(status) => {
                if !unreachable(&status) {
                    failed = failed.saturating_add(1);
                }
                if failed >= max_attempts {
                    if set_aside(coordinator, consumer, entry, &status, failed).await {
                        return Ok(Delivered::SetAside);
                    }
                } else {
                    tracing::warn!(
                        consumer = %consumer.name,
                        kind = %consumer.kind(),
                        entry = entry.id,
                        domain = entry.domain,
                        attempt,
                        failed,
                        max_attempts,
                        unreachable = unreachable(&status),
                        retry_in_ms = wait.as_millis() as u64,
                        error = %format!("{}: {}", status.code(), status.message()),
                        "delivery failed; retrying"
                    );
                }
                if pause(stop, wait).await {
                    return Err(());
                }
                wait = (wait * 2).min(options.retry_max);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Records `entry` as a dead letter of `consumer`, moving its position past
/// it; false when the store refused (the caller tries again later).
async fn set_aside(
    coordinator: &Coordinator,
    consumer: &Consumer,
    entry: &OutboxEntry,
    status: &Status,
    attempts: u32,
) -> bool {
    let key = consumer.position_key.clone();
    let letter_entry = entry.clone();
    let code = status.code() as i32;
    let message = status.message().to_owned();
    let recorded = coordinator
        .blocking(move |store| {
            store.dead_letter(&Undelivered {
                consumer: &key,
                entry: &letter_entry,
                code,
                message: &message,
                attempts,
                advance: true,
            })
        })
        .await;
    match recorded {
        Ok(id) => {
            tracing::error!(
                consumer = %consumer.name,
                kind = %consumer.kind(),
                entry = entry.id,
                domain = entry.domain,
                attempts,
                dead_letter = id,
                error = %format!("{}: {}", status.code(), status.message()),
                "delivery failed every attempt: the book is a dead letter, and the consumer moves on"
            );
            true
        }
        Err(store_error) => {
            tracing::error!(consumer = %consumer.name, entry = entry.id, error = store_error.message(), "cannot record a dead letter");
            false
        }
    }
}

/// How often the outbox is checked for entries written by another process
/// (`angzarr-local dead-letters --replay` on the same database file).
const OUTBOX_WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// Wakes the workers when the outbox grew without this process writing it.
async fn watch_outbox(coordinator: Arc<Coordinator>) {
    let delivery = coordinator.delivery();
    let mut stop = delivery.stop.subscribe();
    loop {
        if pause(&mut stop, OUTBOX_WATCH).await {
            return;
        }
        if let Ok(head) = coordinator.blocking(|store| store.outbox_head()).await {
            delivery.wake(head);
        }
    }
}

/// Waits `wait`; true when delivery was stopped meanwhile.
async fn pause(stop: &mut tokio::sync::watch::Receiver<bool>, wait: std::time::Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// How often outcomes past their retention are removed.
const OUTCOME_PRUNING: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the outcomes older than their retention: when delivery starts,
/// then every ten minutes until it stops.
async fn forget_old_outcomes(coordinator: Arc<Coordinator>) {
    let delivery = coordinator.delivery();
    let mut stop = delivery.stop.subscribe();
    let retention = delivery.options.outcome_retention;
    loop {
        let before = std::time::SystemTime::now()
            .checked_sub(retention)
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        match coordinator
            .blocking(move |store| store.prune_outcomes(before))
            .await
        {
            Ok(0) => {}
            Ok(removed) => {
                tracing::debug!(removed, ?retention, "outcomes past their retention removed")
            }
            Err(status) => tracing::warn!(error = status.message(), "cannot remove old outcomes"),
        }
        if pause(&mut stop, OUTCOME_PRUNING).await {
            return;
        }
    }
}

/// Removes outbox entries every consumer ever registered has processed.
async fn prune(coordinator: &Coordinator) {
    let result = coordinator
        .blocking(|store| {
            if let Some(lowest) = store.lowest_position()? {
                store.prune_outbox(lowest)?;
            }
            Ok(())
        })
        .await;
    if let Err(status) = result {
        tracing::warn!(error = status.message(), "cannot prune the outbox");
    }
}
