//! The poker player aggregate of Angzarr's example applications, in the rich
//! domain model: a player registers, deposits and withdraws chips, and sets
//! chips aside for the tables it sits at.
//!
//! The rules (checks run in order; the first failing one rejects with
//! FAILED_PRECONDITION and exactly its message) are shared by Angzarr's
//! examples in every language, so this aggregate behaves as theirs do.

use angzarr_client::prelude::*;
use angzarr_client::proto::time;

use crate::proto::{
    Currency, DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred,
    FundsWithdrawn, PlayerRegistered, PlayerState, RegisterPlayer, ReleaseFunds, ReserveFunds,
    WithdrawFunds,
};

/// The currency of every amount in the examples.
pub const CHIPS: &str = "CHIPS";

/// An amount of chips.
pub fn chips(amount: i64) -> Currency {
    Currency {
        amount,
        currency_code: CHIPS.to_owned(),
    }
}

/// The amount of an optional currency; unset counts as 0.
pub fn amount(currency: Option<&Currency>) -> i64 {
    currency.map_or(0, |currency| currency.amount)
}

/// `a + b` for chip amounts, or INVALID_ARGUMENT `Value out of range: <a + b>`
/// naming the sum that does not fit: an amount is never wrapped into a
/// wrong balance, and never panics.
pub fn add(a: i64, b: i64) -> Result<i64, Rejection> {
    a.checked_add(b)
        .ok_or_else(|| result_out_of_range(i128::from(a) + i128::from(b)))
}

/// `a - b` for chip amounts, or INVALID_ARGUMENT `Value out of range: <a - b>`.
pub fn subtract(a: i64, b: i64) -> Result<i64, Rejection> {
    a.checked_sub(b)
        .ok_or_else(|| result_out_of_range(i128::from(a) - i128::from(b)))
}

fn result_out_of_range(value: i128) -> Rejection {
    Rejection::invalid_argument(format!("Value out of range: {value}"))
}

/// The rejection of an amount the arithmetic cannot hold, worded as
/// Angzarr's examples in other languages word it.
pub fn out_of_range(value: i64) -> Rejection {
    Rejection::invalid_argument(format!("Value out of range: {value}"))
}

/// Lowercase hex of a table root: the key of a table's reservation.
pub fn table_key(table_root: &[u8]) -> String {
    angzarr_client::proto::identity::hex(table_root)
}

/// Reads of the player's state the rules are written in.
pub trait PlayerView {
    /// Whether the player has registered.
    fn exists(&self) -> bool;
    /// All chips the player holds.
    fn bankroll(&self) -> i64;
    /// Chips set aside for tables.
    fn reserved(&self) -> i64;
    /// Chips free to withdraw or reserve: bankroll - reserved.
    fn available(&self) -> Result<i64, Rejection>;
    /// Chips reserved for one table (0 if none).
    fn reservation(&self, table_root: &[u8]) -> i64;
}

impl PlayerView for PlayerState {
    fn exists(&self) -> bool {
        !self.player_id.is_empty()
    }

    fn bankroll(&self) -> i64 {
        amount(self.bankroll.as_ref())
    }

    fn reserved(&self) -> i64 {
        amount(self.reserved_funds.as_ref())
    }

    fn available(&self) -> Result<i64, Rejection> {
        subtract(self.bankroll(), self.reserved())
    }

    fn reservation(&self, table_root: &[u8]) -> i64 {
        self.table_reservations
            .get(&table_key(table_root))
            .copied()
            .unwrap_or(0)
    }
}

/// The player aggregate. Its state is `examples.PlayerState`, returned as a
/// snapshot with every command (`snapshot = 1`), so that every answer shows
/// the player as it now is; an aggregate with long histories keeps the
/// default schedule (a bare `snapshot`, as the table does).
#[derive(Debug, Default, Clone, Copy)]
pub struct Player;

fn rejected(message: &str) -> Rejection {
    Rejection::precondition(message)
}

fn positive(amount: i64) -> Result<(), Rejection> {
    require_positive(amount, "amount").map_err(|r| r.with_kind(RejectionKind::FailedPrecondition))
}

#[aggregate(domain = "player", state = PlayerState, snapshot = 1)]
impl Player {
    /// Registers a new player.
    #[handles(RegisterPlayer)]
    pub fn register(
        &self,
        cmd: RegisterPlayer,
        state: &PlayerState,
    ) -> Result<PlayerRegistered, Rejection> {
        if state.exists() {
            return Err(rejected("Player already exists"));
        }
        if cmd.display_name.is_empty() {
            return Err(rejected("display_name is required"));
        }
        if cmd.email.is_empty() {
            return Err(rejected("email is required"));
        }
        Ok(PlayerRegistered {
            display_name: cmd.display_name,
            email: cmd.email,
            player_type: cmd.player_type,
            ai_model_id: cmd.ai_model_id,
            registered_at: Some(time::now()),
        })
    }

