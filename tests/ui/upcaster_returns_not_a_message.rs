#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Upgrade;

struct Renamed(String);

#[upcaster(domain = "player")]
impl Upgrade {
    #[upcasts(RegisterPlayer)]
    fn v1(old: RegisterPlayer) -> Renamed {
        Renamed(old.display_name)
    }
}
fn main() {}
