use angzarr_client::prelude::*;
use examples::proto::{FundsReserved, PlayerState};

struct BuyIn;

#[process_manager(name = "buy-in", sources = ["player"], targets = ["table"], state = PlayerState, snapshot = 10)]
impl BuyIn {
    #[handles(FundsReserved)]
    fn start(&self, _event: &FundsReserved, _state: &PlayerState) -> () {
        ()
    }
}

fn main() {}