    /// Adds chips to the bankroll.
    #[handles(DepositFunds)]
    pub fn deposit(
        &self,
        cmd: DepositFunds,
        state: &PlayerState,
    ) -> Result<FundsDeposited, Rejection> {
        if !state.exists() {
            return Err(rejected("Player does not exist"));
        }
        let deposit = amount(cmd.amount.as_ref());
        positive(deposit)?;
        Ok(FundsDeposited {
            amount: cmd.amount,
            new_balance: Some(chips(add(state.bankroll(), deposit)?)),
            deposited_at: Some(time::now()),
        })
    }

    /// Takes chips out of the bankroll.
    #[handles(WithdrawFunds)]
    pub fn withdraw(
        &self,
        cmd: WithdrawFunds,
        state: &PlayerState,
    ) -> Result<FundsWithdrawn, Rejection> {
        if !state.exists() {
            return Err(rejected("Player does not exist"));
        }
        let withdrawal = amount(cmd.amount.as_ref());
        positive(withdrawal)?;
        if withdrawal > state.available()? {
            return Err(rejected("Insufficient funds"));
        }
        Ok(FundsWithdrawn {
            amount: cmd.amount,
            new_balance: Some(chips(subtract(state.bankroll(), withdrawal)?)),
            withdrawn_at: Some(time::now()),
        })
    }

    /// Sets chips aside for a table.
    #[handles(ReserveFunds)]
    pub fn reserve(
        &self,
        cmd: ReserveFunds,
        state: &PlayerState,
    ) -> Result<FundsReserved, Rejection> {
        if !state.exists() {
            return Err(rejected("Player does not exist"));
        }
        let reservation = amount(cmd.amount.as_ref());
        positive(reservation)?;
        if state
            .table_reservations
            .contains_key(&table_key(&cmd.table_root))
        {
            return Err(rejected("Funds already reserved for this table"));
        }
        if reservation > state.available()? {
            return Err(rejected("Insufficient funds"));
        }
        let reserved = add(state.reserved(), reservation)?;
        Ok(FundsReserved {
            amount: cmd.amount,
            table_root: cmd.table_root,
            new_available_balance: Some(chips(subtract(state.bankroll(), reserved)?)),
            new_reserved_balance: Some(chips(reserved)),
            reserved_at: Some(time::now()),
        })
    }

    /// Returns a table's whole reservation to the available balance.
    #[handles(ReleaseFunds)]
    pub fn release(
        &self,
        cmd: ReleaseFunds,
        state: &PlayerState,
    ) -> Result<FundsReleased, Rejection> {
        if !state.exists() {
            return Err(rejected("Player does not exist"));
        }
        let reservation = state.reservation(&cmd.table_root);
        if reservation == 0 {
            return Err(rejected("No funds reserved for this table"));
        }
        let reserved = subtract(state.reserved(), reservation)?;
        Ok(FundsReleased {
            amount: Some(chips(reservation)),
            table_root: cmd.table_root,
            new_available_balance: Some(chips(subtract(state.bankroll(), reserved)?)),
            new_reserved_balance: Some(chips(reserved)),
            released_at: Some(time::now()),
        })
    }

    #[applies(PlayerRegistered)]
    fn registered(state: &mut PlayerState, event: &PlayerRegistered) {
        state.player_id = format!("player_{}", event.email);
        state.display_name.clone_from(&event.display_name);
        state.email.clone_from(&event.email);
        state.player_type = event.player_type;
        state.ai_model_id.clone_from(&event.ai_model_id);
        state.status = "active".to_owned();
        state.bankroll = Some(chips(0));
        state.reserved_funds = Some(chips(0));
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: &FundsDeposited) {
        state.bankroll = Some(chips(amount(event.new_balance.as_ref())));
    }

    #[applies(FundsWithdrawn)]
    fn withdrawn(state: &mut PlayerState, event: &FundsWithdrawn) {
        state.bankroll = Some(chips(amount(event.new_balance.as_ref())));
    }

    #[applies(FundsReserved)]
    fn reserved(state: &mut PlayerState, event: &FundsReserved) {
        state.reserved_funds = Some(chips(amount(event.new_reserved_balance.as_ref())));
        state
            .table_reservations
            .insert(table_key(&event.table_root), amount(event.amount.as_ref()));
    }

    #[applies(FundsReleased)]
    fn released(state: &mut PlayerState, event: &FundsReleased) {
        state.reserved_funds = Some(chips(amount(event.new_reserved_balance.as_ref())));
        state
            .table_reservations
            .remove(&table_key(&event.table_root));
    }

    #[applies(FundsTransferred)]
    fn transferred(state: &mut PlayerState, event: &FundsTransferred) {
        state.bankroll = Some(chips(amount(event.new_balance.as_ref())));
    }
}
