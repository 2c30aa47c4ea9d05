//! The buy-in workflow: a process manager across the player (who holds the
//! money) and the table (which has the seats), one instance per
//! correlation id, its state `examples.BuyInOrchestratorState`.
//!
//! 1. A `BuyInRequested` is recorded on the player, as a fact from the
//!    front end (the player's rules do not decide on it; its correlation id
//!    names the workflow). The workflow starts (`BuyInInitiated`, phase
//!    RESERVING) and asks the player to `ReserveFunds` for the table.
//! 2. `FundsReserved` for that table: the workflow moves on
//!    (`BuyInPhaseChanged`, RESERVING -> SEATING) and asks the table to seat
//!    the player (`JoinTable` with the amount and the seat asked for).
//! 3. `PlayerJoined` for that player: the workflow ends completed
//!    (`BuyInCompleted`); the chips stay reserved while the player sits.
//!
//! Failures: the player refusing the reservation ends the workflow failed
//! (`BuyInFailed`, code `FUNDS_REFUSED`); the table refusing the seat ends it
//! failed too (`SEAT_REFUSED`) and compensates: the reservation is released
//! (`ReleaseFunds` to the player). The coordinator then tells the player's
//! aggregate of the refused seat as well; having no handler for it, the
//! player asks for a revocation, which is recorded.

use angzarr_client::prelude::*;
use angzarr_client::proto::{time, Cover, RejectionNotification};

use crate::player::amount;
use crate::proto::{
    BuyInCompleted, BuyInFailed, BuyInInitiated, BuyInOrchestratorState, BuyInPhase,
    BuyInPhaseChanged, BuyInRequested, FundsReserved, JoinTable, OrchestrationFailure,
    PlayerJoined, ReleaseFunds, ReserveFunds,
};

/// The buy-in process manager.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuyIn;

fn table_of(state: &BuyInOrchestratorState) -> Option<uuid::Uuid> {
    uuid::Uuid::from_slice(&state.table_root).ok()
}

fn player_of(state: &BuyInOrchestratorState) -> Option<uuid::Uuid> {
    uuid::Uuid::from_slice(&state.player_root).ok()
}

fn phase(state: &BuyInOrchestratorState) -> BuyInPhase {
    BuyInPhase::try_from(state.phase).unwrap_or_default()
}

fn failed(state: &BuyInOrchestratorState, code: &str, reason: &str) -> BuyInFailed {
    BuyInFailed {
        player_root: state.player_root.clone(),
        table_root: state.table_root.clone(),
        reservation_id: state.reservation_id.clone(),
        failure: Some(OrchestrationFailure {
            code: code.to_owned(),
            message: reason.to_owned(),
            failed_at_phase: phase(state).as_str_name().to_owned(),
            failed_at: Some(time::now()),
        }),
    }
}

#[process_manager(
    name = "buy-in",
    sources = ["player", "table"],
    targets = ["player", "table"],
    state = BuyInOrchestratorState,
    snapshot
)]
impl BuyIn {
    /// The buy-in was asked for: reserve the chips on the player.
    #[handles(BuyInRequested)]
    pub fn start(
        &self,
        event: BuyInRequested,
        state: &BuyInOrchestratorState,
        ctx: &PmContext,
    ) -> Result<Option<(BuyInInitiated, Command<ReserveFunds>)>, Rejection> {
        if phase(state) != BuyInPhase::Unspecified {
            // One buy-in per workflow: a repeated request changes nothing.
            return Ok(None);
        }
        uuid::Uuid::from_slice(&event.table_root)
            .map_err(|_| Rejection::invalid_argument("table_root is not a UUID"))?;
        let player = ctx.root();
        Ok(Some((
            BuyInInitiated {
                player_root: player.as_bytes().to_vec(),
                table_root: event.table_root.clone(),
                reservation_id: event.reservation_id,
                seat: event.seat,
                amount: event.amount.clone(),
                phase: BuyInPhase::BuyInReserving.into(),
                initiated_at: Some(time::now()),
            },
            Command::to(
                "player",
                player,
                ReserveFunds {
                    amount: event.amount,
                    table_root: event.table_root,
                },
            ),
        )))
    }

