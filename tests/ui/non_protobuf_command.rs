#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

struct Register {
    name: String,
}

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(Register)]
    fn register(&self, cmd: Register) -> PlayerRegistered {
        PlayerRegistered {
            display_name: cmd.name,
            ..Default::default()
        }
    }
}
fn main() {}
