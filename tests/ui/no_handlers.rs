#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "player", state = PlayerState)]
impl Player {
    #[applies(PlayerRegistered)]
    fn registered(_state: &mut PlayerState, _event: &PlayerRegistered) {}
}
fn main() {}
