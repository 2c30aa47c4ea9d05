//! Where events live: the [`EventStore`] contract, kept in memory or in SQLite.

mod memory;
mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use angzarr_proto::{EventPage, Snapshot};

/// One aggregate's timeline: its domain, edition and root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregateKey {
    /// The aggregate type, e.g. `player`.
    pub domain: String,
    /// The timeline, `angzarr` for the main one.
    pub edition: String,
    /// The aggregate's identity.
    pub root: uuid::Uuid,
}

/// One stored page with where it belongs, for queries across aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedPage {
    /// The aggregate the page belongs to.
    pub key: AggregateKey,
    /// The page, as it was stored.
    pub page: EventPage,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another write got there first: the aggregate is at `actual`, not at
    /// the expected sequence.
    #[error("sequence conflict: expected to append at {expected}, aggregate at {actual}")]
    Conflict {
        /// Where the append expected the aggregate to be.
        expected: u32,
        /// Where it is.
        actual: u32,
    },
    /// A page to append has no explicit sequence, or sequences are not consecutive.
    #[error("page {index} to append has sequence {found:?}, expected {expected}")]
    BadSequence {
        /// Position of the page in the append.
        index: usize,
        /// The page's sequence, if any.
        found: Option<u32>,
        /// The sequence it should have.
        expected: u32,
    },
    /// The SQLite database failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored bytes do not decode (the database was changed by something else).
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
    /// The database was written by a newer angzarr-local.
    #[error("database schema version {found} is newer than this angzarr-local understands ({supported})")]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
}

/// Durable storage of events and snapshots, one timeline per [`AggregateKey`].
///
/// Appends are atomic: all pages of one append are stored, or none.
pub trait EventStore: Send + Sync + 'static {
    /// Pages with a sequence above `after` (all pages when `None`), in order.
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError>;

    /// The sequence the next page gets: the last page's sequence + 1, or 0.
    fn next_sequence(&self, key: &AggregateKey) -> Result<u32, StoreError>;

    /// The latest snapshot, if one was stored.
    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError>;

    /// Appends `pages` (explicit, consecutive sequences starting at `at`) and,
    /// if given, replaces the snapshot, atomically. Fails with
    /// [`StoreError::Conflict`] if the aggregate is not at `at`. `fact_id`
    /// records an external fact id, so that the same fact is stored once.
    fn append(
        &self,
        key: &AggregateKey,
        at: u32,
        pages: &[EventPage],
        snapshot: Option<&Snapshot>,
        correlation_id: &str,
        fact_id: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The pages stored for an external fact id, if it was seen before.
    fn fact(&self, key: &AggregateKey, fact_id: &str)
        -> Result<Option<Vec<EventPage>>, StoreError>;

    /// Every page appended with this correlation id, across aggregates, in
    /// the order they were stored.
    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError>;

    /// Every aggregate with at least one page.
    fn roots(&self) -> Result<Vec<AggregateKey>, StoreError>;
}

/// Checks that `pages` carry consecutive explicit sequences from `at`.
pub(crate) fn check_sequences(at: u32, pages: &[EventPage]) -> Result<(), StoreError> {
    for (index, page) in pages.iter().enumerate() {
        let expected = at + u32::try_from(index).unwrap_or(u32::MAX);
        if page.sequence() != Some(expected) {
            return Err(StoreError::BadSequence {
                index,
                found: page.sequence(),
                expected,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every store must have, run against each of them.

    use super::*;
    use angzarr_proto::{Any, AnyExt, NoOp};

    pub fn key(domain: &str, root: u128) -> AggregateKey {
        AggregateKey {
            domain: domain.to_owned(),
            edition: "angzarr".to_owned(),
            root: uuid::Uuid::from_u128(root),
        }
    }

    pub fn page(sequence: u32) -> EventPage {
        EventPage::new(
            sequence,
            Any::pack(&NoOp {
                original_sequence: sequence,
                ..Default::default()
            }),
        )
    }

    pub fn check(store: &dyn EventStore) {
        let player = key("player", 1);
        assert_eq!(store.next_sequence(&player).unwrap(), 0);
        assert!(store.pages(&player, None).unwrap().is_empty());

        store
            .append(&player, 0, &[page(0), page(1)], None, "c1", None)
            .unwrap();
        assert_eq!(store.next_sequence(&player).unwrap(), 2);
        assert!(matches!(
            store.append(&player, 1, &[page(1)], None, "c1", None),
            Err(StoreError::Conflict {
                expected: 1,
                actual: 2
            })
        ));
        assert!(matches!(
            store.append(&player, 2, &[page(3)], None, "c1", None),
            Err(StoreError::BadSequence {
                index: 0,
                found: Some(3),
                expected: 2
            })
        ));
        assert_eq!(
            store.next_sequence(&player).unwrap(),
            2,
            "failed appends leave nothing"
        );

        let snapshot = Snapshot {
            sequence: 2,
            state: Some(Any::pack(&NoOp::default())),
            retention: 0,
        };
        store
            .append(
                &player,
                2,
                &[page(2)],
                Some(&snapshot),
                "c2",
                Some("fact-1"),
            )
            .unwrap();
        assert_eq!(store.snapshot(&player).unwrap(), Some(snapshot));
        let after = store.pages(&player, Some(1)).unwrap();
        assert_eq!(
            after.iter().map(|p| p.sequence()).collect::<Vec<_>>(),
            [Some(2)]
        );
        assert_eq!(store.fact(&player, "fact-1").unwrap(), Some(vec![page(2)]));
        assert_eq!(store.fact(&player, "fact-2").unwrap(), None);

        let table = key("table", 9);
        store
            .append(&table, 0, &[page(0)], None, "c1", None)
            .unwrap();
        let correlated = store.correlated("c1").unwrap();
        let located: Vec<_> = correlated
            .iter()
            .map(|p| (p.key.domain.as_str(), p.page.sequence()))
            .collect();
        assert_eq!(
            located,
            [("player", Some(0)), ("player", Some(1)), ("table", Some(0))]
        );
        let mut roots = store.roots().unwrap();
        roots.sort();
        assert_eq!(roots, [player.clone(), table]);

        let edition = AggregateKey {
            edition: "what-if".to_owned(),
            ..player.clone()
        };
        assert_eq!(
            store.next_sequence(&edition).unwrap(),
            0,
            "editions are separate timelines"
        );
    }
}
