//! Runnable examples for angzarr-rs, built around the poker player domain of
//! Angzarr's example applications.
//!
//! [`proto`] holds the example domain's wire types (package `examples`:
//! `type.googleapis.com/examples.RegisterPlayer` and so on), compiled from
//! this crate's own `.proto` files and wire-identical to the schema Angzarr's
//! examples use in every language.
//!
//! ```
//! use examples::proto::RegisterPlayer;
//! use prost::Name;
//!
//! assert_eq!(RegisterPlayer::type_url(), "type.googleapis.com/examples.RegisterPlayer");
//! ```

#![warn(missing_docs)]

pub mod buy_in;
pub mod feed;
pub mod player;
pub mod player_router;
pub mod poker;
pub mod sagas;
pub mod seating;
pub mod server;
pub mod table;
pub mod upcaster;

/// Messages of package `examples`: player commands, events and state, and
/// the poker vocabulary they use.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/examples.rs"));

    /// An older version of the player's events (package `examples.v1`),
    /// which [`crate::upcaster::PlayerUpcaster`] upgrades.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/examples.v1.rs"));
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of package `examples`,
/// including its imports and source comments.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/examples_descriptor.bin"));
