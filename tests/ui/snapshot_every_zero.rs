#![allow(unused_imports)]
use angzarr_client::prelude::*;
use examples::proto::{PlayerRegistered, PlayerState, RegisterPlayer};

struct Player;

#[aggregate(domain = "player", state = PlayerState, snapshot = 0)]
impl Player {
    #[handles(RegisterPlayer)]
    fn register(&self, _cmd: RegisterPlayer) -> PlayerRegistered {
        PlayerRegistered::default()
    }
}

fn main() {}
