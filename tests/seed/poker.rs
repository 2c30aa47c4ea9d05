//! The poker pieces the fact-flow scenarios name and the examples do not
//! have: a hand whose turn changes, the `hand-player` saga that tells the
//! player whose turn it is (a fact), and a saga that records a player's
//! sitting out or returning on the table (facts too).

use angzarr_client::prelude::*;
use examples::proto::{PlayerReturningToPlay, PlayerSatIn, PlayerSatOut, PlayerSittingOut};
use prost::Name;

/// Passes the turn to a player.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PassTurn {
    #[prost(bytes = "vec", tag = "1")]
    pub player_root: Vec<u8>,
}

/// The turn passed to a player.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TurnChanged {
    #[prost(bytes = "vec", tag = "1")]
    pub player_root: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub turn: u32,
}

/// A player is asked to act: recorded on the player as a fact.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionRequested {
    #[prost(bytes = "vec", tag = "1")]
    pub hand_root: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub turn: u32,
}

impl Name for PassTurn {
    const NAME: &'static str = "PassTurn";
    const PACKAGE: &'static str = "hand";
}
impl Name for TurnChanged {
    const NAME: &'static str = "TurnChanged";
    const PACKAGE: &'static str = "hand";
}
impl Name for ActionRequested {
    const NAME: &'static str = "ActionRequested";
    const PACKAGE: &'static str = "hand";
}

/// Turns taken so far.
#[derive(Debug, Default)]
pub struct Turns {
    pub taken: u32,
}

/// A hand in progress: only its turns matter here.
pub struct Hands;

#[aggregate(domain = "hand", state = Turns)]
impl Hands {
    #[handles(PassTurn)]
    fn pass(&self, cmd: PassTurn, turns: &Turns) -> Result<TurnChanged, Rejection> {
        if uuid::Uuid::from_slice(&cmd.player_root).is_err() {
            return Err(Rejection::invalid_argument("player_root is not a UUID"));
        }
        Ok(TurnChanged {
            player_root: cmd.player_root,
            turn: turns.taken + 1,
        })
    }

    #[applies(TurnChanged)]
    fn changed(turns: &mut Turns, event: &TurnChanged) {
        turns.taken = event.turn;
    }
}

fn uuid_of(bytes: &[u8], what: &str) -> Result<uuid::Uuid, Rejection> {
    uuid::Uuid::from_slice(bytes)
        .map_err(|_| Rejection::invalid_argument(format!("{what} is not a UUID")))
}

/// The external id of the fact that asks `player` to act on `turn` of `hand`.
pub fn action_id(hand: uuid::Uuid, player: uuid::Uuid, turn: u32) -> String {
    format!("action-{hand}-{player}-turn-{turn}")
}

/// Tells the player whose turn it is.
pub struct HandPlayer;

#[saga(name = "hand-player", source = "hand", target = "player")]
impl HandPlayer {
    #[handles(TurnChanged)]
    fn request(
        &self,
        event: &TurnChanged,
        ctx: &SagaContext,
    ) -> Result<Fact<ActionRequested>, Rejection> {
        let player = uuid_of(&event.player_root, "player_root")?;
        Ok(Fact::new(
            player,
            ActionRequested {
                hand_root: ctx.root().as_bytes().to_vec(),
                turn: event.turn,
            },
        )
        .with_external_id(action_id(ctx.root(), player, event.turn)))
    }
}

/// Records on the table what the player reported about sitting out.
pub struct SeatFacts;

#[saga(name = "seat-facts", source = "player", target = "table")]
impl SeatFacts {
    #[handles(PlayerSittingOut)]
    fn sat_out(
        &self,
        event: &PlayerSittingOut,
        ctx: &SagaContext,
    ) -> Result<Fact<PlayerSatOut>, Rejection> {
        Ok(Fact::new(
            uuid_of(&event.table_root, "table_root")?,
            PlayerSatOut {
                player_root: ctx.root().as_bytes().to_vec(),
                sat_out_at: event.sat_out_at,
            },
        ))
    }

    #[handles(PlayerReturningToPlay)]
    fn sat_in(
        &self,
        event: &PlayerReturningToPlay,
        ctx: &SagaContext,
    ) -> Result<Fact<PlayerSatIn>, Rejection> {
        Ok(Fact::new(
            uuid_of(&event.table_root, "table_root")?,
            PlayerSatIn {
                player_root: ctx.root().as_bytes().to_vec(),
                sat_in_at: event.sat_in_at,
            },
        ))
    }
}

/// Records what it sees of a hand on a domain nobody serves.
pub struct LostFacts;

#[saga(name = "lost-facts", source = "hand", target = "nonexistent")]
impl LostFacts {
    #[handles(TurnChanged)]
    fn record(&self, event: &TurnChanged, ctx: &SagaContext) -> Fact<ActionRequested> {
        Fact::new(
            ctx.root(),
            ActionRequested {
                hand_root: ctx.root().as_bytes().to_vec(),
                turn: event.turn,
            },
        )
    }
}
