#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

impl Player {
    #[applies(PlayerRegistered)]
    fn registered(_state: &mut PlayerState, _event: &PlayerRegistered) {}
}
fn main() {}
