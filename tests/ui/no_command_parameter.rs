#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self) -> PlayerRegistered {
        PlayerRegistered::default()
    }
}
fn main() {}
