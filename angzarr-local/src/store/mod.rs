//! Where events live: the [`EventStore`] contract, kept in memory or in SQLite.
//!
//! Besides timelines, snapshots and facts, a store keeps what delivery needs
//! to survive a restart: the outbox of books waiting for consumers, each
//! consumer's position in it, and the recorded outcomes that make saga and
//! process-manager commands run at most once.

mod commit;
mod memory;
mod sqlite;

pub(crate) use commit::{Committer, QueuedAppend};
use std::time::SystemTime;

pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, Synchronous};

use angzarr_proto::{EventBook, EventPage, Snapshot};

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

/// Which consumers a synchronous command delivers its book to itself, so
/// that the outbox leaves them alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncReach {
    /// `SYNC_MODE_SIMPLE`: projectors.
    Projectors,
    /// `SYNC_MODE_CASCADE`: every consumer.
    Everyone,
}

/// A synchronous delivery in progress: the run of the coordinator that
/// started it, its token within that run, and whom it reaches. A claim of an
/// earlier run was cut short by a restart, so the outbox delivers that book
/// as if unclaimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claim {
    /// The coordinator run that claimed the book.
    pub run: u64,
    /// Which synchronous delivery of that run.
    pub token: u64,
    /// The consumers it delivers to.
    pub reach: SyncReach,
}

/// A book to deliver to consumers, stored with the events that made it.
#[derive(Debug, Clone, Copy)]
pub struct Publication<'a> {
    /// The book's domain (consumers subscribe by domain).
    pub domain: &'a str,
    /// The encoded [`EventBook`].
    pub book: &'a [u8],
    /// Set when the writer delivers the book itself.
    pub claim: Option<Claim>,
}

/// One book in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Its place in delivery order (increasing, never reused).
    pub id: u64,
    /// The book's domain.
    pub domain: String,
    /// The synchronous delivery that claimed it, if any.
    pub claim: Option<Claim>,
    /// The one consumer (its position key, `{kind}:{name}`) this entry is
    /// for, when it is a replayed dead letter; `None` for every consumer
    /// that wants the book.
    pub consumer: Option<String>,
    /// The book: cover, newly stored pages, snapshot, next sequence.
    pub book: EventBook,
}

/// A book a consumer kept failing, set aside so that the consumer could
/// move on: what it was, who failed it, and the last error.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Its number (increasing, never reused).
    pub id: u64,
    /// The consumer that failed it: its position key, `{kind}:{name}`
    /// (`saga:saga-table-player`, `projector:seating`, ...).
    pub consumer: String,
    /// The outbox entry the book was delivered from.
    pub entry: u64,
    /// The book's domain.
    pub domain: String,
    /// The book, as it was queued.
    pub book: EventBook,
    /// The gRPC status code of the last attempt.
    pub code: i32,
    /// The status message of the last attempt.
    pub message: String,
    /// How many attempts failed.
    pub attempts: u32,
    /// When it was set aside.
    pub recorded_at: SystemTime,
}

impl DeadLetter {
    /// The last attempt's status code.
    pub fn code(&self) -> tonic::Code {
        tonic::Code::from_i32(self.code)
    }
}

/// A dead letter to record: see [`EventStore::dead_letter`].
#[derive(Debug, Clone, Copy)]
pub struct Undelivered<'a> {
    /// The consumer's position key.
    pub consumer: &'a str,
    /// The outbox entry it failed: the consumer's position moves there.
    pub entry: &'a OutboxEntry,
    /// The last attempt's status code.
    pub code: i32,
    /// The last attempt's status message.
    pub message: &'a str,
    /// How many attempts failed.
    pub attempts: u32,
    /// Whether the consumer's position moves to the entry (the outbox gave
    /// up on it) or stays (a synchronous delivery set it aside, and the
    /// outbox skips it when it gets there).
    pub advance: bool,
}

/// The recorded result of a command run at most once: OK (`code` 0) with the
/// encoded response in `body`, or the status it was refused with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The gRPC status code, 0 for OK.
    pub code: i32,
    /// The status message (empty when OK).
    pub message: String,
    /// The encoded response when OK.
    pub body: Vec<u8>,
}

