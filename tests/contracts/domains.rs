//! Two small aggregates the contracts need besides the player: a cashier
//! whose payouts a player can refuse (compensation), and a slow domain
//! (deadlines).

use std::time::Duration;

use angzarr_client::prelude::*;
use angzarr_client::proto::{AnyExt, RejectionNotification};
use examples::player::{amount, chips};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsWithdrawn, PlayerReturningToPlay, PlayerState, SitIn,
    WithdrawFunds,
};

/// The chips a cashier holds.
#[derive(Debug, Default)]
pub struct Float {
    pub chips: i64,
}

/// A cashier: takes chips in, pays chips out to players, and takes a payout
/// back when the player's domain refuses the deposit the payout caused.
pub struct Cashier;

#[aggregate(domain = "cashier", state = Float)]
impl Cashier {
    #[handles(DepositFunds)]
    fn take_in(&self, cmd: DepositFunds, float: &Float) -> Result<FundsDeposited, Rejection> {
        let deposited = amount(cmd.amount.as_ref());
        require_positive(deposited, "amount")?;
        Ok(FundsDeposited {
            amount: cmd.amount,
            new_balance: Some(chips(float.chips + deposited)),
            deposited_at: None,
        })
    }

    #[handles(WithdrawFunds)]
    fn pay_out(&self, cmd: WithdrawFunds, float: &Float) -> Result<FundsWithdrawn, Rejection> {
        let paid = amount(cmd.amount.as_ref());
        require_positive(paid, "amount")?;
        if paid > float.chips {
            return Err(Rejection::precondition("The float is too low"));
        }
        Ok(FundsWithdrawn {
            amount: cmd.amount,
            new_balance: Some(chips(float.chips - paid)),
            withdrawn_at: None,
        })
    }

    /// The player refused the deposit a payout sent it: the chips come back.
    #[rejected(domain = "player", command = DepositFunds)]
    fn deposit_refused(
        &self,
        notification: &RejectionNotification,
        float: &Float,
    ) -> Result<FundsDeposited, Rejection> {
        let refused = notification
            .rejected_command
            .as_ref()
            .and_then(|book| book.first_page())
            .and_then(|page| page.command())
            .and_then(|command| command.unpack::<DepositFunds>().ok())
            .ok_or_else(|| {
                Rejection::invalid_argument("the notification carries no DepositFunds")
            })?;
        let returned = amount(refused.amount.as_ref());
        Ok(FundsDeposited {
            amount: refused.amount,
            new_balance: Some(chips(float.chips + returned)),
            deposited_at: None,
        })
    }

    #[applies(FundsDeposited)]
    fn deposited(float: &mut Float, event: &FundsDeposited) {
        float.chips = amount(event.new_balance.as_ref());
    }

    #[applies(FundsWithdrawn)]
    fn withdrawn(float: &mut Float, event: &FundsWithdrawn) {
        float.chips = amount(event.new_balance.as_ref());
    }
}

/// How long the slow domain takes to decide.
pub const SLOW: Duration = Duration::from_millis(400);

/// A domain whose only command takes [`SLOW`] to decide.
pub struct Slow;

#[aggregate(domain = "slow", state = PlayerState)]
impl Slow {
    #[handles(SitIn)]
    async fn sit_in(&self, cmd: SitIn) -> PlayerReturningToPlay {
        tokio::time::sleep(SLOW).await;
        PlayerReturningToPlay {
            table_root: cmd.table_root,
            sat_in_at: None,
        }
    }
}

/// Pays a cashier's withdrawals to the player who shares its root: the
/// player refuses the deposit when not registered, and the cashier takes
/// the chips back (its `#[rejected]` handler).
pub struct Payout;

#[saga(name = "payout", source = "cashier", target = "player")]
impl Payout {
    #[handles(FundsWithdrawn)]
    fn pay(&self, event: &FundsWithdrawn, ctx: &SagaContext) -> Command<DepositFunds> {
        Command::new(
            ctx.root(),
            DepositFunds {
                amount: event.amount.clone(),
            },
        )
    }
}
