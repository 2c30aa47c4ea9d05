#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

struct Ledger {
    owner: String,
}

#[aggregate(domain = "player", state = Ledger)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer, state: &Ledger) -> PlayerRegistered {
        PlayerRegistered {
            display_name: state.owner.clone(),
            ..Default::default()
        }
    }
}
fn main() {}
