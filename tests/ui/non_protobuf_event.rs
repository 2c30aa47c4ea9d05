#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[derive(Debug, Default)]
struct Registered;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }

    #[applies(Registered)]
    fn registered(_state: &mut PlayerState, _event: &Registered) {}
}
fn main() {}