    /// Seating needs the table's sequence; the coordinator fetches it.
    #[prepares(FundsReserved)]
    pub fn table(&self, _event: &FundsReserved, state: &BuyInOrchestratorState) -> Option<Cover> {
        table_of(state).map(|table| Cover::new("table", table))
    }

    /// The chips are reserved: seat the player.
    #[handles(FundsReserved)]
    pub fn reserved(
        &self,
        event: &FundsReserved,
        state: &BuyInOrchestratorState,
    ) -> Option<(BuyInPhaseChanged, Command<JoinTable>)> {
        if phase(state) != BuyInPhase::BuyInReserving || event.table_root != state.table_root {
            return None;
        }
        let table = table_of(state)?;
        Some((
            BuyInPhaseChanged {
                reservation_id: state.reservation_id.clone(),
                from_phase: BuyInPhase::BuyInReserving.into(),
                to_phase: BuyInPhase::BuyInSeating.into(),
                changed_at: Some(time::now()),
            },
            Command::to(
                "table",
                table,
                JoinTable {
                    player_root: state.player_root.clone(),
                    preferred_seat: state.seat,
                    buy_in_amount: state.amount,
                },
            ),
        ))
    }

    /// The table seated the player: done.
    #[handles(PlayerJoined)]
    pub fn seated(
        &self,
        event: &PlayerJoined,
        state: &BuyInOrchestratorState,
    ) -> Option<BuyInCompleted> {
        (phase(state) == BuyInPhase::BuyInSeating && event.player_root == state.player_root).then(
            || BuyInCompleted {
                player_root: state.player_root.clone(),
                table_root: state.table_root.clone(),
                reservation_id: state.reservation_id.clone(),
                seat: event.seat_position,
                amount: Some(crate::player::chips(event.stack)),
                completed_at: Some(time::now()),
            },
        )
    }

    /// The player could not reserve the chips: the buy-in fails.
    #[rejected(domain = "player", command = ReserveFunds)]
    pub fn funds_refused(
        &self,
        notice: &RejectionNotification,
        state: &BuyInOrchestratorState,
    ) -> BuyInFailed {
        failed(state, "FUNDS_REFUSED", &notice.rejection_reason)
    }

    /// The table refused the seat: release the reservation, end as failed.
    #[rejected(domain = "table", command = JoinTable)]
    pub fn seat_refused(
        &self,
        notice: &RejectionNotification,
        state: &BuyInOrchestratorState,
    ) -> PmOutput {
        let output = PmOutput::new().event(failed(state, "SEAT_REFUSED", &notice.rejection_reason));
        match player_of(state) {
            Some(player) => output.command(Command::to(
                "player",
                player,
                ReleaseFunds {
                    table_root: state.table_root.clone(),
                },
            )),
            None => output,
        }
    }

    #[applies(BuyInInitiated)]
    fn initiated(state: &mut BuyInOrchestratorState, event: BuyInInitiated) {
        state.reservation_id = event.reservation_id;
        state.player_root = event.player_root;
        state.table_root = event.table_root;
        state.seat = event.seat;
        state.amount = amount(event.amount.as_ref());
        state.phase = event.phase;
        state.started_at = event.initiated_at;
    }

    #[applies(BuyInPhaseChanged)]
    fn moved(state: &mut BuyInOrchestratorState, event: &BuyInPhaseChanged) {
        state.phase = event.to_phase;
    }

    #[applies(BuyInCompleted)]
    fn completed(state: &mut BuyInOrchestratorState, _: &BuyInCompleted) {
        state.phase = BuyInPhase::BuyInCompleted.into();
    }

    #[applies(BuyInFailed)]
    fn ended_failed(state: &mut BuyInOrchestratorState, _: &BuyInFailed) {
        state.phase = BuyInPhase::BuyInFailed.into();
    }
}
