use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use angzarr_proto::{EventBook, EventPage, Snapshot};
use prost::Message;

use super::{
    after, check_sequences, AggregateKey, Append, DeadLetter, EventStore, LocatedPage, OutboxEntry,
    Outcome, StoreError, Undelivered,
};

/// An [`EventStore`] in memory: for tests, gone when dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    timelines: HashMap<AggregateKey, Timeline>,
    /// (key, sequence, correlation id) in append order.
    log: Vec<(AggregateKey, u32, String)>,
    outbox: BTreeMap<u64, OutboxEntry>,
    outbox_head: u64,
    positions: HashMap<String, u64>,
    /// Each outcome with when it was recorded.
    outcomes: HashMap<String, (Outcome, SystemTime)>,
    dead_letters: BTreeMap<u64, DeadLetter>,
    last_dead_letter: u64,
}

#[derive(Default)]
struct Timeline {
    pages: Vec<EventPage>,
    snapshot: Option<Snapshot>,
    facts: HashMap<String, (u32, usize)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-done append:
        // appends mutate only after every check passed.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn next_of(timeline: Option<&Timeline>) -> Result<u32, StoreError> {
    match timeline
        .and_then(|t| t.pages.last())
        .and_then(EventPage::sequence)
    {
        None => Ok(0),
        Some(last) => after(last),
    }
}

impl EventStore for MemoryStore {
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError> {
        let inner = self.lock();
        Ok(inner.timelines.get(key).map_or_else(Vec::new, |timeline| {
            // Appends keep pages in sequence order, so the tail is a slice.
            let start = after.map_or(0, |after| {
                timeline
                    .pages
                    .partition_point(|page| page.sequence().is_some_and(|s| s <= after))
            });
            timeline.pages[start..].to_vec()
        }))
    }

    fn next_sequence(&self, key: &AggregateKey) -> Result<u32, StoreError> {
        next_of(self.lock().timelines.get(key))
    }

    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError> {
        Ok(self
            .lock()
            .timelines
            .get(key)
            .and_then(|t| t.snapshot.clone()))
    }

