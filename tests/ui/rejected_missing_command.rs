#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }

    #[rejected(domain = "table")]
    fn refused(&self, _rejection: &angzarr_client::proto::RejectionNotification) -> FundsDeposited {
        FundsDeposited::default()
    }
}
fn main() {}