/// Everything one atomic write stores.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    /// The timeline written.
    pub key: &'a AggregateKey,
    /// Where the timeline must be: the first page's sequence.
    pub at: u32,
    /// The pages, with explicit consecutive sequences from `at`.
    pub pages: &'a [EventPage],
    /// A snapshot replacing the stored one.
    pub snapshot: Option<&'a Snapshot>,
    /// Recorded with every page, for queries by correlation id.
    pub correlation_id: &'a str,
    /// The external fact these pages record, so that it is stored once.
    pub fact: Option<Fact<'a>>,
    /// The book for consumers, queued in the same transaction.
    pub publish: Option<Publication<'a>>,
    /// An outcome recorded under its key in the same transaction.
    pub outcome: Option<(&'a str, &'a Outcome)>,
}

/// An external fact an [`Append`] records.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    /// The fact's external id.
    pub id: &'a str,
    /// The sequence of the fact's first page: its pages are the append's
    /// from there on (a named edition's first write carries the main
    /// timeline's prefix before them).
    pub first: u32,
}

impl Append<'_> {
    /// The fact recorded: its id, first sequence and number of pages.
    pub(crate) fn fact_range(&self) -> Option<(&str, u32, usize)> {
        let fact = self.fact?;
        let end = u64::from(self.at) + self.pages.len() as u64;
        let count = end.saturating_sub(u64::from(fact.first));
        Some((
            fact.id,
            fact.first,
            usize::try_from(count).unwrap_or(usize::MAX),
        ))
    }
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
    /// The timeline holds an event at sequence `u32::MAX`, the last one the
    /// wire can express, or an append would go past it.
    #[error("the sequence space is exhausted: no sequence after {last}")]
    SequenceExhausted {
        /// The last sequence used or asked for.
        last: u32,
    },
    /// The SQLite database failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored bytes do not decode (the database was changed by something else).
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
    /// The transaction holding this append together with others failed as a
    /// whole (it was rolled back or did not commit): none of them is stored.
    #[error("the transaction holding this append failed: {0}")]
    Transaction(String),
    /// The database was written by a newer angzarr-local.
    #[error("database schema version {found} is newer than this angzarr-local understands ({supported})")]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
}