    fn append(&self, append: &Append<'_>) -> Result<Option<u64>, StoreError> {
        check_sequences(append.at, append.pages)?;
        let book = append
            .publish
            .map(|publication| {
                EventBook::decode(publication.book)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))
            })
            .transpose()?;
        let mut inner = self.lock();
        let key = append.key;
        let actual = next_of(inner.timelines.get(key))?;
        if actual != append.at {
            return Err(StoreError::Conflict {
                expected: append.at,
                actual,
            });
        }
        let Inner {
            timelines,
            log,
            outbox,
            outbox_head,
            outcomes,
            ..
        } = &mut *inner;
        let timeline = timelines.entry(key.clone()).or_default();
        for page in append.pages {
            if let Some(sequence) = page.sequence() {
                log.push((key.clone(), sequence, append.correlation_id.to_owned()));
            }
        }
        timeline.pages.extend_from_slice(append.pages);
        if let Some(snapshot) = append.snapshot {
            timeline.snapshot = Some(snapshot.clone());
        }
        if let Some((id, first, count)) = append.fact_range() {
            timeline.facts.insert(id.to_owned(), (first, count));
        }
        let mut published = None;
        if let (Some(publication), Some(book)) = (append.publish, book) {
            *outbox_head += 1;
            outbox.insert(
                *outbox_head,
                OutboxEntry {
                    id: *outbox_head,
                    domain: publication.domain.to_owned(),
                    claim: publication.claim,
                    consumer: None,
                    book,
                },
            );
            published = Some(*outbox_head);
        }
        if let Some((outcome_key, outcome)) = append.outcome {
            outcomes
                .entry(outcome_key.to_owned())
                .or_insert_with(|| (outcome.clone(), SystemTime::now()));
        }
        Ok(published)
    }

    fn fact(
        &self,
        key: &AggregateKey,
        fact_id: &str,
    ) -> Result<Option<Vec<EventPage>>, StoreError> {
        let inner = self.lock();
        Ok(inner.timelines.get(key).and_then(|timeline| {
            timeline.facts.get(fact_id).map(|&(at, count)| {
                let start = timeline
                    .pages
                    .partition_point(|page| page.sequence().is_some_and(|s| s < at));
                timeline.pages[start..]
                    .iter()
                    .take(count)
                    .cloned()
                    .collect()
            })
        }))
    }

    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .log
            .iter()
            .filter(|(_, _, correlation)| {
                !correlation_id.is_empty() && correlation == correlation_id
            })
            .filter_map(|(key, sequence, _)| {
                let timeline = inner.timelines.get(key)?;
                let index = timeline
                    .pages
                    .binary_search_by_key(&Some(*sequence), EventPage::sequence)
                    .ok()?;
                Some(LocatedPage {
                    key: key.clone(),
                    page: timeline.pages[index].clone(),
                })
            })
            .collect())
    }

    fn roots(&self) -> Result<Vec<AggregateKey>, StoreError> {
        Ok(self
            .lock()
            .timelines
            .iter()
            .filter(|(_, timeline)| !timeline.pages.is_empty())
            .map(|(key, _)| key.clone())
            .collect())
    }

    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .outbox
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, entry)| entry.clone())
            .collect())
    }

    fn outbox_head(&self) -> Result<u64, StoreError> {
        Ok(self.lock().outbox_head)
    }

    fn prune_outbox(&self, through: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let kept = inner.outbox.split_off(&through.saturating_add(1));
        inner.outbox = kept;
        Ok(())
    }

    fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().positions.get(consumer).copied())
    }

    fn set_position(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        self.lock().positions.insert(consumer.to_owned(), position);
        Ok(())
    }

    fn lowest_position(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().positions.values().min().copied())
    }

    fn outcome(&self, key: &str) -> Result<Option<Outcome>, StoreError> {
        Ok(self
            .lock()
            .outcomes
            .get(key)
            .map(|(outcome, _)| outcome.clone()))
    }

    fn record_outcome(&self, key: &str, outcome: &Outcome) -> Result<(), StoreError> {
        self.lock()
            .outcomes
            .entry(key.to_owned())
            .or_insert_with(|| (outcome.clone(), SystemTime::now()));
        Ok(())
    }

    fn prune_outcomes(&self, recorded_before: SystemTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let before = inner.outcomes.len();
        inner
            .outcomes
            .retain(|_, (_, recorded)| *recorded >= recorded_before);
        Ok((before - inner.outcomes.len()) as u64)
    }

    fn dead_letter(&self, letter: &Undelivered<'_>) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        inner.last_dead_letter += 1;
        let id = inner.last_dead_letter;
        inner.dead_letters.insert(
            id,
            DeadLetter {
                id,
                consumer: letter.consumer.to_owned(),
                entry: letter.entry.id,
                domain: letter.entry.domain.clone(),
                book: letter.entry.book.clone(),
                code: letter.code,
                message: letter.message.to_owned(),
                attempts: letter.attempts,
                recorded_at: SystemTime::now(),
            },
        );
        if letter.advance {
            inner
                .positions
                .insert(letter.consumer.to_owned(), letter.entry.id);
        }
        Ok(id)
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self.lock().dead_letters.values().cloned().collect())
    }

    fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, StoreError> {
        let mut inner = self.lock();
        let Some(letter) = inner.dead_letters.remove(&id) else {
            return Ok(None);
        };
        inner.outbox_head += 1;
        let entry = inner.outbox_head;
        inner.outbox.insert(
            entry,
            OutboxEntry {
                id: entry,
                domain: letter.domain,
                claim: None,
                consumer: Some(letter.consumer),
                book: letter.book,
            },
        );
        Ok(Some(entry))
    }

    fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.lock().dead_letters.remove(&id))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn honours_the_store_contract() {
        super::super::contract::check(&super::MemoryStore::new());
    }
}
