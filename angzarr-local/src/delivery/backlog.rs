//! What each projector has yet to receive, aggregate by aggregate, so that
//! a synchronous delivery never overtakes an earlier book of the same
//! aggregate still queued for it (an ASYNC command's, a saga's):
//! the synchronous delivery waits for the outbox to deliver the earlier
//! ones (at most the call deadline), else leaves its book to the outbox,
//! which delivers in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use angzarr_proto::{EventBook, DEFAULT_EDITION};
use tokio::sync::Notify;

use crate::registry::{Consumer, ConsumerLogic};
use crate::store::{EventStore, StoreError};

/// An aggregate as a book's cover names it: domain, edition, root bytes.
type Aggregate = (String, String, Vec<u8>);

fn aggregate_of(book: &EventBook) -> Aggregate {
    let Some(cover) = book.cover.as_ref() else {
        return Aggregate::default();
    };
    // A cover without an edition and one naming the main timeline are one
    // timeline (a saga's command is given its source's edition by name).
    let edition = cover
        .edition
        .as_ref()
        .map(|edition| edition.name.as_str())
        .filter(|name| !name.is_empty())
        .unwrap_or(DEFAULT_EDITION);
    (
        cover.domain.clone(),
        edition.to_owned(),
        cover
            .root
            .as_ref()
            .map(|root| root.value.clone())
            .unwrap_or_default(),
    )
}

/// Whether `consumer`'s order is kept against synchronous deliveries.
fn tracked(consumer: &Consumer) -> bool {
    matches!(consumer.logic, ConsumerLogic::Projector(_))
}

/// Per (projector, aggregate), how many published books the projector has
/// not received yet. Sagas and process managers are not tracked: within a
/// cascade, depth first, a saga's own command can write a later book of an
/// aggregate before the next consumer has the earlier one, and waiting for
/// it would wait for itself. Counts may dip below zero for a moment (a worker can
/// deliver an entry before its writer has counted it); they are only ever
/// compared with one.
#[derive(Default)]
pub(crate) struct Backlog {
    counts: Mutex<HashMap<(usize, Aggregate), i64>>,
    /// Told whenever a consumer receives a book.
    received: Notify,
}

impl Backlog {
    /// The backlog the outbox holds at startup: every entry after each
    /// consumer's position that the consumer wants.
    pub fn scan(store: &dyn EventStore, consumers: &[Arc<Consumer>]) -> Result<Self, StoreError> {
        let backlog = Backlog::default();
        for consumer in consumers {
            let mut after = store.position(&consumer.position_key)?.unwrap_or_default();
            loop {
                let entries = store.outbox_after(after, 256)?;
                let Some(last) = entries.last() else { break };
                after = last.id;
                for entry in entries.iter().filter(|entry| entry.consumer.is_none()) {
                    if tracked(consumer) && consumer.wants(&entry.book) {
                        backlog.add(consumer.index, &entry.book, 1);
                    }
                }
            }
        }
        Ok(backlog)
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<(usize, Aggregate), i64>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, consumer: usize, book: &EventBook, delta: i64) {
        let key = (consumer, aggregate_of(book));
        let mut counts = self.counts();
        match counts.get_mut(&key) {
            Some(count) => {
                *count += delta;
                if *count == 0 {
                    counts.remove(&key);
                }
            }
            None => {
                counts.insert(key, delta);
            }
        }
    }

    /// `book` was queued for every consumer that wants it.
    pub fn published(&self, consumers: &[Arc<Consumer>], book: &EventBook) {
        for consumer in consumers
            .iter()
            .filter(|consumer| tracked(consumer) && consumer.wants(book))
        {
            self.add(consumer.index, book, 1);
        }
    }

    /// `consumer` received `book` (or set it aside as a dead letter).
    pub fn received(&self, consumer: &Consumer, book: &EventBook) {
        if tracked(consumer) {
            self.add(consumer.index, book, -1);
            self.received.notify_waiters();
        }
    }

    /// Waits, at most `patience`, until `book` is the next one of its
    /// aggregate for `consumer` (the outbox delivered the earlier ones);
    /// false when it still is not.
    pub async fn caught_up(
        &self,
        consumer: &Consumer,
        book: &EventBook,
        patience: Duration,
    ) -> bool {
        if !tracked(consumer) {
            return true;
        }
        let consumer = consumer.index;
        let waiting = async {
            loop {
                let mut received = std::pin::pin!(self.received.notified());
                received.as_mut().enable();
                if self.is_next(consumer, book) {
                    return;
                }
                received.await;
            }
        };
        tokio::time::timeout(patience, waiting).await.is_ok()
    }

    /// Whether `book`, published, is the only one of its aggregate that
    /// `consumer` has yet to receive: delivering it now keeps the order.
    pub fn is_next(&self, consumer: usize, book: &EventBook) -> bool {
        self.counts()
            .get(&(consumer, aggregate_of(book)))
            .is_none_or(|&count| count <= 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::Cover;

    fn book(cover: Cover) -> EventBook {
        EventBook {
            cover: Some(cover),
            ..Default::default()
        }
    }

    #[test]
    fn no_edition_and_the_main_edition_by_name_are_one_timeline() {
        let root = uuid::Uuid::from_u128(7);
        let unnamed = book(Cover::new("account", root));
        let named = book(Cover::new("account", root).with_edition("angzarr"));
        let other = book(Cover::new("account", root).with_edition("what-if"));
        let backlog = Backlog::default();
        backlog.add(0, &unnamed, 1);
        backlog.add(0, &named, 1);
        assert!(
            !backlog.is_next(0, &unnamed),
            "two books of one timeline queued"
        );
        assert!(
            backlog.is_next(0, &other),
            "another edition is another timeline"
        );
        assert!(backlog.is_next(1, &named), "another consumer");
        backlog.add(0, &named, -1);
        assert!(backlog.is_next(0, &unnamed));
        backlog.add(0, &unnamed, -1);
        assert!(backlog.counts().is_empty(), "nothing left behind");
    }
}
