use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use angzarr_proto::{EventBook, EventPage, Snapshot};
use prost::Message;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use super::{
    after, check_sequences, AggregateKey, Append, Claim, DeadLetter, EventStore, LocatedPage,
    OutboxEntry, Outcome, StoreError, SyncReach, Undelivered,
};

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
    // 2: delivery. AUTOINCREMENT: an id is never reused after pruning, so a
    // consumer's position always means the same place.
    "CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        domain TEXT NOT NULL,
        claim_run INTEGER NOT NULL DEFAULT 0,
        claim_reach INTEGER NOT NULL DEFAULT 0,
        claim_token INTEGER NOT NULL DEFAULT 0,
        book BLOB NOT NULL
    );
    CREATE TABLE positions (
        consumer TEXT PRIMARY KEY,
        position INTEGER NOT NULL
    );
    CREATE TABLE outcomes (
        key TEXT PRIMARY KEY,
        code INTEGER NOT NULL,
        message TEXT NOT NULL,
        body BLOB NOT NULL
    );",
    // 3: when each outcome was recorded (milliseconds since the epoch), for
    // retention; outcomes from before count from the upgrade.
    "ALTER TABLE outcomes ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
    UPDATE outcomes SET recorded_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
    CREATE INDEX outcomes_by_time ON outcomes (recorded_at);",
    // 4: dead letters, and outbox entries for one consumer (a replayed dead
    // letter); NULL is every consumer that wants the book.
    "ALTER TABLE outbox ADD COLUMN consumer TEXT;
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        consumer TEXT NOT NULL,
        entry INTEGER NOT NULL,
        domain TEXT NOT NULL,
        book BLOB NOT NULL,
        code INTEGER NOT NULL,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL
    );",
];

/// No crash point set.
const NO_CRASH: usize = usize::MAX;

/// Most connections reading a database file at once, beside the one that
/// writes: in WAL mode they read while it commits.
const MAX_READERS: usize = 4;

/// How long a statement waits for a lock another connection holds.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How far an acknowledged write survives: SQLite's `synchronous` setting,
/// with the journal in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=NORMAL`: a commit is in the WAL file when it is
    /// acknowledged, and the WAL is synced to disk at checkpoints. Every
    /// acknowledged write survives the process being killed (`kill -9`,
    /// a panic, an out-of-memory kill); a power loss or an operating system
    /// crash can lose the last writes before the checkpoint, never corrupt
    /// the database.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is synced to disk before every commit is
    /// acknowledged, so acknowledged writes survive a power loss too, at
    /// the price of one `fsync` per transaction.
    Full,
}

impl Synchronous {
    /// The setting's name in SQLite and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }
}

impl std::fmt::Display for Synchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Synchronous {
    type Err = String;

    /// `normal` or `full`, in any case.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            _ => Err(format!(
                "`{text}` is not a synchronous setting (normal or full)"
            )),
        }
    }
}

