//! The player rules again, in the function-based style: plain functions
//! registered on a [`CommandRouter`]. Same runtime, server and fixture as the
//! `#[aggregate]` [`Player`](crate::player::Player); same events and messages.

use angzarr_client::prelude::*;
use angzarr_client::proto::time;

use crate::player::{add, amount, chips, subtract, table_key, PlayerView};
use crate::proto::{
    DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred, FundsWithdrawn,
    PlayerRegistered, PlayerState, RegisterPlayer, ReleaseFunds, ReserveFunds, WithdrawFunds,
};

/// The player aggregate as a router, keeping `examples.PlayerState` snapshots.
pub fn player_router() -> CommandRouter<PlayerState> {
    CommandRouter::new("player", PlayerState::default)
        .named("PlayerRouter")
        .on(register)
        .on(deposit)
        .on(withdraw)
        .on(reserve)
        .on(release)
        .apply(registered)
        .apply(|state: &mut PlayerState, e: &FundsDeposited| {
            set_bankroll(state, e.new_balance.as_ref())
        })
        .apply(|state: &mut PlayerState, e: &FundsWithdrawn| {
            set_bankroll(state, e.new_balance.as_ref())
        })
        .apply(|state: &mut PlayerState, e: &FundsTransferred| {
            set_bankroll(state, e.new_balance.as_ref())
        })
        .apply(funds_reserved)
        .apply(funds_released)
        .with_snapshots()
}

fn refuse(message: &str) -> Rejection {
    Rejection::precondition(message)
}

/// "Player does not exist" unless registered.
fn existing(state: &PlayerState) -> Result<(), Rejection> {
    require_exists(state.exists(), "Player does not exist")
}

/// "amount must be positive", as a precondition like every player rule.
fn positive(value: i64) -> Result<i64, Rejection> {
    require_positive(value, "amount")
        .map_err(|r| r.with_kind(RejectionKind::FailedPrecondition))?;
    Ok(value)
}

fn register(cmd: RegisterPlayer, state: &PlayerState) -> Result<PlayerRegistered, Rejection> {
    require_not_exists(state.exists(), "Player already exists")?;
    if cmd.display_name.is_empty() {
        return Err(refuse("display_name is required"));
    }
    if cmd.email.is_empty() {
        return Err(refuse("email is required"));
    }
    Ok(PlayerRegistered {
        display_name: cmd.display_name,
        email: cmd.email,
        player_type: cmd.player_type,
        ai_model_id: cmd.ai_model_id,
        registered_at: Some(time::now()),
    })
}

fn deposit(cmd: DepositFunds, state: &PlayerState) -> Result<FundsDeposited, Rejection> {
    existing(state)?;
    let value = positive(amount(cmd.amount.as_ref()))?;
    Ok(FundsDeposited {
        amount: cmd.amount,
        new_balance: Some(chips(add(state.bankroll(), value)?)),
        deposited_at: Some(time::now()),
    })
}

fn withdraw(cmd: WithdrawFunds, state: &PlayerState) -> Result<FundsWithdrawn, Rejection> {
    existing(state)?;
    let value = positive(amount(cmd.amount.as_ref()))?;
    if value > state.available()? {
        return Err(refuse("Insufficient funds"));
    }
    Ok(FundsWithdrawn {
        amount: cmd.amount,
        new_balance: Some(chips(subtract(state.bankroll(), value)?)),
        withdrawn_at: Some(time::now()),
    })
}

fn reserve(cmd: ReserveFunds, state: &PlayerState) -> Result<FundsReserved, Rejection> {
    existing(state)?;
    let value = positive(amount(cmd.amount.as_ref()))?;
    if state
        .table_reservations
        .contains_key(&table_key(&cmd.table_root))
    {
        return Err(refuse("Funds already reserved for this table"));
    }
    if value > state.available()? {
        return Err(refuse("Insufficient funds"));
    }
    let reserved = add(state.reserved(), value)?;
    Ok(FundsReserved {
        amount: cmd.amount,
        table_root: cmd.table_root,
        new_available_balance: Some(chips(subtract(state.bankroll(), reserved)?)),
        new_reserved_balance: Some(chips(reserved)),
        reserved_at: Some(time::now()),
    })
}

fn release(cmd: ReleaseFunds, state: &PlayerState) -> Result<FundsReleased, Rejection> {
    existing(state)?;
    let held = state.reservation(&cmd.table_root);
    if held == 0 {
        return Err(refuse("No funds reserved for this table"));
    }
    let reserved = subtract(state.reserved(), held)?;
    Ok(FundsReleased {
        amount: Some(chips(held)),
        table_root: cmd.table_root,
        new_available_balance: Some(chips(subtract(state.bankroll(), reserved)?)),
        new_reserved_balance: Some(chips(reserved)),
        released_at: Some(time::now()),
    })
}

fn registered(state: &mut PlayerState, event: &PlayerRegistered) {
    *state = PlayerState {
        player_id: format!("player_{}", event.email),
        display_name: event.display_name.clone(),
        email: event.email.clone(),
        player_type: event.player_type,
        ai_model_id: event.ai_model_id.clone(),
        bankroll: Some(chips(0)),
        reserved_funds: Some(chips(0)),
        table_reservations: Default::default(),
        status: "active".to_owned(),
    };
}

fn set_bankroll(state: &mut PlayerState, balance: Option<&crate::proto::Currency>) {
    state.bankroll = Some(chips(amount(balance)));
}

fn funds_reserved(state: &mut PlayerState, event: &FundsReserved) {
    state.reserved_funds = Some(chips(amount(event.new_reserved_balance.as_ref())));
    state
        .table_reservations
        .insert(table_key(&event.table_root), amount(event.amount.as_ref()));
}

fn funds_released(state: &mut PlayerState, event: &FundsReleased) {
    state.reserved_funds = Some(chips(amount(event.new_reserved_balance.as_ref())));
    state
        .table_reservations
        .remove(&table_key(&event.table_root));
}
