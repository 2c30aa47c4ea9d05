#![allow(unused_imports)]
use angzarr_client::prelude::*;
use angzarr_client::proto::{Cover, RejectionNotification};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, RegisterPlayer,
    ReleaseFunds, ReserveFunds,
};

struct Echo;

#[saga(name = "echo", source = "table", targets = [])]
impl Echo {
    #[handles(FundsReserved)]
    fn reserve(&self, _event: &FundsReserved) -> Command<ReleaseFunds> {
        Command::new(uuid::Uuid::nil(), ReleaseFunds::default())
    }
}

struct Twice;

#[saga(name = "twice", source = "table", targets = ["player", "player"])]
impl Twice {
    #[handles(FundsReserved)]
    fn reserve(&self, _event: &FundsReserved) -> Command<ReleaseFunds> {
        Command::to("player", uuid::Uuid::nil(), ReleaseFunds::default())
    }
}
fn main() {}
