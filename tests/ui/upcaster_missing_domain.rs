#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Upgrade;

#[upcaster]
impl Upgrade {
    #[upcasts(RegisterPlayer)]
    fn v1(old: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered { display_name: old.display_name, ..Default::default() }
    }
}
fn main() {}
