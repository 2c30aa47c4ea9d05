//! `poker-events`: a CloudEvents projector publishing what happens at the
//! tables and to the players' money, without the players' private details.

use angzarr_client::prelude::*;

use crate::proto::{
    FundsReleased, FundsReserved, HandEnded, HandStarted, PlayerJoined, PlayerLeft,
    PlayerRegistered, TableCreated,
};

/// The CloudEvents projector.
#[derive(Debug, Default, Clone, Copy)]
pub struct PokerEvents;

/// The CloudEvents `type` of each published event.
pub mod types {
    /// A table opened.
    pub const TABLE_OPENED: &str = "io.angzarr.poker.table.opened";
    /// A player sat down.
    pub const SEAT_TAKEN: &str = "io.angzarr.poker.table.seat-taken";
    /// A player stood up.
    pub const SEAT_FREED: &str = "io.angzarr.poker.table.seat-freed";
    /// A hand was dealt.
    pub const HAND_STARTED: &str = "io.angzarr.poker.hand.started";
    /// A hand was played out.
    pub const HAND_ENDED: &str = "io.angzarr.poker.hand.ended";
    /// A player joined the site.
    pub const PLAYER_JOINED: &str = "io.angzarr.poker.player.registered";
    /// Chips were set aside for a table.
    pub const CHIPS_RESERVED: &str = "io.angzarr.poker.player.chips-reserved";
    /// Chips came back from a table.
    pub const CHIPS_RELEASED: &str = "io.angzarr.poker.player.chips-released";
}

#[projector(name = "poker-events", domains = ["table", "player"])]
impl PokerEvents {
    #[handles(TableCreated)]
    fn opened(&self, event: &TableCreated) -> CloudEvent {
        CloudEvent::new(event).with_type(types::TABLE_OPENED)
    }

    #[handles(PlayerJoined)]
    fn seat_taken(&self, event: &PlayerJoined) -> CloudEvent {
        CloudEvent::new(event).with_type(types::SEAT_TAKEN)
    }

    #[handles(PlayerLeft)]
    fn seat_freed(&self, event: &PlayerLeft) -> CloudEvent {
        CloudEvent::new(event).with_type(types::SEAT_FREED)
    }

    #[handles(HandStarted)]
    fn hand_started(&self, event: &HandStarted) -> CloudEvent {
        // The seats are public; who holds which cards is not in the event.
        CloudEvent::new(&HandStarted {
            hand_root: event.hand_root.clone(),
            hand_number: event.hand_number,
            dealer_position: event.dealer_position,
            small_blind_position: event.small_blind_position,
            big_blind_position: event.big_blind_position,
            ..Default::default()
        })
        .with_type(types::HAND_STARTED)
    }

    #[handles(HandEnded)]
    fn hand_ended(&self, event: &HandEnded) -> CloudEvent {
        CloudEvent::new(event).with_type(types::HAND_ENDED)
    }

    #[handles(PlayerRegistered)]
    fn registered(&self, event: &PlayerRegistered) -> CloudEvent {
        // The display name is public; the email is not.
        CloudEvent::new(&PlayerRegistered {
            display_name: event.display_name.clone(),
            player_type: event.player_type,
            ..Default::default()
        })
        .with_type(types::PLAYER_JOINED)
    }

    #[handles(FundsReserved)]
    fn reserved(&self, event: &FundsReserved) -> CloudEvent {
        CloudEvent::new(&FundsReserved {
            amount: event.amount.clone(),
            table_root: event.table_root.clone(),
            ..Default::default()
        })
        .with_type(types::CHIPS_RESERVED)
    }

    #[handles(FundsReleased)]
    fn released(&self, event: &FundsReleased) -> CloudEvent {
        CloudEvent::new(&FundsReleased {
            amount: event.amount.clone(),
            table_root: event.table_root.clone(),
            ..Default::default()
        })
        .with_type(types::CHIPS_RELEASED)
    }
}
