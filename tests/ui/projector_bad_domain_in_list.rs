#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Seating;

#[projector(name = "seating", domains = ["table", "Player"])]
impl Seating {
    #[handles(FundsReserved)]
    fn reserved(&self, _event: &FundsReserved) {}
}
fn main() {}
