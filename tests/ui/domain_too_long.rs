#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "p12345678901234567890123456789012345678901234567890123456789012345", state = PlayerState)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }
}
fn main() {}
