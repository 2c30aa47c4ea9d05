//! `table-seating`: a read model of tables, seats and stacks in SQLite,
//! idempotent under redelivery.
//!
//! Delivery is at least once, so each table row keeps the sequence of the
//! last event it reflects; an event at or below it is a redelivery and is
//! skipped, in the same transaction that would have applied it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use angzarr_client::prelude::*;
use angzarr_client::proto::identity;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::proto::{HandEnded, HandStarted, PlayerJoined, PlayerLeft, TableCreated};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tables (
    root TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    small_blind INTEGER NOT NULL,
    big_blind INTEGER NOT NULL,
    status TEXT NOT NULL,
    hands INTEGER NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seats (
    table_root TEXT NOT NULL,
    seat INTEGER NOT NULL,
    player_root TEXT NOT NULL,
    stack INTEGER NOT NULL,
    PRIMARY KEY (table_root, seat)
);";

/// One table as the read model shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The table's root, hex.
    pub root: String,
    /// Its name.
    pub name: String,
    /// Small and big blinds.
    pub blinds: (i64, i64),
    /// `waiting` or `in_hand`.
    pub status: String,
    /// Hands dealt so far.
    pub hands: i64,
    /// Seats taken: position, player root (hex), stack.
    pub seats: Vec<(i32, String, i64)>,
}

/// The read model and the projector that keeps it.
pub struct Seating {
    connection: Mutex<Connection>,
}

fn failed(error: rusqlite::Error) -> Rejection {
    Rejection::precondition(format!("the seating read model failed: {error}"))
}

impl Seating {
    /// The read model in the SQLite file at `path` (created if missing).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, rusqlite::Error> {
        Self::with(Connection::open(path)?)
    }

    /// The read model in memory.
    pub fn in_memory() -> Result<Self, rusqlite::Error> {
        Self::with(Connection::open_in_memory()?)
    }

    fn with(connection: Connection) -> Result<Self, rusqlite::Error> {
        connection.execute_batch(SCHEMA)?;
        Ok(Seating {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` for the event at the context's position, once.
    fn once(
        &self,
        ctx: &ProjectionContext,
        change: impl FnOnce(&Transaction<'_>, &str) -> rusqlite::Result<()>,
    ) -> Result<(), Rejection> {
        let root = ctx.root().simple().to_string();
        let sequence = i64::from(ctx.sequence().unwrap_or_default());
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(failed)?;
        let position: Option<i64> = transaction
            .query_row(
                "SELECT position FROM tables WHERE root = ?1",
                params![root],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed)?;
        if position.is_some_and(|position| sequence <= position) {
            return Ok(());
        }
        change(&transaction, &root).map_err(failed)?;
        transaction
            .execute(
                "UPDATE tables SET position = ?2 WHERE root = ?1",
                params![root, sequence],
            )
            .map_err(failed)?;
        transaction.commit().map_err(failed)
    }

    /// Every table with its seats, by name.
    pub fn tables(&self) -> Result<Vec<TableRow>, rusqlite::Error> {
        let connection = self.lock();
        let mut rows = connection.prepare(
            "SELECT root, name, small_blind, big_blind, status, hands FROM tables ORDER BY name",
        )?;
        let mut tables: Vec<TableRow> = rows
            .query_map([], |row| {
                Ok(TableRow {
                    root: row.get(0)?,
                    name: row.get(1)?,
                    blinds: (row.get(2)?, row.get(3)?),
                    status: row.get(4)?,
                    hands: row.get(5)?,
                    seats: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut seats = connection.prepare(
            "SELECT seat, player_root, stack FROM seats WHERE table_root = ?1 ORDER BY seat",
        )?;
        for table in &mut tables {
            table.seats = seats
                .query_map(params![table.root], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(tables)
    }
}

#[projector(name = "table-seating", domains = ["table"])]
impl Seating {
    #[handles(TableCreated)]
    fn created(&self, event: &TableCreated, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, root| {
            tx.execute(
                "INSERT INTO tables (root, name, small_blind, big_blind, status, hands, position)
                 VALUES (?1, ?2, ?3, ?4, 'waiting', 0, -1)
                 ON CONFLICT (root) DO UPDATE SET name = excluded.name,
                   small_blind = excluded.small_blind, big_blind = excluded.big_blind",
                params![root, event.table_name, event.small_blind, event.big_blind],
            )
            .map(drop)
        })
    }

    #[handles(PlayerJoined)]
    fn joined(&self, event: &PlayerJoined, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, root| {
            tx.execute(
                "INSERT INTO seats (table_root, seat, player_root, stack) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (table_root, seat) DO UPDATE SET player_root = excluded.player_root,
                   stack = excluded.stack",
                params![
                    root,
                    event.seat_position,
                    identity::hex(&event.player_root),
                    event.stack
                ],
            )
            .map(drop)
        })
    }

    #[handles(PlayerLeft)]
    fn left(&self, event: &PlayerLeft, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, root| {
            tx.execute(
                "DELETE FROM seats WHERE table_root = ?1 AND seat = ?2",
                params![root, event.seat_position],
            )
            .map(drop)
        })
    }

    #[handles(HandStarted)]
    fn started(&self, event: &HandStarted, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, root| {
            tx.execute(
                "UPDATE tables SET status = 'in_hand', hands = ?2 WHERE root = ?1",
                params![root, event.hand_number],
            )
            .map(drop)
        })
    }

    #[handles(HandEnded)]
    fn ended(&self, event: &HandEnded, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, root| {
            tx.execute(
                "UPDATE tables SET status = 'waiting' WHERE root = ?1",
                params![root],
            )?;
            for (player, change) in &event.stack_changes {
                tx.execute(
                    "UPDATE seats SET stack = stack + ?3 WHERE table_root = ?1 AND player_root = ?2",
                    params![root, player.to_lowercase(), change],
                )?;
            }
            Ok(())
        })
    }
}
