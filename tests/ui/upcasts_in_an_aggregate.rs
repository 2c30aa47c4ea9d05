#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Player;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(DepositFunds)]
    fn deposit(&self, _cmd: DepositFunds) -> FundsDeposited {
        FundsDeposited::default()
    }

    #[upcasts(RegisterPlayer)]
    fn v1(old: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered { display_name: old.display_name, ..Default::default() }
    }
}
fn main() {}
