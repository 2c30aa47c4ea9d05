//! The player's upcaster: registrations stored by the first version of the
//! player (`examples.v1.PlayerRegistered`, before players had a type) read
//! as today's `examples.PlayerRegistered`, every such player a person.

use angzarr_client::prelude::*;

use crate::proto::{v1, PlayerRegistered, PlayerType};

/// Upgrades the player's old events as history is loaded.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlayerUpcaster;

#[upcaster(domain = "player")]
impl PlayerUpcaster {
    /// Version 1 registrations were all people.
    #[upcasts(v1::PlayerRegistered)]
    pub fn registration(old: v1::PlayerRegistered) -> PlayerRegistered {
        PlayerRegistered {
            display_name: old.display_name,
            email: old.email,
            player_type: PlayerType::Human.into(),
            ai_model_id: String::new(),
            registered_at: old.registered_at,
        }
    }
}
