#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Seating;

struct Sat;

#[projector(name = "seating", domains = ["table"])]
impl Seating {
    #[handles(Sat)]
    fn sat(&self, _event: &Sat) {}
}
fn main() {}
