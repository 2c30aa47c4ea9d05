#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, cmd: RegisterPlayer) -> usize {
        cmd.display_name.len()
    }
}
fn main() {}