/// Durable storage of events and snapshots, one timeline per [`AggregateKey`],
/// with the outbox, consumer positions and outcomes delivery relies on.
///
/// Appends are atomic: the pages, snapshot, fact id, outbox entry and
/// outcome of one [`Append`] are all stored, or none.
pub trait EventStore: Send + Sync + 'static {
    /// Pages with a sequence above `after` (all pages when `None`), in order.
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError>;

    /// The sequence the next page gets: the last page's sequence + 1, or 0.
    /// [`StoreError::SequenceExhausted`] when the last page is at `u32::MAX`.
    fn next_sequence(&self, key: &AggregateKey) -> Result<u32, StoreError>;

    /// The latest snapshot, if one was stored.
    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError>;

    /// Stores one [`Append`] atomically; fails with [`StoreError::Conflict`]
    /// if the timeline is not at `append.at`. Returns the outbox id of the
    /// published book, if one was given.
    fn append(&self, append: &Append<'_>) -> Result<Option<u64>, StoreError>;

    /// Stores several [`Append`]s, each atomically and on its own terms as
    /// [`append`](Self::append) does, in order: an append fails alone
    /// (a conflict, say) and the others are still stored, and an append sees
    /// those before it (two to one timeline from the same sequence: the
    /// second conflicts). Every stored append is durable when this returns,
    /// so that a caller acknowledges nothing before its commit; a store may
    /// commit them all in one transaction, which is what makes writes under
    /// load cheap. One result per append, in the same order.
    fn append_all(&self, appends: &[Append<'_>]) -> Vec<Result<Option<u64>, StoreError>> {
        appends.iter().map(|append| self.append(append)).collect()
    }

    /// The pages stored for an external fact id, if it was seen before.
    fn fact(&self, key: &AggregateKey, fact_id: &str)
        -> Result<Option<Vec<EventPage>>, StoreError>;

    /// Every page appended with this correlation id, across aggregates, in
    /// the order they were stored.
    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError>;

    /// Every aggregate with at least one page.
    fn roots(&self) -> Result<Vec<AggregateKey>, StoreError>;

    /// Up to `limit` outbox entries with an id above `after`, in order.
    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// The highest outbox id ever given (0 before the first).
    fn outbox_head(&self) -> Result<u64, StoreError>;

    /// Removes outbox entries with an id at or below `through`.
    fn prune_outbox(&self, through: u64) -> Result<(), StoreError>;

    /// A consumer's position: the id of the last entry it has processed.
    fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError>;

    /// Moves a consumer's position.
    fn set_position(&self, consumer: &str, position: u64) -> Result<(), StoreError>;

    /// The lowest position of any consumer ever recorded, so that pruning
    /// keeps what a consumer absent from this run has not seen.
    fn lowest_position(&self) -> Result<Option<u64>, StoreError>;

    /// The outcome recorded under `key`, if any.
    fn outcome(&self, key: &str) -> Result<Option<Outcome>, StoreError>;

    /// Records an outcome under `key`, unless one is recorded already.
    fn record_outcome(&self, key: &str, outcome: &Outcome) -> Result<(), StoreError>;

    /// Removes the outcomes recorded before `recorded_before`; returns how
    /// many. A command whose outcome is gone runs again if it comes back.
    fn prune_outcomes(&self, recorded_before: SystemTime) -> Result<u64, StoreError>;

    /// Records a dead letter and, when [`Undelivered::advance`], moves its
    /// consumer's position to its entry, atomically: the book is set aside
    /// exactly once, however the process stops. Returns the dead letter's id.
    fn dead_letter(&self, letter: &Undelivered<'_>) -> Result<u64, StoreError>;

    /// Every dead letter, oldest first.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;

    /// Removes dead letter `id` and queues its book again, in the outbox,
    /// for its consumer alone, atomically. Returns the new outbox entry's
    /// id, or `None` when there is no such dead letter.
    fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, StoreError>;

    /// Removes dead letter `id`; returns it, or `None` when there is none.
    fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, StoreError>;
}

/// Milliseconds since the Unix epoch, as outcomes are stamped.
pub(crate) fn epoch_millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A shared store is a store: keep a handle on the one a coordinator uses.
impl<S: EventStore + ?Sized> EventStore for std::sync::Arc<S> {
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError> {
        (**self).pages(key, after)
    }
    fn next_sequence(&self, key: &AggregateKey) -> Result<u32, StoreError> {
        (**self).next_sequence(key)
    }
    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError> {
        (**self).snapshot(key)
    }
    fn append(&self, append: &Append<'_>) -> Result<Option<u64>, StoreError> {
        (**self).append(append)
    }
    fn append_all(&self, appends: &[Append<'_>]) -> Vec<Result<Option<u64>, StoreError>> {
        (**self).append_all(appends)
    }
    fn fact(
        &self,
        key: &AggregateKey,
        fact_id: &str,
    ) -> Result<Option<Vec<EventPage>>, StoreError> {
        (**self).fact(key, fact_id)
    }
    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError> {
        (**self).correlated(correlation_id)
    }
    fn roots(&self) -> Result<Vec<AggregateKey>, StoreError> {
        (**self).roots()
    }
    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        (**self).outbox_after(after, limit)
    }
    fn outbox_head(&self) -> Result<u64, StoreError> {
        (**self).outbox_head()
    }
    fn prune_outbox(&self, through: u64) -> Result<(), StoreError> {
        (**self).prune_outbox(through)
    }
    fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        (**self).position(consumer)
    }
    fn set_position(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        (**self).set_position(consumer, position)
    }
    fn lowest_position(&self) -> Result<Option<u64>, StoreError> {
        (**self).lowest_position()
    }
    fn outcome(&self, key: &str) -> Result<Option<Outcome>, StoreError> {
        (**self).outcome(key)
    }
    fn record_outcome(&self, key: &str, outcome: &Outcome) -> Result<(), StoreError> {
        (**self).record_outcome(key, outcome)
    }
    fn prune_outcomes(&self, recorded_before: SystemTime) -> Result<u64, StoreError> {
        (**self).prune_outcomes(recorded_before)
    }
    fn dead_letter(&self, letter: &Undelivered<'_>) -> Result<u64, StoreError> {
        (**self).dead_letter(letter)
    }
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        (**self).dead_letters()
    }
    fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, StoreError> {
        (**self).replay_dead_letter(id)
    }
    fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, StoreError> {
        (**self).discard_dead_letter(id)
    }
}

/// The sequence after `last`, or [`StoreError::SequenceExhausted`].
pub(crate) fn after(last: u32) -> Result<u32, StoreError> {
    last.checked_add(1)
        .ok_or(StoreError::SequenceExhausted { last })
}

