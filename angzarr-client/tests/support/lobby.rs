//! A small lobby domain for the component tests: tables seat players, a
//! workflow buys players in, read models watch, old events get upgraded.
//! Messages of package `test`, declared by hand.

#![allow(dead_code)]

use prost::Name;

macro_rules! test_package {
    ($($message:ident),+) => {$(
        impl Name for $message {
            const NAME: &'static str = stringify!($message);
            const PACKAGE: &'static str = "test";
        }
    )+};
}

/// Table event: a player sat down.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Seated {
    #[prost(bytes = "vec", tag = "1")]
    pub player: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub amount: i64,
}

/// Table event: a player stood up with their chips.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Left {
    #[prost(bytes = "vec", tag = "1")]
    pub player: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub chips: i64,
}

/// Player command: hold chips for a table.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reserve {
    #[prost(int64, tag = "1")]
    pub amount: i64,
    #[prost(bytes = "vec", tag = "2")]
    pub table: Vec<u8>,
}

/// Player command: give held chips back.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Release {
    #[prost(bytes = "vec", tag = "1")]
    pub table: Vec<u8>,
}

/// A fact for an audit log.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Audited {
    #[prost(string, tag = "1")]
    pub note: String,
}

/// Player event: asks to buy in at a table.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuyInAsked {
    #[prost(bytes = "vec", tag = "1")]
    pub table: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub amount: i64,
}

/// Table command: seat a player.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Seat {
    #[prost(bytes = "vec", tag = "1")]
    pub player: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub amount: i64,
}

/// Workflow event: the buy-in started.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuyInStarted {
    #[prost(bytes = "vec", tag = "1")]
    pub player: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub table: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub amount: i64,
}

/// Workflow event: the buy-in ended.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuyInEnded {
    #[prost(bool, tag = "1")]
    pub seated: bool,
    #[prost(string, tag = "2")]
    pub reason: String,
}

/// Workflow state (a protobuf message, so it can be a snapshot).
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuyInState {
    #[prost(bytes = "vec", tag = "1")]
    pub player: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub table: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub amount: i64,
    #[prost(string, tag = "4")]
    pub phase: String,
}

/// A seat read model's answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SeatCount {
    #[prost(uint32, tag = "1")]
    pub seated: u32,
}

/// Old versions of a registration event.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinedV1 {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinedV2 {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub kind: String,
}

/// The current version.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Joined {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub kind: String,
    #[prost(uint32, tag = "3")]
    pub version: u32,
}

/// Member command and state, for an aggregate reading upgraded history.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Rename {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Member {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub kind: String,
    #[prost(uint32, tag = "3")]
    pub joins: u32,
}

test_package!(
    Seated,
    Left,
    Reserve,
    Release,
    Audited,
    BuyInAsked,
    Seat,
    BuyInStarted,
    BuyInEnded,
    BuyInState,
    SeatCount,
    JoinedV1,
    JoinedV2,
    Joined,
    Rename,
    Member
);

/// A root from a test byte.
pub fn root(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}
