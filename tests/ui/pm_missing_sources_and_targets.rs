#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct BuyIn;

#[process_manager(name = "buy-in", state = PlayerState)]
impl BuyIn {
    #[handles(FundsReserved)]
    fn start(&self, _event: &FundsReserved) -> PmOutput {
        PmOutput::new()
    }
}
fn main() {}
