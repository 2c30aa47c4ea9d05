//! The poker table aggregate of Angzarr's example applications: players
//! join and leave, hands start and end. It follows the rules the examples
//! in other languages implement (`shared/examples/table-rules.md`), request
//! for request: the same checks in the same order, the same messages
//! (FAILED_PRECONDITION), the same event fields.
//!
//! Where the reference misbehaves, this one answers clearly instead: an
//! amount the arithmetic cannot hold is INVALID_ARGUMENT `Value out of
//! range: <n>`, a stored `HandEnded` whose stack-change key is not hex
//! refuses the command with INVALID_ARGUMENT, and snapshots are kept.

use std::collections::BTreeMap;

use angzarr_client::prelude::*;
use angzarr_client::proto::{identity, time};

use crate::player::{chips, out_of_range};
use crate::proto::{
    ChipsAdded, CreateTable, EndHand, HandEnded, HandStarted, JoinTable, LeaveTable, PlayerJoined,
    PlayerLeft, PlayerSatIn, PlayerSatOut, Seat, SeatSnapshot, StartHand, TableCreated, TableState,
};

/// The table's status between hands.
pub const WAITING: &str = "waiting";
/// The table's status while a hand is played.
pub const IN_HAND: &str = "in_hand";

/// The table aggregate. Its state is `examples.TableState`, kept as snapshots.
#[derive(Debug, Default, Clone, Copy)]
pub struct Table;

/// The state before any event: no table, 9 seats, 30 s to act.
pub fn new_table_state() -> TableState {
    TableState {
        max_players: 9,
        action_timeout_seconds: 30,
        ..TableState::default()
    }
}

