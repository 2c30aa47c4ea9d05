use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use angzarr_proto::{EventPage, Snapshot};
use prost::Message;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{check_sequences, AggregateKey, EventStore, LocatedPage, StoreError};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many ran.
const MIGRATIONS: &[&str] = &[
    // 1: events, snapshots, facts.
    "CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        domain TEXT NOT NULL,
        edition TEXT NOT NULL,
        root BLOB NOT NULL,
        sequence INTEGER NOT NULL,
        correlation_id TEXT NOT NULL,
        page BLOB NOT NULL,
        UNIQUE (domain, edition, root, sequence)
    );
    CREATE INDEX events_by_correlation ON events (correlation_id) WHERE correlation_id <> '';
    CREATE TABLE snapshots (
        domain TEXT NOT NULL,
        edition TEXT NOT NULL,
        root BLOB NOT NULL,
        sequence INTEGER NOT NULL,
        snapshot BLOB NOT NULL,
        PRIMARY KEY (domain, edition, root)
    );
    CREATE TABLE facts (
        domain TEXT NOT NULL,
        edition TEXT NOT NULL,
        root BLOB NOT NULL,
        fact_id TEXT NOT NULL,
        first INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (domain, edition, root, fact_id)
    );",
];

/// An [`EventStore`] in one SQLite file (WAL mode), built from SQLite's own
/// sources: no system library needed.
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::with_connection(connection)
    }

    /// A private in-memory database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(mut connection: Connection) -> Result<Self, StoreError> {
        migrate(&mut connection)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction itself; the connection
        // stays usable after a panic elsewhere.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::NewerSchema {
            found: version,
            supported,
        });
    }
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    transaction.commit()?;
    Ok(())
}

fn decode_page(bytes: &[u8]) -> Result<EventPage, StoreError> {
    EventPage::decode(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn next_sequence_of(connection: &Connection, key: &AggregateKey) -> Result<u32, StoreError> {
    let last: Option<i64> = connection.query_row(
        "SELECT MAX(sequence) FROM events WHERE domain = ?1 AND edition = ?2 AND root = ?3",
        params![key.domain, key.edition, key.root.as_bytes().as_slice()],
        |row| row.get(0),
    )?;
    Ok(last.map_or(0, |last| last as u32 + 1))
}

fn key_from_row(
    domain: String,
    edition: String,
    root: Vec<u8>,
) -> Result<AggregateKey, StoreError> {
    let root =
        uuid::Uuid::from_slice(&root).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(AggregateKey {
        domain,
        edition,
        root,
    })
}

impl EventStore for SqliteStore {
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT page FROM events WHERE domain = ?1 AND edition = ?2 AND root = ?3 AND sequence > ?4
             ORDER BY sequence",
        )?;
        let after = after.map_or(-1, i64::from);
        let rows = statement.query_map(
            params![
                key.domain,
                key.edition,
                key.root.as_bytes().as_slice(),
                after
            ],
            |row| row.get::<_, Vec<u8>>(0),
        )?;
        rows.map(|bytes| decode_page(&bytes?)).collect()
    }

    fn next_sequence(&self, key: &AggregateKey) -> Result<u32, StoreError> {
        next_sequence_of(&self.lock(), key)
    }

    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError> {
        let connection = self.lock();
        let bytes: Option<Vec<u8>> = connection
            .query_row(
                "SELECT snapshot FROM snapshots WHERE domain = ?1 AND edition = ?2 AND root = ?3",
                params![key.domain, key.edition, key.root.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .optional()?;
        bytes
            .map(|bytes| {
                Snapshot::decode(bytes.as_slice()).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .transpose()
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
        check_sequences(at, pages)?;
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let actual = next_sequence_of(&transaction, key)?;
        if actual != at {
            return Err(StoreError::Conflict {
                expected: at,
                actual,
            });
        }
        let root = key.root.as_bytes().as_slice();
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO events (domain, edition, root, sequence, correlation_id, page)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for page in pages {
                let sequence = page.sequence().map_or(0, i64::from);
                insert.execute(params![
                    key.domain,
                    key.edition,
                    root,
                    sequence,
                    correlation_id,
                    page.encode_to_vec()
                ])?;
            }
        }
        if let Some(snapshot) = snapshot {
            transaction.execute(
                "INSERT INTO snapshots (domain, edition, root, sequence, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (domain, edition, root) DO UPDATE SET sequence = excluded.sequence, snapshot = excluded.snapshot",
                params![key.domain, key.edition, root, i64::from(snapshot.sequence), snapshot.encode_to_vec()],
            )?;
        }
        if let Some(fact_id) = fact_id {
            transaction.execute(
                "INSERT INTO facts (domain, edition, root, fact_id, first, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![key.domain, key.edition, root, fact_id, i64::from(at), pages.len() as i64],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn fact(
        &self,
        key: &AggregateKey,
        fact_id: &str,
    ) -> Result<Option<Vec<EventPage>>, StoreError> {
        let found: Option<(i64, i64)> = self
            .lock()
            .query_row(
                "SELECT first, count FROM facts WHERE domain = ?1 AND edition = ?2 AND root = ?3 AND fact_id = ?4",
                params![key.domain, key.edition, key.root.as_bytes().as_slice(), fact_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((first, count)) = found else {
            return Ok(None);
        };
        let pages = self.pages(key, first.checked_sub(1).map(|after| after as u32))?;
        Ok(Some(
            pages
                .into_iter()
                .filter(|page| {
                    page.sequence()
                        .is_some_and(|s| i64::from(s) < first + count)
                })
                .collect(),
        ))
    }

    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError> {
        if correlation_id.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT domain, edition, root, page FROM events WHERE correlation_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map(params![correlation_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (domain, edition, root, page) = row?;
            Ok(LocatedPage {
                key: key_from_row(domain, edition, root)?,
                page: decode_page(&page)?,
            })
        })
        .collect()
    }

    fn roots(&self) -> Result<Vec<AggregateKey>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT DISTINCT domain, edition, root FROM events ORDER BY domain, edition, root",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (domain, edition, root) = row?;
            key_from_row(domain, edition, root)
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_the_store_contract() {
        super::super::contract::check(&SqliteStore::in_memory().unwrap());
    }

    #[test]
    fn reopening_keeps_events_and_schema() {
        let dir = std::env::temp_dir().join(format!("angzarr-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.db");
        let key = super::super::contract::key("player", 3);
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .append(&key, 0, &[super::super::contract::page(0)], None, "", None)
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.next_sequence(&key).unwrap(), 1);
        let version: i64 = store
            .lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let connection = Connection::open_in_memory().unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        match SqliteStore::with_connection(connection) {
            Err(StoreError::NewerSchema {
                found: 99,
                supported: 1,
            }) => {}
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }
}
