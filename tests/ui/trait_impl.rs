#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

trait Decide {
    fn decide(&self);
}

#[aggregate(domain = "player", state = PlayerState)]
impl Decide for Player {
    fn decide(&self) {}
}
fn main() {}
