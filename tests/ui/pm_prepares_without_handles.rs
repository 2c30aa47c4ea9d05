#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct BuyIn;

#[process_manager(name = "buy-in", sources = ["player"], targets = ["table"], state = PlayerState)]
impl BuyIn {
    #[prepares(FundsDeposited)]
    fn destinations(&self, _event: &FundsDeposited) -> Vec<Cover> {
        Vec::new()
    }

    #[handles(FundsReserved)]
    fn start(&self, _event: &FundsReserved) -> PmOutput {
        PmOutput::new()
    }
}
fn main() {}
