use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use angzarr_proto::{EventPage, Snapshot};

use super::{check_sequences, AggregateKey, EventStore, LocatedPage, StoreError};

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
}

#[derive(Default)]
struct Timeline {
    pages: Vec<EventPage>,
    snapshot: Option<Snapshot>,
    facts: HashMap<String, (u32, u32)>,
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

fn next_of(timeline: Option<&Timeline>) -> u32 {
    timeline
        .and_then(|t| t.pages.last())
        .and_then(EventPage::sequence)
        .map_or(0, |last| last + 1)
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
        Ok(next_of(self.lock().timelines.get(key)))
    }

    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError> {
        Ok(self
            .lock()
            .timelines
            .get(key)
            .and_then(|t| t.snapshot.clone()))
    }

    fn append(
        &self,
        key: &AggregateKey,
        at: u32,
        pages: &[EventPage],
        snapshot: Option<&Snapshot>,
        correlation_id: &str,
        fact_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let actual = next_of(inner.timelines.get(key));
        if actual != at {
            return Err(StoreError::Conflict {
                expected: at,
                actual,
            });
        }
        check_sequences(at, pages)?;
        let Inner { timelines, log } = &mut *inner;
        let timeline = timelines.entry(key.clone()).or_default();
        for page in pages {
            if let Some(sequence) = page.sequence() {
                log.push((key.clone(), sequence, correlation_id.to_owned()));
            }
        }
        timeline.pages.extend_from_slice(pages);
        if let Some(snapshot) = snapshot {
            timeline.snapshot = Some(snapshot.clone());
        }
        if let Some(fact_id) = fact_id {
            let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
            timeline.facts.insert(fact_id.to_owned(), (at, count));
        }
        Ok(())
    }

    fn fact(
        &self,
        key: &AggregateKey,
        fact_id: &str,
    ) -> Result<Option<Vec<EventPage>>, StoreError> {
        let inner = self.lock();
        Ok(inner.timelines.get(key).and_then(|timeline| {
            timeline.facts.get(fact_id).map(|&(at, count)| {
                timeline
                    .pages
                    .iter()
                    .filter(|p| p.sequence().is_some_and(|s| s >= at && s < at + count))
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
                let page = timeline
                    .pages
                    .iter()
                    .find(|p| p.sequence() == Some(*sequence))?;
                Some(LocatedPage {
                    key: key.clone(),
                    page: page.clone(),
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
}

#[cfg(test)]
mod tests {
    #[test]
    fn honours_the_store_contract() {
        super::super::contract::check(&super::MemoryStore::new());
    }
}
