#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Seating;

#[projector(name = "seating", domains = ["table"])]
impl Seating {
    #[handles(FundsReserved)]
    fn reserved(&self, _event: &FundsReserved) {}

    #[rejected(domain = "player", command = ReserveFunds)]
    fn refused(&self, _notice: &RejectionNotification) {}
}
fn main() {}