/// Checks that `pages` carry consecutive explicit sequences from `at`.
pub(crate) fn check_sequences(at: u32, pages: &[EventPage]) -> Result<(), StoreError> {
    let mut expected = at;
    for (index, page) in pages.iter().enumerate() {
        if page.sequence() != Some(expected) {
            return Err(StoreError::BadSequence {
                index,
                found: page.sequence(),
                expected,
            });
        }
        if index + 1 < pages.len() {
            expected = after(expected)?;
        }
    }
    Ok(())
}

impl SyncReach {
    pub(crate) fn code(self) -> i64 {
        match self {
            SyncReach::Projectors => 1,
            SyncReach::Everyone => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(SyncReach::Projectors),
            2 => Some(SyncReach::Everyone),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every store must have, run against each of them.

    use super::*;
    use angzarr_proto::{Any, AnyExt, NoOp};
    use prost::Message;

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

    pub fn append<'a>(
        key: &'a AggregateKey,
        at: u32,
        pages: &'a [EventPage],
        correlation_id: &'a str,
    ) -> Append<'a> {
        Append {
            key,
            at,
            pages,
            snapshot: None,
            correlation_id,
            fact: None,
            publish: None,
            outcome: None,
        }
    }

    pub fn check(store: &dyn EventStore) {
        let player = key("player", 1);
        assert_eq!(store.next_sequence(&player).unwrap(), 0);
        assert!(store.pages(&player, None).unwrap().is_empty());

        store
            .append(&append(&player, 0, &[page(0), page(1)], "c1"))
            .unwrap();
        assert_eq!(store.next_sequence(&player).unwrap(), 2);
        assert!(matches!(
            store.append(&append(&player, 1, &[page(1)], "c1")),
            Err(StoreError::Conflict {
                expected: 1,
                actual: 2
            })
        ));
        assert!(matches!(
            store.append(&append(&player, 2, &[page(3)], "c1")),
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
            .append(&Append {
                snapshot: Some(&snapshot),
                fact: Some(Fact {
                    id: "fact-1",
                    first: 2,
                }),
                ..append(&player, 2, &[page(2)], "c2")
            })
            .unwrap();
        assert_eq!(store.snapshot(&player).unwrap(), Some(snapshot));
        let later = store.pages(&player, Some(1)).unwrap();
        assert_eq!(
            later.iter().map(|p| p.sequence()).collect::<Vec<_>>(),
            [Some(2)]
        );
        assert_eq!(store.fact(&player, "fact-1").unwrap(), Some(vec![page(2)]));
        assert_eq!(store.fact(&player, "fact-2").unwrap(), None);

        let table = key("table", 9);
        store.append(&append(&table, 0, &[page(0)], "c1")).unwrap();
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
        assert_eq!(roots, [player.clone(), table.clone()]);

        let edition = AggregateKey {
            edition: "what-if".to_owned(),
            ..player.clone()
        };
        assert_eq!(
            store.next_sequence(&edition).unwrap(),
            0,
            "editions are separate timelines"
        );

        // A named edition's first write: the main timeline's prefix, then
        // the fact's own page. The fact is that page alone.
        store
            .append(&Append {
                fact: Some(Fact {
                    id: "fact-3",
                    first: 3,
                }),
                ..append(&edition, 0, &[page(0), page(1), page(2), page(3)], "c3")
            })
            .unwrap();
        assert_eq!(store.fact(&edition, "fact-3").unwrap(), Some(vec![page(3)]));

        check_outcome_retention(store);
        check_outbox(store, &table);
        check_dead_letters(store, &table);
        check_sequence_space(store);
        check_batches(store);
    }

    /// A dead letter moves its consumer on in the same write; replaying one
    /// queues its book for that consumer alone; discarding one removes it.
    fn check_dead_letters(store: &dyn EventStore, table: &AggregateKey) {
        assert!(store.dead_letters().unwrap().is_empty());
        let book = EventBook {
            pages: vec![page(7)],
            next_sequence: 8,
            ..Default::default()
        };
        let bytes = book.encode_to_vec();
        let published = store
            .append(&Append {
                publish: Some(Publication {
                    domain: "table",
                    book: &bytes,
                    claim: None,
                }),
                ..append(
                    table,
                    store.next_sequence(table).unwrap(),
                    &[page(store.next_sequence(table).unwrap())],
                    "",
                )
            })
            .unwrap()
            .unwrap();
        let entry = store.outbox_after(published - 1, 1).unwrap().pop().unwrap();
        assert_eq!(entry.consumer, None, "a written book is for everyone");
        let before = SystemTime::now() - std::time::Duration::from_secs(1);
        let first = store
            .dead_letter(&Undelivered {
                consumer: "projector:seating",
                entry: &entry,
                code: tonic::Code::InvalidArgument as i32,
                message: "no seat 9",
                attempts: 5,
                advance: true,
            })
            .unwrap();
        assert_eq!(
            store.position("projector:seating").unwrap(),
            Some(published),
            "the consumer moves past the book in the same write"
        );
        let second = store
            .dead_letter(&Undelivered {
                consumer: "saga:bonus",
                entry: &entry,
                code: tonic::Code::Internal as i32,
                message: "panicked",
                attempts: 3,
                advance: true,
            })
            .unwrap();
        assert!(second > first);
        let letters = store.dead_letters().unwrap();
        assert_eq!(letters.len(), 2);
        let letter = &letters[0];
        assert_eq!(letter.id, first);
        assert_eq!(letter.consumer, "projector:seating");
        assert_eq!(letter.entry, published);
        assert_eq!(letter.domain, entry.domain);
        assert_eq!(letter.book, entry.book);
        assert_eq!(letter.code(), tonic::Code::InvalidArgument);
        assert_eq!(letter.message, "no seat 9");
        assert_eq!(letter.attempts, 5);
        assert!(
            letter.recorded_at >= before
                && letter.recorded_at <= SystemTime::now() + std::time::Duration::from_secs(1)
        );

        let replayed = store
            .replay_dead_letter(first)
            .unwrap()
            .expect("a dead letter there is replayed");
        assert!(replayed > published);
        assert_eq!(store.outbox_head().unwrap(), replayed);
        let queued = store.outbox_after(published, 10).unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].id, replayed);
        assert_eq!(queued[0].consumer.as_deref(), Some("projector:seating"));
        assert_eq!(queued[0].book, entry.book);
        assert_eq!(queued[0].domain, entry.domain);
        assert_eq!(queued[0].claim, None);
        assert_eq!(
            store.replay_dead_letter(first).unwrap(),
            None,
            "replayed once"
        );

        assert_eq!(store.discard_dead_letter(first).unwrap(), None);
        let discarded = store.discard_dead_letter(second).unwrap().unwrap();
        assert_eq!(discarded.consumer, "saga:bonus");
        assert_eq!(discarded.message, "panicked");
        assert!(store.dead_letters().unwrap().is_empty());
        let later = store
            .dead_letter(&Undelivered {
                consumer: "saga:bonus",
                entry: &queued[0],
                code: tonic::Code::Internal as i32,
                message: "again",
                attempts: 1,
                advance: false,
            })
            .unwrap();
        assert!(later > second, "dead-letter ids are never reused");
        assert_eq!(
            store.position("saga:bonus").unwrap(),
            Some(published),
            "a letter that does not advance leaves the position where it was"
        );
        store.discard_dead_letter(later).unwrap();
    }

