#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Upgrade;

#[upcaster(domain = "player")]
impl Upgrade {
    #[upcasts(RegisterPlayer)]
    fn forward(old: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered { display_name: old.display_name, ..Default::default() }
    }

    #[upcasts(PlayerRegistered)]
    fn back(old: PlayerRegistered) -> Result<RegisterPlayer, Rejection> {
        Ok(RegisterPlayer { display_name: old.display_name, ..Default::default() })
    }
}
fn main() {}
