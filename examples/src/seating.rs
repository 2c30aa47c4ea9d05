//! `table-seating`: a read model of tables, seats and stacks in SQLite,
//! idempotent under redelivery.
//!
//! Delivery is at least once, so the model keeps, for each table, the
//! sequence of the last event it reflects (in a table of its own, so that
//! it is kept even for a table whose creation the model never saw); an event
//! at or below it is a redelivery and is skipped, in the same transaction
//! that would have applied it. Every row carries its edition: a what-if
//! timeline never shows in the main one. Speculative calls
//! ([`ProjectionContext::is_speculative`]) compute and write nothing.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use angzarr_client::prelude::*;
use angzarr_client::proto::{identity, DEFAULT_EDITION};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::proto::{HandEnded, HandStarted, PlayerJoined, PlayerLeft, TableCreated};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seating_tables (
    edition TEXT NOT NULL,
    root TEXT NOT NULL,
    name TEXT NOT NULL,
    small_blind INTEGER NOT NULL,
    big_blind INTEGER NOT NULL,
    status TEXT NOT NULL,
    hands INTEGER NOT NULL,
    PRIMARY KEY (edition, root)
);
CREATE TABLE IF NOT EXISTS seating_seats (
    edition TEXT NOT NULL,
    table_root TEXT NOT NULL,
    seat INTEGER NOT NULL,
    player_root TEXT NOT NULL,
    stack INTEGER NOT NULL,
    PRIMARY KEY (edition, table_root, seat)
);
CREATE TABLE IF NOT EXISTS seating_positions (
    edition TEXT NOT NULL,
    root TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (edition, root)
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

/// Where an event lands: its table's edition and root.
struct Place<'a> {
    edition: &'a str,
    root: String,
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

    /// Applies `change` for the event at the context's position, once; a
    /// speculative call applies nothing.
    fn once(
        &self,
        ctx: &ProjectionContext,
        change: impl FnOnce(&Transaction<'_>, &Place<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), Rejection> {
        if ctx.is_speculative() {
            return Ok(());
        }
        let place = Place {
            edition: ctx.edition(),
            root: ctx.root().simple().to_string(),
        };
        let sequence = i64::from(ctx.sequence().unwrap_or_default());
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(failed)?;
        let position: Option<i64> = transaction
            .query_row(
                "SELECT position FROM seating_positions WHERE edition = ?1 AND root = ?2",
                params![place.edition, place.root],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed)?;
        if position.is_some_and(|position| sequence <= position) {
            return Ok(());
        }
        change(&transaction, &place).map_err(failed)?;
        transaction
            .execute(
                "INSERT INTO seating_positions (edition, root, position) VALUES (?1, ?2, ?3)
                 ON CONFLICT (edition, root) DO UPDATE SET position = excluded.position",
                params![place.edition, place.root, sequence],
            )
            .map_err(failed)?;
        transaction.commit().map_err(failed)
    }

    /// Every table of the main timeline with its seats, by name.
    pub fn tables(&self) -> Result<Vec<TableRow>, rusqlite::Error> {
        self.tables_in(DEFAULT_EDITION)
    }

    /// Every table of `edition` with its seats, by name.
    pub fn tables_in(&self, edition: &str) -> Result<Vec<TableRow>, rusqlite::Error> {
        let connection = self.lock();
        let mut rows = connection.prepare(
            "SELECT root, name, small_blind, big_blind, status, hands FROM seating_tables
             WHERE edition = ?1 ORDER BY name",
        )?;
        let mut tables: Vec<TableRow> = rows
            .query_map(params![edition], |row| {
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
            "SELECT seat, player_root, stack FROM seating_seats
             WHERE edition = ?1 AND table_root = ?2 ORDER BY seat",
        )?;
        for table in &mut tables {
            table.seats = seats
                .query_map(params![edition, table.root], |row| {
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
        self.once(ctx, |tx, at| {
            tx.execute(
                "INSERT INTO seating_tables (edition, root, name, small_blind, big_blind, status, hands)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'waiting', 0)
                 ON CONFLICT (edition, root) DO UPDATE SET name = excluded.name,
                   small_blind = excluded.small_blind, big_blind = excluded.big_blind",
                params![at.edition, at.root, event.table_name, event.small_blind, event.big_blind],
            )
            .map(drop)
        })
    }

    #[handles(PlayerJoined)]
    fn joined(&self, event: &PlayerJoined, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, at| {
            tx.execute(
                "INSERT INTO seating_seats (edition, table_root, seat, player_root, stack)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (edition, table_root, seat) DO UPDATE SET
                   player_root = excluded.player_root, stack = excluded.stack",
                params![
                    at.edition,
                    at.root,
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
        self.once(ctx, |tx, at| {
            tx.execute(
                "DELETE FROM seating_seats WHERE edition = ?1 AND table_root = ?2 AND seat = ?3",
                params![at.edition, at.root, event.seat_position],
            )
            .map(drop)
        })
    }

    #[handles(HandStarted)]
    fn started(&self, event: &HandStarted, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, at| {
            tx.execute(
                "UPDATE seating_tables SET status = 'in_hand', hands = ?3
                 WHERE edition = ?1 AND root = ?2",
                params![at.edition, at.root, event.hand_number],
            )
            .map(drop)
        })
    }

    #[handles(HandEnded)]
    fn ended(&self, event: &HandEnded, ctx: &ProjectionContext) -> Result<(), Rejection> {
        self.once(ctx, |tx, at| {
            tx.execute(
                "UPDATE seating_tables SET status = 'waiting' WHERE edition = ?1 AND root = ?2",
                params![at.edition, at.root],
            )?;
            for (player, change) in &event.stack_changes {
                tx.execute(
                    "UPDATE seating_seats SET stack = stack + ?4
                     WHERE edition = ?1 AND table_root = ?2 AND player_root = ?3",
                    params![at.edition, at.root, player.to_lowercase(), change],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_client::proto::Cover;

    const TABLE: uuid::Uuid = uuid::Uuid::from_u128(7);
    const PLAYER: uuid::Uuid = uuid::Uuid::from_u128(8);

    fn main_line() -> Cover {
        Cover::new("table", TABLE)
    }

    fn created() -> TableCreated {
        TableCreated {
            table_name: "Main".into(),
            small_blind: 5,
            big_blind: 10,
            ..Default::default()
        }
    }

    fn joined() -> PlayerJoined {
        PlayerJoined {
            player_root: PLAYER.as_bytes().to_vec(),
            seat_position: 2,
            stack: 500,
            ..Default::default()
        }
    }

    fn ended(change: i64) -> HandEnded {
        HandEnded {
            stack_changes: [(PLAYER.simple().to_string(), change)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn speculation_computes_and_writes_nothing() {
        let seating = Seating::in_memory().unwrap();
        let cover = main_line();
        let what_if = ProjectionContext::new(&cover, Some(0), true);
        seating.created(&created(), &what_if).unwrap();
        assert_eq!(seating.tables().unwrap(), []);
    }

    #[test]
    fn other_editions_stay_out_of_the_main_read_model() {
        let seating = Seating::in_memory().unwrap();
        let edition = main_line().with_edition("what-if");
        seating
            .created(
                &created(),
                &ProjectionContext::new(&edition, Some(0), false),
            )
            .unwrap();
        assert_eq!(seating.tables().unwrap(), []);
        let main = main_line();
        seating
            .created(&created(), &ProjectionContext::new(&main, Some(0), false))
            .unwrap();
        assert_eq!(seating.tables().unwrap().len(), 1);
        assert_eq!(seating.tables_in("what-if").unwrap().len(), 1);
    }

    /// A table whose creation this read model never saw still remembers
    /// how far it got: a redelivered hand end moves stacks once.
    #[test]
    fn a_redelivered_hand_end_moves_stacks_once_without_its_table_row() {
        let seating = Seating::in_memory().unwrap();
        let cover = main_line();
        seating
            .joined(&joined(), &ProjectionContext::new(&cover, Some(1), false))
            .unwrap();
        for _ in 0..2 {
            seating
                .ended(&ended(-40), &ProjectionContext::new(&cover, Some(2), false))
                .unwrap();
        }
        let stack: i64 = seating
            .lock()
            .query_row("SELECT stack FROM seating_seats", [], |row| row.get(0))
            .unwrap();
        assert_eq!(stack, 460);
    }
}
