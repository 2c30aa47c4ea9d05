#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

#[aggregate(domain = "player", state = PlayerState)]
struct Player {
    balance: i64,
}
fn main() {}
