#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "Player", state = PlayerState, colour = "blue")]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&mut self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }

    #[handles(RegisterPlayer)]
    fn register_again(&self) -> PlayerRegistered {
        PlayerRegistered::default()
    }

    #[applies(PlayerRegistered)]
    fn registered(&self, _event: &PlayerRegistered) {}
}

// The item is still emitted, so the rest of the crate sees the methods.
fn uses_the_item(player: &mut Player) -> PlayerRegistered {
    player.register(RegisterPlayer::default())
}
fn main() {}
