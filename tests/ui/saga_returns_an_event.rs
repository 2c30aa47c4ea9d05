#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Echo;

#[saga(name = "echo", source = "table", target = "player")]
impl Echo {
    #[handles(FundsReserved)]
    fn reserve(&self, _event: &FundsReserved) -> FundsDeposited {
        FundsDeposited::default()
    }
}
fn main() {}
