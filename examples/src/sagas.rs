//! The poker sagas: what one domain's events make another domain do.

use angzarr_client::prelude::*;

use crate::proto::{LeaveTable, PlayerLeft, PlayerSittingOut, ReleaseFunds};

fn uuid_of(bytes: &[u8], what: &str) -> Result<uuid::Uuid, Rejection> {
    uuid::Uuid::from_slice(bytes)
        .map_err(|_| Rejection::invalid_argument(format!("{what} is not a UUID")))
}

/// `saga-table-player`: a player who left a table (`PlayerLeft`) gets the
/// chips reserved for that table back (`ReleaseFunds` to the player).
#[derive(Debug, Default, Clone, Copy)]
pub struct TablePlayerSaga;

#[saga(name = "saga-table-player", source = "table", target = "player")]
impl TablePlayerSaga {
    /// Releases the reservation the buy-in made.
    #[handles(PlayerLeft)]
    pub fn release(
        &self,
        event: &PlayerLeft,
        ctx: &SagaContext,
    ) -> Result<Command<ReleaseFunds>, Rejection> {
        Ok(Command::new(
            uuid_of(&event.player_root, "player_root")?,
            ReleaseFunds {
                table_root: ctx.root().as_bytes().to_vec(),
            },
        ))
    }
}

/// `saga-player-table`: a player reported sitting out (`PlayerSittingOut`,
/// a fact the front end records on the player) leaves that table
/// (`LeaveTable`). The table refuses while a hand is played; the player is
/// then told, and its revocation recorded.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlayerTableSaga;

#[saga(name = "saga-player-table", source = "player", target = "table")]
impl PlayerTableSaga {
    /// Takes the player off the table.
    #[handles(PlayerSittingOut)]
    pub fn leave(
        &self,
        event: &PlayerSittingOut,
        ctx: &SagaContext,
    ) -> Result<Command<LeaveTable>, Rejection> {
        Ok(Command::new(
            uuid_of(&event.table_root, "table_root")?,
            LeaveTable {
                player_root: ctx.root().as_bytes().to_vec(),
            },
        ))
    }
}
