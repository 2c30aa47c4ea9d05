#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player<T>(T);

#[aggregate(domain = "player", state = PlayerState)]
impl<T: Send + Sync + 'static> Player<T> {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }
}
fn main() {}