/// An [`EventStore`] in one SQLite file (WAL mode), built from SQLite's own
/// sources: no system library needed.
///
/// One connection writes; reads (of a database file) use
/// four connections of their own, so that a read never waits
/// for a commit.
pub struct SqliteStore {
    connection: Mutex<Connection>,
    /// Empty for an in-memory database: its one connection does everything.
    readers: Vec<Mutex<Connection>>,
    /// Where the next read waits when every reader is busy.
    next_reader: AtomicUsize,
    crash_point: AtomicUsize,
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date, with [`Synchronous::Normal`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Synchronous::Normal)
    }

    /// [`open`](Self::open), with the durability of acknowledged writes
    /// chosen.
    pub fn open_with(path: impl AsRef<Path>, synchronous: Synchronous) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", synchronous.as_str())?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        let mut store = Self::with_connection(connection)?;
        store.readers = (0..MAX_READERS)
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(store)
    }

    /// The `synchronous` setting SQLite applies to this store's writes, as
    /// SQLite reports it (`None` for its other levels, OFF and EXTRA).
    pub fn synchronous(&self) -> Result<Option<Synchronous>, StoreError> {
        let level: i64 = self
            .lock()
            .pragma_query_value(None, "synchronous", |row| row.get(0))?;
        Ok(match level {
            1 => Some(Synchronous::Normal),
            2 => Some(Synchronous::Full),
            _ => None,
        })
    }

    /// A private in-memory database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(mut connection: Connection) -> Result<Self, StoreError> {
        migrate(&mut connection)?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            crash_point: AtomicUsize::new(NO_CRASH),
        })
    }

    /// A connection for reads, which sees every committed write: an idle
    /// reader, else the next one in turn.
    fn read(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.lock();
        }
        let reader = self
            .readers
            .iter()
            .find_map(|reader| match reader.try_lock() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            });
        reader.unwrap_or_else(|| {
            let next = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
            self.readers[next]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        })
    }

    /// Aborts the process before the `statement`-th statement (counting
    /// from 0, `BEGIN` and `COMMIT` included) of the next transaction that
    /// appends (one append, or a batch of them), so that crash tests can
    /// stop a write at every point of its transaction.
    #[doc(hidden)]
    pub fn crash_before_statement(&self, statement: usize) {
        self.crash_point.store(statement, Ordering::SeqCst);
    }

    /// A fresh count of the statements of the next transaction that appends.
    fn statements(&self) -> Statements<'_> {
        Statements {
            crash_point: &self.crash_point,
            count: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction itself; the connection
        // stays usable after a panic elsewhere.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Counts the statements of one append, for [`SqliteStore::crash_before_statement`].
struct Statements<'a> {
    crash_point: &'a AtomicUsize,
    count: usize,
}

impl Statements<'_> {
    fn next(&mut self) {
        if self.crash_point.load(Ordering::Relaxed) == self.count {
            std::process::abort();
        }
        self.count += 1;
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

fn decode_book(bytes: &[u8]) -> Result<EventBook, StoreError> {
    EventBook::decode(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Reads a row of `SELECT id, consumer, entry, domain, book, code, message,
/// attempts, recorded_at FROM dead_letters`.
type DeadLetterRow = (i64, String, i64, String, Vec<u8>, i32, String, i64, i64);

fn dead_letter_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeadLetterRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn dead_letter_from(row: DeadLetterRow) -> Result<DeadLetter, StoreError> {
    let (id, consumer, entry, domain, book, code, message, attempts, recorded_at) = row;
    Ok(DeadLetter {
        id: stored_u64(id)?,
        consumer,
        entry: stored_u64(entry)?,
        domain,
        book: decode_book(&book)?,
        code,
        message,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt(format!("dead letter {id}: {attempts} attempts")))?,
        recorded_at: std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(recorded_at).unwrap_or(0)),
    })
}

const DEAD_LETTER_COLUMNS: &str =
    "id, consumer, entry, domain, book, code, message, attempts, recorded_at";

fn decode_page(bytes: &[u8]) -> Result<EventPage, StoreError> {
    EventPage::decode(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn next_sequence_of(connection: &Connection, key: &AggregateKey) -> Result<u32, StoreError> {
    let last: Option<i64> = connection
        .prepare_cached(
            "SELECT MAX(sequence) FROM events WHERE domain = ?1 AND edition = ?2 AND root = ?3",
        )?
        .query_row(
            params![key.domain, key.edition, key.root.as_bytes().as_slice()],
            |row| row.get(0),
        )?;
    match last {
        None => Ok(0),
        Some(last) => after(stored_u32(last)?),
    }
}

fn stored_u32(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("stored sequence {value} is not a u32")))
}

fn stored_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("stored id {value} is negative")))
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

fn insert_events(
    transaction: &Transaction<'_>,
    append: &Append<'_>,
    statements: &mut Statements<'_>,
) -> Result<(), StoreError> {
    let key = append.key;
    let root = key.root.as_bytes().as_slice();
    let mut insert = transaction.prepare_cached(
        "INSERT INTO events (domain, edition, root, sequence, correlation_id, page)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for page in append.pages {
        statements.next();
        let sequence = page.sequence().map_or(0, i64::from);
        insert.execute(params![
            key.domain,
            key.edition,
            root,
            sequence,
            append.correlation_id,
            page.encode_to_vec()
        ])?;
    }
    Ok(())
}