/// The root of hand `hand_number` at the table `table_id`: the UUIDv5 (DNS
/// namespace) of `angzarr.poker.hand.{table_id}.{hand_number}`, as bytes.
///
/// ```
/// use examples::table::hand_root;
///
/// assert_eq!(
///     angzarr_client::proto::identity::hex(&hand_root("table_T", 1)),
///     "144db520d52958d4ad4d60eb46946679"
/// );
/// ```
pub fn hand_root(table_id: &str, hand_number: i64) -> Vec<u8> {
    let name = format!("angzarr.poker.hand.{table_id}.{hand_number}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, name.as_bytes())
        .as_bytes()
        .to_vec()
}

/// Decodes lowercase or uppercase hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Reads of the table's state the rules are written in.
pub trait TableView {
    /// Whether the table was created.
    fn exists(&self) -> bool;
    /// Whether a hand is being played.
    fn in_hand(&self) -> bool;
    /// The first seat whose player is `root`.
    fn seat_of(&self, root: &[u8]) -> Option<&Seat>;
    /// The seat at `position`, if taken.
    fn seat_at(&self, position: i32) -> Option<&Seat>;
    /// Positions of every seat, ascending (sitting-out ones included).
    fn positions(&self) -> Vec<i32>;
    /// Positions of the seats not sitting out, ascending.
    fn active_positions(&self) -> Vec<i32>;
    /// Whether the seats taken reach `max_players` (sitting-out ones count).
    fn is_full(&self) -> bool;
}

impl TableView for TableState {
    fn exists(&self) -> bool {
        !self.table_id.is_empty()
    }

    fn in_hand(&self) -> bool {
        self.status == IN_HAND
    }

    fn seat_of(&self, root: &[u8]) -> Option<&Seat> {
        self.seats.iter().find(|seat| seat.player_root == root)
    }

    fn seat_at(&self, position: i32) -> Option<&Seat> {
        self.seats.iter().find(|seat| seat.position == position)
    }

    fn positions(&self) -> Vec<i32> {
        self.seats.iter().map(|seat| seat.position).collect()
    }

    fn active_positions(&self) -> Vec<i32> {
        self.seats
            .iter()
            .filter(|seat| !seat.is_sitting_out)
            .map(|seat| seat.position)
            .collect()
    }

    fn is_full(&self) -> bool {
        i64::try_from(self.seats.len()).unwrap_or(i64::MAX) >= i64::from(self.max_players)
    }
}

fn rejected(message: impl Into<String>) -> Rejection {
    Rejection::precondition(message)
}

fn stack(seat: &Seat) -> i64 {
    seat.stack.as_ref().map_or(0, |stack| stack.amount)
}

/// Where a joining player sits: the preferred seat when it is inside the
/// table and free, else the lowest free position.
fn seat_for(state: &TableState, preferred: i32) -> Option<i32> {
    if preferred > 0 && preferred < state.max_players && state.seat_at(preferred).is_none() {
        return Some(preferred);
    }
    (0..state.max_players).find(|position| state.seat_at(*position).is_none())
}

/// The dealer of the next hand: the seat after the current dealer among
/// all seats (the first seat's successor when the dealer is not seated).
fn next_dealer(state: &TableState) -> i32 {
    let positions = state.positions();
    let index = positions
        .iter()
        .position(|p| *p == state.dealer_position)
        .unwrap_or(0);
    positions[(index + 1) % positions.len()]
}

/// The small and big blinds' positions for `dealer`.
fn blinds(active: &[i32], dealer: i32) -> (i32, i32) {
    let n = active.len();
    let d = active.iter().position(|p| *p == dealer).unwrap_or(0);
    if n == 2 {
        (active[d], active[(d + 1) % 2])
    } else {
        (active[(d + 1) % n], active[(d + 2) % n])
    }
}

#[aggregate(domain = "table", state = TableState, state_factory = new_table_state, snapshot)]
impl Table {
    /// Opens a table.
    #[handles(CreateTable)]
    pub fn create(&self, cmd: CreateTable, state: &TableState) -> Result<TableCreated, Rejection> {
        if state.exists() {
            return Err(rejected("Table already exists"));
        }
        if cmd.table_name.is_empty() {
            return Err(rejected("table_name is required"));
        }
        if cmd.small_blind <= 0 {
            return Err(rejected("small_blind must be positive"));
        }
        if cmd.big_blind <= 0 {
            return Err(rejected("big_blind must be positive"));
        }
        if cmd.big_blind < cmd.small_blind {
            return Err(rejected("big_blind must be >= small_blind"));
        }
        if !(2..=10).contains(&cmd.max_players) {
            return Err(rejected("max_players must be between 2 and 10"));
        }
        let times = |factor: i64| {
            cmd.big_blind
                .checked_mul(factor)
                .ok_or_else(|| out_of_range(cmd.big_blind))
        };
        Ok(TableCreated {
            min_buy_in: if cmd.min_buy_in == 0 {
                times(20)?
            } else {
                cmd.min_buy_in
            },
            max_buy_in: if cmd.max_buy_in == 0 {
                times(100)?
            } else {
                cmd.max_buy_in
            },
            action_timeout_seconds: if cmd.action_timeout_seconds == 0 {
                30
            } else {
                cmd.action_timeout_seconds
            },
            table_name: cmd.table_name,
            game_variant: cmd.game_variant,
            small_blind: cmd.small_blind,
            big_blind: cmd.big_blind,
            max_players: cmd.max_players,
            created_at: Some(time::now()),
        })
    }

    /// Seats a player with a buy-in.
    #[handles(JoinTable)]
    pub fn join(&self, cmd: JoinTable, state: &TableState) -> Result<PlayerJoined, Rejection> {
        if !state.exists() {
            return Err(rejected("Table does not exist"));
        }
        if cmd.player_root.is_empty() {
            return Err(rejected("player_root is required"));
        }
        if state.seat_of(&cmd.player_root).is_some() {
            return Err(rejected("Player already seated at table"));
        }
        if state.is_full() {
            return Err(rejected("Table is full"));
        }
        if cmd.buy_in_amount < state.min_buy_in {
            return Err(rejected(format!(
                "Buy-in must be at least {}",
                state.min_buy_in
            )));
        }
        if cmd.buy_in_amount > state.max_buy_in {
            return Err(rejected(format!(
                "Buy-in cannot exceed {}",
                state.max_buy_in
            )));
        }
        if cmd.preferred_seat > 0 && state.seat_at(cmd.preferred_seat).is_some() {
            return Err(rejected("Seat is occupied"));
        }
        // Fewer seats than max_players are taken, so one of 0..max_players is
        // free unless seats lie outside that range (only a foreign history
        // can put them there).
        let position =
            seat_for(state, cmd.preferred_seat).ok_or_else(|| rejected("Table is full"))?;
        Ok(PlayerJoined {
            player_root: cmd.player_root,
            seat_position: position,
            buy_in_amount: cmd.buy_in_amount,
            stack: cmd.buy_in_amount,
            joined_at: Some(time::now()),
        })
    }

    /// Lets a player go with the chips in front of them.
    #[handles(LeaveTable)]
    pub fn leave(&self, cmd: LeaveTable, state: &TableState) -> Result<PlayerLeft, Rejection> {
        if !state.exists() {
            return Err(rejected("Table does not exist"));
        }
        if cmd.player_root.is_empty() {
            return Err(rejected("player_root is required"));
        }
        let Some(seat) = state.seat_of(&cmd.player_root) else {
            return Err(rejected("Player is not seated at table"));
        };
        if state.in_hand() {
            return Err(rejected("Cannot leave table during a hand"));
        }
        Ok(PlayerLeft {
            player_root: cmd.player_root,
            seat_position: seat.position,
            chips_cashed_out: stack(seat),
            left_at: Some(time::now()),
        })
    }

    /// Deals a new hand: moves the button, names the blinds.
    #[handles(StartHand)]
    pub fn start(&self, _cmd: StartHand, state: &TableState) -> Result<HandStarted, Rejection> {
        if !state.exists() {
            return Err(rejected("Table does not exist"));
        }
        if state.in_hand() {
            return Err(rejected("Hand already in progress"));
        }
        let active = state.active_positions();
        if active.len() < 2 {
            return Err(rejected("Not enough players to start hand"));
        }
        let hand_number = state
            .hand_count
            .checked_add(1)
            .ok_or_else(|| out_of_range(state.hand_count))?;
        let dealer = next_dealer(state);
        let (small, big) = blinds(&active, dealer);
        let active_players = state
            .seats
            .iter()
            .filter(|seat| !seat.is_sitting_out)
            .map(|seat| SeatSnapshot {
                position: seat.position,
                player_root: seat.player_root.clone(),
                stack: stack(seat),
            })
            .collect();
        Ok(HandStarted {
            hand_root: hand_root(&state.table_id, hand_number),
            hand_number,
            dealer_position: dealer,
            small_blind_position: small,
            big_blind_position: big,
            active_players,
            game_variant: state.game_variant,
            small_blind: state.small_blind,
            big_blind: state.big_blind,
            started_at: Some(time::now()),
        })
    }

    /// Ends the hand, paying each pot to its winner.
    #[handles(EndHand)]
    pub fn end(&self, cmd: EndHand, state: &TableState) -> Result<HandEnded, Rejection> {
        if !state.exists() {
            return Err(rejected("Table does not exist"));
        }
        if !state.in_hand() {
            return Err(rejected("No hand in progress"));
        }
        if cmd.hand_root != state.current_hand_root {
            return Err(rejected("Hand root mismatch"));
        }
        let mut stack_changes: BTreeMap<String, i64> = BTreeMap::new();
        for result in &cmd.results {
            let change = stack_changes
                .entry(identity::hex(&result.winner_root))
                .or_default();
            *change = change
                .checked_add(result.amount)
                .ok_or_else(|| out_of_range(result.amount))?;
        }
        // The stacks these changes make must fit too: applying never fails.
        let mut after = state.clone();
        apply_stack_changes(&mut after, &stack_changes)?;
        Ok(HandEnded {
            hand_root: cmd.hand_root,
            results: cmd.results,
            stack_changes: stack_changes.into_iter().collect(),
            ended_at: Some(time::now()),
        })
    }

    #[applies(TableCreated)]
    fn created(state: &mut TableState, event: &TableCreated) {
        state.table_id = format!("table_{}", event.table_name);
        state.table_name.clone_from(&event.table_name);
        state.game_variant = event.game_variant;
        state.small_blind = event.small_blind;
        state.big_blind = event.big_blind;
        state.min_buy_in = event.min_buy_in;
        state.max_buy_in = event.max_buy_in;
        state.max_players = event.max_players;
        state.action_timeout_seconds = event.action_timeout_seconds;
        state.status = WAITING.to_owned();
    }

    #[applies(PlayerJoined)]
    fn joined(state: &mut TableState, event: &PlayerJoined) {
        let seat = Seat {
            position: event.seat_position,
            player_root: event.player_root.clone(),
            stack: Some(chips(event.stack)),
            is_active: true,
            is_sitting_out: false,
        };
        match state
            .seats
            .binary_search_by_key(&event.seat_position, |seat| seat.position)
        {
            Ok(index) => state.seats[index] = seat,
            Err(index) => state.seats.insert(index, seat),
        }
    }

    #[applies(PlayerLeft)]
    fn left(state: &mut TableState, event: &PlayerLeft) {
        state
            .seats
            .retain(|seat| seat.position != event.seat_position);
    }

    #[applies(PlayerSatOut)]
    fn sat_out(state: &mut TableState, event: &PlayerSatOut) {
        if let Some(seat) = state
            .seats
            .iter_mut()
            .find(|seat| seat.player_root == event.player_root)
        {
            seat.is_sitting_out = true;
        }
    }

    #[applies(PlayerSatIn)]
    fn sat_in(state: &mut TableState, event: &PlayerSatIn) {
        if let Some(seat) = state
            .seats
            .iter_mut()
            .find(|seat| seat.player_root == event.player_root)
        {
            seat.is_sitting_out = false;
        }
    }

    #[applies(ChipsAdded)]
    fn chips_added(state: &mut TableState, event: &ChipsAdded) {
        if let Some(seat) = state
            .seats
            .iter_mut()
            .find(|seat| seat.player_root == event.player_root)
        {
            seat.stack = Some(chips(event.new_stack));
        }
    }

    #[applies(HandStarted)]
    fn hand_started(state: &mut TableState, event: &HandStarted) {
        state.hand_count = event.hand_number;
        state.current_hand_root.clone_from(&event.hand_root);
        state.dealer_position = event.dealer_position;
        state.status = IN_HAND.to_owned();
    }

    #[applies(HandEnded)]
    fn hand_ended(state: &mut TableState, event: &HandEnded) -> Result<(), Rejection> {
        state.current_hand_root.clear();
        state.status = WAITING.to_owned();
        let changes: BTreeMap<String, i64> = event
            .stack_changes
            .iter()
            .map(|(key, value)| (key.clone(), *value))
            .collect();
        apply_stack_changes(state, &changes)
    }
}

/// Adds each change to the first seat of the player whose root the key
/// holds in hex; unmatched keys are ignored.
fn apply_stack_changes(
    state: &mut TableState,
    changes: &BTreeMap<String, i64>,
) -> Result<(), Rejection> {
    for (key, change) in changes {
        let root = unhex(key).ok_or_else(|| {
            Rejection::invalid_argument(format!(
                "HandEnded.stack_changes has a key that is not hex: {key:?}"
            ))
        })?;
        if let Some(seat) = state.seats.iter_mut().find(|seat| seat.player_root == root) {
            let stack = stack(seat)
                .checked_add(*change)
                .ok_or_else(|| out_of_range(*change))?;
            seat.stack = Some(chips(stack));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keys_decode_in_either_case() {
        assert_eq!(unhex("0aFF"), Some(vec![0x0a, 0xff]));
        assert_eq!(unhex(""), Some(vec![]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn blinds_follow_the_button() {
        assert_eq!(
            blinds(&[2, 4], 4),
            (4, 2),
            "heads-up: the dealer posts the small blind"
        );
        assert_eq!(blinds(&[0, 2, 4], 0), (2, 4));
        assert_eq!(
            blinds(&[0, 2, 4], 9),
            (2, 4),
            "a dealer not active counts as index 0"
        );
    }
}