    /// Outcomes are kept until pruned by when they were recorded.
    fn check_outcome_retention(store: &dyn EventStore) {
        let outcome = Outcome {
            code: 0,
            message: String::new(),
            body: vec![1],
        };
        store.record_outcome("kept-for-now", &outcome).unwrap();
        assert_eq!(store.prune_outcomes(SystemTime::UNIX_EPOCH).unwrap(), 0);
        assert_eq!(store.outcome("kept-for-now").unwrap(), Some(outcome));
        let later = SystemTime::now() + std::time::Duration::from_secs(1);
        assert!(store.prune_outcomes(later).unwrap() >= 1);
        assert_eq!(store.outcome("kept-for-now").unwrap(), None);
    }

    /// `append_all`: in order, each on its own terms, one result each.
    fn check_batches(store: &dyn EventStore) {
        let first = key("batch", 1);
        let second = key("batch", 2);
        let bytes = EventBook::default().encode_to_vec();
        let second_pages = [page(0)];
        let published = Append {
            publish: Some(Publication {
                domain: "batch",
                book: &bytes,
                claim: None,
            }),
            ..append(&second, 0, &second_pages, "b")
        };
        let head = store.outbox_head().unwrap();
        let results = store.append_all(&[
            append(&first, 0, &[page(0)], "b"),
            // Sees the append before it.
            append(&first, 0, &[page(0)], "b"),
            append(&first, 1, &[page(2)], "b"),
            published,
            append(&first, 1, &[page(1), page(2)], "b"),
        ]);
        assert_eq!(results.len(), 5);
        assert!(matches!(results[0], Ok(None)), "{:?}", results[0]);
        assert!(
            matches!(
                results[1],
                Err(StoreError::Conflict {
                    expected: 0,
                    actual: 1
                })
            ),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(results[2], Err(StoreError::BadSequence { index: 0, .. })),
            "{:?}",
            results[2]
        );
        assert!(
            matches!(results[3], Ok(Some(id)) if id > head),
            "{:?}",
            results[3]
        );
        assert!(matches!(results[4], Ok(None)), "{:?}", results[4]);
        assert_eq!(
            store.pages(&first, None).unwrap(),
            [page(0), page(1), page(2)]
        );
        assert_eq!(store.pages(&second, None).unwrap(), [page(0)]);
        assert!(store.append_all(&[]).is_empty());
    }

