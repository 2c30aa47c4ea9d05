//! One lock per timeline, so that the commands of one aggregate (and the
//! triggers of one workflow) run one at a time. Entries live only while
//! someone holds or waits for them: the map stays as small as the work in
//! flight, however many aggregates exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::store::AggregateKey;

type Entry = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub(crate) struct Locks {
    map: Mutex<HashMap<AggregateKey, Entry>>,
}

/// A held lock; releasing it removes the entry when nobody else uses it.
pub(crate) struct Held<'a> {
    locks: &'a Locks,
    key: AggregateKey,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Locks {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<AggregateKey, Entry>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for `key`'s lock.
    pub async fn lock(&self, key: &AggregateKey) -> Held<'_> {
        let entry = Arc::clone(self.map().entry(key.clone()).or_default());
        let guard = entry.lock_owned().await;
        Held {
            locks: self,
            key: key.clone(),
            guard: Some(guard),
        }
    }

    /// How many timelines have an entry (held or awaited).
    pub fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map();
        // Only the map's own reference left: nobody holds or awaits it.
        if map
            .get(&self.key)
            .is_some_and(|entry| Arc::strong_count(entry) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> AggregateKey {
        AggregateKey {
            domain: "player".into(),
            edition: "angzarr".into(),
            root: uuid::Uuid::from_u128(n),
        }
    }

    #[tokio::test]
    async fn entries_go_when_released() {
        let locks = Locks::default();
        for n in 0..1000 {
            let _held = locks.lock(&key(n)).await;
            assert_eq!(locks.len(), 1);
        }
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_keeps_the_entry_and_gets_the_lock() {
        let locks = Arc::new(Locks::default());
        let first = locks.lock(&key(1)).await;
        let waiter = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move {
                let _held = locks.lock(&key(1)).await;
            })
        };
        while locks
            .map()
            .get(&key(1))
            .is_none_or(|entry| Arc::strong_count(entry) < 3)
        {
            tokio::task::yield_now().await;
        }
        drop(first);
        assert_eq!(locks.len(), 1, "the waiter still needs it");
        waiter.await.unwrap();
        assert_eq!(locks.len(), 0);
    }
}
