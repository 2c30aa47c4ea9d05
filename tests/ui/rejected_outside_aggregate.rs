#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

impl Player {
    #[rejected(domain = "table", command = DepositFunds)]
    fn refused(&self, _rejection: &angzarr_client::proto::RejectionNotification) -> FundsDeposited {
        FundsDeposited::default()
    }
}
fn main() {}