    fn check_outbox(store: &dyn EventStore, table: &AggregateKey) {
        assert_eq!(store.outbox_head().unwrap(), 0);
        let book = EventBook {
            pages: vec![page(1)],
            next_sequence: 2,
            ..Default::default()
        };
        let bytes = book.encode_to_vec();
        let claim = Claim {
            run: u64::MAX,
            token: 7,
            reach: SyncReach::Everyone,
        };
        let outcome = Outcome {
            code: 0,
            message: String::new(),
            body: vec![1, 2, 3],
        };
        let first = store
            .append(&Append {
                publish: Some(Publication {
                    domain: "table",
                    book: &bytes,
                    claim: Some(claim),
                }),
                outcome: Some(("saga:x:0", &outcome)),
                ..append(table, 1, &[page(1)], "")
            })
            .unwrap()
            .expect("a published append has an outbox id");
        let second = store
            .append(&Append {
                publish: Some(Publication {
                    domain: "table",
                    book: &bytes,
                    claim: None,
                }),
                ..append(table, 2, &[page(2)], "")
            })
            .unwrap()
            .unwrap();
        assert!(second > first);
        assert_eq!(store.outbox_head().unwrap(), second);
        let entries = store.outbox_after(0, 10).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].claim,
            Some(claim),
            "claims survive the round trip"
        );
        assert_eq!(entries[0].book, book);
        assert_eq!(entries[1].claim, None);
        assert_eq!(store.outbox_after(first, 10).unwrap().len(), 1);
        assert_eq!(store.outbox_after(0, 1).unwrap().len(), 1, "limit");

        assert_eq!(store.outcome("saga:x:0").unwrap(), Some(outcome.clone()));
        let other = Outcome {
            code: 9,
            message: "refused".into(),
            body: Vec::new(),
        };
        store.record_outcome("saga:x:0", &other).unwrap();
        assert_eq!(
            store.outcome("saga:x:0").unwrap(),
            Some(outcome),
            "the first outcome stands"
        );
        store.record_outcome("saga:x:1", &other).unwrap();
        assert_eq!(store.outcome("saga:x:1").unwrap(), Some(other));

        assert_eq!(store.position("projector").unwrap(), None);
        assert_eq!(store.lowest_position().unwrap(), None);
        store.set_position("projector", first).unwrap();
        store.set_position("saga", second).unwrap();
        assert_eq!(store.position("projector").unwrap(), Some(first));
        assert_eq!(store.lowest_position().unwrap(), Some(first));
        store.prune_outbox(first).unwrap();
        assert_eq!(store.outbox_after(0, 10).unwrap().len(), 1);
        store.prune_outbox(second).unwrap();
        assert!(store.outbox_after(0, 10).unwrap().is_empty());
        let third = store
            .append(&Append {
                publish: Some(Publication {
                    domain: "table",
                    book: &bytes,
                    claim: None,
                }),
                ..append(table, 3, &[page(3)], "")
            })
            .unwrap()
            .unwrap();
        assert!(third > second, "ids are never reused after pruning");
    }

    fn check_sequence_space(store: &dyn EventStore) {
        let full = key("full", 1);
        let last = EventPage::new(u32::MAX, Any::pack(&NoOp::default()));
        assert!(matches!(
            store.append(&append(&full, u32::MAX, &[last.clone(), page(0)], "")),
            Err(StoreError::SequenceExhausted { last: u32::MAX })
        ));
        // A timeline cannot start at u32::MAX without the pages below it,
        // so the end of the space is reached through the check above.
        assert_eq!(store.next_sequence(&full).unwrap(), 0);
    }
}
