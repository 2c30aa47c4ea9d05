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
    async fn v1(old: RegisterPlayer, _ctx: &CommandContext) -> PlayerRegistered {
        PlayerRegistered { display_name: old.display_name, ..Default::default() }
    }
}
fn main() {}