fn insert_outcome(connection: &Connection, key: &str, outcome: &Outcome) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO outcomes (key, code, message, body, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![
            key,
            outcome.code,
            outcome.message,
            outcome.body,
            super::epoch_millis(std::time::SystemTime::now())
        ])?;
    Ok(())
}

/// One append inside an open transaction: the sequence check, then every
/// row it stores. On an error the caller rolls back what it wrote.
fn write_one(
    transaction: &Transaction<'_>,
    append: &Append<'_>,
    statements: &mut Statements<'_>,
) -> Result<Option<u64>, StoreError> {
    let key = append.key;
    statements.next();
    let actual = next_sequence_of(transaction, key)?;
    if actual != append.at {
        return Err(StoreError::Conflict {
            expected: append.at,
            actual,
        });
    }
    insert_events(transaction, append, statements)?;
    let root = key.root.as_bytes().as_slice();
    if let Some(snapshot) = append.snapshot {
        statements.next();
        transaction.prepare_cached(
            "INSERT INTO snapshots (domain, edition, root, sequence, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (domain, edition, root) DO UPDATE SET sequence = excluded.sequence, snapshot = excluded.snapshot",
        )?.execute(
            params![key.domain, key.edition, root, i64::from(snapshot.sequence), snapshot.encode_to_vec()],
        )?;
    }
    if let Some((fact_id, first, count)) = append.fact_range() {
        statements.next();
        transaction.prepare_cached(
            "INSERT INTO facts (domain, edition, root, fact_id, first, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?.execute(
            params![key.domain, key.edition, root, fact_id, i64::from(first), count as i64],
        )?;
    }
    let mut published = None;
    if let Some(publication) = append.publish {
        statements.next();
        let (run, token, reach) = publication.claim.map_or((0, 0, 0), |claim| {
            (claim.run as i64, claim.token as i64, claim.reach.code())
        });
        transaction
            .prepare_cached(
                "INSERT INTO outbox (domain, claim_run, claim_token, claim_reach, book)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                publication.domain,
                run,
                token,
                reach,
                publication.book
            ])?;
        published = Some(stored_u64(transaction.last_insert_rowid())?);
    }
    if let Some((outcome_key, outcome)) = append.outcome {
        statements.next();
        insert_outcome(transaction, outcome_key, outcome)?;
    }
    Ok(published)
}

