#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Loose;

impl Loose {
    #[prepares(FundsReserved)]
    fn destinations(&self, _event: &FundsReserved) -> Vec<Cover> {
        Vec::new()
    }
}
fn main() {}