/// Several appends in one transaction, each inside a savepoint so that one
/// that fails is undone alone. `Err` when the transaction itself failed:
/// then nothing is stored.
fn write_all(
    connection: &mut Connection,
    appends: &[Append<'_>],
    statements: &mut Statements<'_>,
) -> Result<Vec<Result<Option<u64>, StoreError>>, StoreError> {
    statements.next();
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(appends.len());
    for append in appends {
        if let Err(error) = check_sequences(append.at, append.pages) {
            results.push(Err(error));
            continue;
        }
        statements.next();
        transaction.prepare_cached("SAVEPOINT one")?.execute([])?;
        let result = match write_one(&transaction, append, statements) {
            // SQLite rolled the whole transaction back (a full disk, an I/O
            // error): the appends before this one are gone too.
            Err(error) if transaction.is_autocommit() => return Err(error),
            Err(error) => {
                statements.next();
                transaction.prepare_cached("ROLLBACK TO one")?.execute([])?;
                Err(error)
            }
            ok => ok,
        };
        statements.next();
        transaction.prepare_cached("RELEASE one")?.execute([])?;
        results.push(result);
    }
    statements.next();
    transaction.commit()?;
    Ok(results)
}

impl EventStore for SqliteStore {
    fn pages(&self, key: &AggregateKey, after: Option<u32>) -> Result<Vec<EventPage>, StoreError> {
        let connection = self.read();
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
        next_sequence_of(&self.read(), key)
    }

    fn snapshot(&self, key: &AggregateKey) -> Result<Option<Snapshot>, StoreError> {
        let connection = self.read();
        let bytes: Option<Vec<u8>> = connection
            .prepare_cached(
                "SELECT snapshot FROM snapshots WHERE domain = ?1 AND edition = ?2 AND root = ?3",
            )?
            .query_row(
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

    fn append(&self, append: &Append<'_>) -> Result<Option<u64>, StoreError> {
        check_sequences(append.at, append.pages)?;
        let mut statements = self.statements();
        let mut connection = self.lock();
        statements.next();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let published = write_one(&transaction, append, &mut statements)?;
        statements.next();
        transaction.commit()?;
        Ok(published)
    }

    fn append_all(&self, appends: &[Append<'_>]) -> Vec<Result<Option<u64>, StoreError>> {
        // A lone append needs no savepoint: its failure rolls back the
        // transaction, which holds nothing else.
        if let [append] = appends {
            return vec![self.append(append)];
        }
        let mut statements = self.statements();
        let mut connection = self.lock();
        match write_all(&mut connection, appends, &mut statements) {
            Ok(results) => results,
            Err(error) => {
                let error = error.to_string();
                appends
                    .iter()
                    .map(|_| Err(StoreError::Transaction(error.clone())))
                    .collect()
            }
        }
    }

    fn fact(
        &self,
        key: &AggregateKey,
        fact_id: &str,
    ) -> Result<Option<Vec<EventPage>>, StoreError> {
        let found: Option<(i64, i64)> = self
            .read()
            .prepare_cached(
                "SELECT first, count FROM facts WHERE domain = ?1 AND edition = ?2 AND root = ?3 AND fact_id = ?4",
            )?
            .query_row(
                params![key.domain, key.edition, key.root.as_bytes().as_slice(), fact_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((first, count)) = found else {
            return Ok(None);
        };
        let first = stored_u32(first)?;
        let pages = self.pages(key, first.checked_sub(1))?;
        Ok(Some(
            pages
                .into_iter()
                .filter(|page| {
                    page.sequence()
                        .is_some_and(|s| i64::from(s) < i64::from(first) + count)
                })
                .collect(),
        ))
    }

    fn correlated(&self, correlation_id: &str) -> Result<Vec<LocatedPage>, StoreError> {
        if correlation_id.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.read();
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
        let connection = self.read();
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

    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT id, domain, claim_run, claim_token, claim_reach, book, consumer FROM outbox
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![after, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, Vec<u8>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (id, domain, run, token, reach, book, consumer) = row?;
            Ok(OutboxEntry {
                id: stored_u64(id)?,
                domain,
                claim: SyncReach::from_code(reach).map(|reach| Claim {
                    run: run as u64,
                    token: token as u64,
                    reach,
                }),
                consumer,
                book: decode_book(&book)?,
            })
        })
        .collect()
    }

    fn outbox_head(&self) -> Result<u64, StoreError> {
        let head: Option<i64> = self
            .read()
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        head.map_or(Ok(0), stored_u64)
    }

    fn prune_outbox(&self, through: u64) -> Result<(), StoreError> {
        let through = i64::try_from(through).unwrap_or(i64::MAX);
        self.lock()
            .prepare_cached("DELETE FROM outbox WHERE id <= ?1")?
            .execute(params![through])?;
        Ok(())
    }

    fn position(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        let position: Option<i64> = self
            .read()
            .prepare_cached("SELECT position FROM positions WHERE consumer = ?1")?
            .query_row(params![consumer], |row| row.get(0))
            .optional()?;
        position.map(stored_u64).transpose()
    }

    fn set_position(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        self.lock()
            .prepare_cached(
                "INSERT INTO positions (consumer, position) VALUES (?1, ?2)
                 ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
            )?
            .execute(params![consumer, position])?;
        Ok(())
    }

    fn lowest_position(&self) -> Result<Option<u64>, StoreError> {
        let lowest: Option<i64> = self
            .read()
            .prepare_cached("SELECT MIN(position) FROM positions")?
            .query_row([], |row| row.get(0))?;
        lowest.map(stored_u64).transpose()
    }

    fn outcome(&self, key: &str) -> Result<Option<Outcome>, StoreError> {
        Ok(self
            .read()
            .prepare_cached("SELECT code, message, body FROM outcomes WHERE key = ?1")?
            .query_row(params![key], |row| {
                Ok(Outcome {
                    code: row.get(0)?,
                    message: row.get(1)?,
                    body: row.get(2)?,
                })
            })
            .optional()?)
    }

    fn record_outcome(&self, key: &str, outcome: &Outcome) -> Result<(), StoreError> {
        insert_outcome(&self.lock(), key, outcome)
    }

    fn prune_outcomes(&self, recorded_before: std::time::SystemTime) -> Result<u64, StoreError> {
        let removed = self
            .lock()
            .prepare_cached("DELETE FROM outcomes WHERE recorded_at < ?1")?
            .execute(params![super::epoch_millis(recorded_before)])?;
        Ok(removed as u64)
    }

    fn dead_letter(&self, letter: &Undelivered<'_>) -> Result<u64, StoreError> {
        let entry = i64::try_from(letter.entry.id).unwrap_or(i64::MAX);
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction
            .prepare_cached(
                "INSERT INTO dead_letters
                 (consumer, entry, domain, book, code, message, attempts, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                letter.consumer,
                entry,
                letter.entry.domain,
                letter.entry.book.encode_to_vec(),
                letter.code,
                letter.message,
                i64::from(letter.attempts),
                super::epoch_millis(std::time::SystemTime::now()),
            ])?;
        let id = stored_u64(transaction.last_insert_rowid())?;
        if letter.advance {
            transaction
                .prepare_cached(
                    "INSERT INTO positions (consumer, position) VALUES (?1, ?2)
                     ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                )?
                .execute(params![letter.consumer, entry])?;
        }
        transaction.commit()?;
        Ok(id)
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters ORDER BY id"
        ))?;
        let rows = statement.query_map([], dead_letter_row)?;
        rows.map(|row| dead_letter_from(row?)).collect()
    }

    fn replay_dead_letter(&self, id: u64) -> Result<Option<u64>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(String, String, Vec<u8>)> = transaction
            .prepare_cached("SELECT consumer, domain, book FROM dead_letters WHERE id = ?1")?
            .query_row(params![id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        let Some((consumer, domain, book)) = found else {
            return Ok(None);
        };
        transaction
            .prepare_cached("INSERT INTO outbox (domain, book, consumer) VALUES (?1, ?2, ?3)")?
            .execute(params![domain, book, consumer])?;
        let entry = stored_u64(transaction.last_insert_rowid())?;
        transaction
            .prepare_cached("DELETE FROM dead_letters WHERE id = ?1")?
            .execute(params![id])?;
        transaction.commit()?;
        Ok(Some(entry))
    }

    fn discard_dead_letter(&self, id: u64) -> Result<Option<DeadLetter>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let row = self
            .lock()
            .prepare_cached(&format!(
                "DELETE FROM dead_letters WHERE id = ?1 RETURNING {DEAD_LETTER_COLUMNS}"
            ))?
            .query_row(params![id], dead_letter_row)
            .optional()?;
        row.map(dead_letter_from).transpose()
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
    fn an_append_that_fails_halfway_in_a_batch_is_undone_alone() {
        use super::super::contract::{append, key, page};
        let store = SqliteStore::in_memory().unwrap();
        let first = key("player", 1);
        let second = key("player", 2);
        let pages = [page(0)];
        let more = [page(1)];
        // The third append stores its event, then fails on the fact id the
        // first one recorded: its event must go with it.
        let results = store.append_all(&[
            Append {
                fact: Some(super::super::Fact { id: "f", first: 0 }),
                ..append(&first, 0, &pages, "")
            },
            append(&second, 0, &pages, ""),
            Append {
                fact: Some(super::super::Fact { id: "f", first: 1 }),
                ..append(&first, 1, &more, "")
            },
            append(&second, 1, &more, ""),
        ]);
        assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
        assert!(
            matches!(results[2], Err(StoreError::Sqlite(_))),
            "{:?}",
            results[2]
        );
        assert_eq!(store.pages(&first, None).unwrap(), pages);
        assert_eq!(store.pages(&second, None).unwrap(), [page(0), page(1)]);
        assert_eq!(
            store.fact(&first, "f").unwrap(),
            Some(pages.to_vec()),
            "the first fact's record stands"
        );
    }

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("angzarr-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("events.db")
    }

    #[test]
    fn the_synchronous_setting_is_what_sqlite_applies() {
        let path = temp_db("synchronous");
        let normal = SqliteStore::open(&path).unwrap();
        assert_eq!(normal.synchronous().unwrap(), Some(Synchronous::Normal));
        drop(normal);
        let full = SqliteStore::open_with(&path, Synchronous::Full).unwrap();
        assert_eq!(full.synchronous().unwrap(), Some(Synchronous::Full));
        assert_eq!("FULL".parse(), Ok(Synchronous::Full));
        assert_eq!("normal".parse(), Ok(Synchronous::Normal));
        assert_eq!(
            "fast".parse::<Synchronous>().unwrap_err(),
            "`fast` is not a synchronous setting (normal or full)"
        );
    }

    #[test]
    fn reopening_keeps_events_and_schema() {
        let path = temp_db("reopen");
        let key = super::super::contract::key("player", 3);
        {
            let store = SqliteStore::open(&path).unwrap();
            let page = [super::super::contract::page(0)];
            store
                .append(&super::super::contract::append(&key, 0, &page, ""))
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.next_sequence(&key).unwrap(), 1);
        let version: i64 = store
            .lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Outcomes stored before they had a time count from the upgrade, so
    /// that retention does not drop them at once.
    #[test]
    fn outcomes_from_before_retention_count_from_the_upgrade() {
        let mut connection = Connection::open_in_memory().unwrap();
        let transaction = connection.transaction().unwrap();
        for migration in &MIGRATIONS[..2] {
            transaction.execute_batch(migration).unwrap();
        }
        transaction.pragma_update(None, "user_version", 2).unwrap();
        transaction
            .execute(
                "INSERT INTO outcomes (key, code, message, body) VALUES ('old', 0, '', x'01')",
                [],
            )
            .unwrap();
        transaction.commit().unwrap();
        let store = SqliteStore::with_connection(connection).unwrap();
        let a_day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        assert_eq!(store.prune_outcomes(a_day_ago).unwrap(), 0);
        assert!(store.outcome("old").unwrap().is_some());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let connection = Connection::open_in_memory().unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        match SqliteStore::with_connection(connection) {
            Err(StoreError::NewerSchema {
                found: 99,
                supported,
            }) if supported == MIGRATIONS.len() as i64 => {}
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }

    #[test]
    fn a_timeline_at_the_last_sequence_takes_no_more_events() {
        let store = SqliteStore::in_memory().unwrap();
        let key = super::super::contract::key("player", 4);
        store
            .lock()
            .execute(
                "INSERT INTO events (domain, edition, root, sequence, correlation_id, page)
                 VALUES (?1, ?2, ?3, ?4, '', x'')",
                params![
                    key.domain,
                    key.edition,
                    key.root.as_bytes().as_slice(),
                    i64::from(u32::MAX)
                ],
            )
            .unwrap();
        assert!(matches!(
            store.next_sequence(&key),
            Err(StoreError::SequenceExhausted { last: u32::MAX })
        ));
        let page = [super::super::contract::page(0)];
        assert!(matches!(
            store.append(&super::super::contract::append(&key, 0, &page, "")),
            Err(StoreError::SequenceExhausted { .. })
        ));
    }
}
