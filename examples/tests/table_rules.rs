//! Every rule of the table (shared/examples/table-rules.md), each checked
//! twice: through the fixture (`AggregateTest`, the server's code path) and
//! through the gRPC server over loopback (`CommandHandlerService.Handle`
//! with the history in the request). Rejections are FAILED_PRECONDITION
//! with exactly the spec's message; events carry exactly the spec's fields.

use std::future::Future;

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::{
    business_response, identity, Any, AnyExt, CommandBook, CommandPage, ContextualCommand, Cover,
    EventBook, EventPage, ReplayRequest,
};
use angzarr_client::testing::block_on;
use angzarr_client::testing::AggregateTest;
use angzarr_client::{Event, ListenAddress, Server};
use examples::proto::{
    ChipsAdded, CreateTable, EndHand, HandEnded, HandRankType, HandRanking, HandStarted, JoinTable,
    LeaveTable, PlayerJoined, PlayerLeft, PlayerSatIn, PlayerSatOut, PotResult, StartHand,
    TableCreated, TableState,
};
use examples::table::{hand_root, Table};
use prost::Name;
use tonic::transport::Channel;
use tonic::Code;

/// What a command came to: the events and the state after them, or a
/// refusal's code and message.
type Outcome = Result<(Vec<Any>, TableState), (Code, String)>;

/// Runs one command against a history, one way or the other.
trait Runner {
    fn run<C: Name + Default + Clone + Send + 'static>(
        &self,
        given: Vec<Any>,
        command: C,
    ) -> impl Future<Output = Outcome>;
}

/// The events a command produced and the table's state after them: the
/// snapshot when the answer carries one (the table's schedule), else the
/// history and the new events folded.
fn outcome(given: &[Any], response: angzarr_client::proto::BusinessResponse) -> Outcome {
    match response.result {
        Some(business_response::Result::Events(book)) => {
            let events: Vec<Any> = book
                .pages
                .iter()
                .filter_map(|page| page.event().cloned())
                .collect();
            let packed = match book.snapshot.and_then(|snapshot| snapshot.state) {
                Some(state) => state,
                None => {
                    let pages = given
                        .iter()
                        .chain(&events)
                        .enumerate()
                        .map(|(sequence, event)| EventPage::new(sequence as u32, event.clone()))
                        .collect();
                    angzarr_client::aggregate::runtime::replay(
                        &Table,
                        &angzarr_client::proto::ReplayRequest {
                            base_snapshot: None,
                            events: pages,
                        },
                    )
                    .expect("the table replays")
                    .state
                    .expect("a replayed state")
                }
            };
            let state = packed
                .unpack::<TableState>()
                .expect("the state is a TableState");
            Ok((events, state))
        }
        other => panic!("not events: {other:?}"),
    }
}

/// The fixture, as a test of the table's own crate would use it.
struct Fixture;

impl Runner for Fixture {
    async fn run<C: Name + Default + Clone + Send + 'static>(
        &self,
        given: Vec<Any>,
        command: C,
    ) -> Outcome {
        let mut test = AggregateTest::new(Table);
        for event in &given {
            test = test.given(Event::from_any(event.clone()));
        }
        match test.when(command).result() {
            Ok(response) => outcome(&given, response.clone()),
            Err(error) => Err((
                error.code(),
                error
                    .rejection()
                    .map_or_else(|| error.to_string(), |r| r.message().to_owned()),
            )),
        }
    }
}

/// The gRPC server on a loopback port.
struct Grpc {
    client: CommandHandlerServiceClient<Channel>,
}

impl Grpc {
    async fn start() -> Grpc {
        let bound = Server::new()
            .aggregate(Table)
            .listen(ListenAddress::loopback(0))
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(std::future::pending())
            .bind()
            .await
            .expect("the table server binds");
        let address = bound.local_address().to_string();
        tokio::spawn(bound.serve());
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("an endpoint")
            .connect()
            .await
            .expect("connects");
        let client = CommandHandlerServiceClient::new(channel);
        Grpc { client }
    }
}

fn cover() -> Cover {
    Cover::new("table", uuid::Uuid::from_u128(0x7AB1E))
}

impl Runner for Grpc {
    async fn run<C: Name + Default + Clone + Send + 'static>(
        &self,
        given: Vec<Any>,
        command: C,
    ) -> Outcome {
        let next = given.len() as u32;
        let history = EventBook {
            cover: Some(cover()),
            snapshot: None,
            pages: given
                .iter()
                .enumerate()
                .map(|(sequence, event)| EventPage::new(sequence as u32, event.clone()))
                .collect(),
            next_sequence: next,
        };
        let request = ContextualCommand {
            events: Some(history),
            command: Some(CommandBook {
                cover: Some(cover()),
                pages: vec![CommandPage::new(next, Any::pack(&command))],
            }),
        };
        match self.client.clone().handle(request).await {
            Ok(response) => outcome(&given, response.into_inner()),
            Err(status) => Err((status.code(), status.message().to_owned())),
        }
    }
}

// ---- the history the rules are written against ----

fn root(n: u8) -> Vec<u8> {
    vec![n; 16]
}

fn pack(message: &impl Name) -> Any {
    Any::pack(message)
}

fn created(max_players: i32, min: i64, max: i64) -> Any {
    pack(&TableCreated {
        table_name: "Main".into(),
        game_variant: 1,
        small_blind: 5,
        big_blind: 10,
        min_buy_in: min,
        max_buy_in: max,
        max_players,
        action_timeout_seconds: 30,
        created_at: None,
    })
}

fn table() -> Any {
    created(4, 200, 1000)
}

fn joined(player: u8, seat: i32, stack: i64) -> Any {
    pack(&PlayerJoined {
        player_root: root(player),
        seat_position: seat,
        buy_in_amount: stack,
        stack,
        joined_at: None,
    })
}

fn started(number: i64, dealer: i32) -> Any {
    pack(&HandStarted {
        hand_root: hand_root("table_Main", number),
        hand_number: number,
        dealer_position: dealer,
        ..Default::default()
    })
}

fn create(name: &str, small: i64, big: i64, max_players: i32) -> CreateTable {
    CreateTable {
        table_name: name.into(),
        game_variant: 1,
        small_blind: small,
        big_blind: big,
        max_players,
        ..Default::default()
    }
}

fn join(player: u8, seat: i32, amount: i64) -> JoinTable {
    JoinTable {
        player_root: root(player),
        preferred_seat: seat,
        buy_in_amount: amount,
    }
}

fn leave(player: u8) -> LeaveTable {
    LeaveTable {
        player_root: root(player),
    }
}

fn pot(player: &[u8], amount: i64) -> PotResult {
    PotResult {
        winner_root: player.to_vec(),
        amount,
        pot_type: "main".into(),
        winning_hand: Some(HandRanking {
            rank_type: HandRankType::Flush.into(),
            kickers: vec![14, 9],
            score: 600,
        }),
    }
}

fn end(number: i64, results: Vec<PotResult>) -> EndHand {
    EndHand {
        hand_root: hand_root("table_Main", number),
        results,
    }
}

// ---- checks ----

#[track_caller]
fn refused(outcome: Outcome, message: &str) {
    assert_eq!(
        outcome.map(|(events, _)| events),
        Err((Code::FailedPrecondition, message.to_owned()))
    );
}

#[track_caller]
fn invalid(outcome: Outcome, message: &str) {
    assert_eq!(
        outcome.map(|(events, _)| events),
        Err((Code::InvalidArgument, message.to_owned()))
    );
}

/// The one event of an accepted command, and the state after it.
#[track_caller]
fn accepted<E: Name + Default>(outcome: Outcome) -> (E, TableState) {
    let (events, state) = outcome.unwrap_or_else(|refusal| panic!("refused: {refusal:?}"));
    assert_eq!(
        events.len(),
        1,
        "each accepted command emits exactly one event"
    );
    (
        events[0].unpack::<E>().expect("the expected event type"),
        state,
    )
}

fn positions(state: &TableState) -> Vec<(i32, u8, i64)> {
    state
        .seats
        .iter()
        .map(|s| {
            (
                s.position,
                s.player_root.first().copied().unwrap_or_default(),
                s.stack.as_ref().map_or(0, |c| c.amount),
            )
        })
        .collect()
}

// ---- the rules ----

async fn create_checks_in_order(r: &impl Runner) {
    refused(
        r.run(vec![table()], create("", 0, 0, 0)).await,
        "Table already exists",
    );
    refused(
        r.run(vec![], create("", 5, 10, 4)).await,
        "table_name is required",
    );
    refused(
        r.run(vec![], create("T", 0, 10, 4)).await,
        "small_blind must be positive",
    );
    refused(
        r.run(vec![], create("T", -1, 10, 4)).await,
        "small_blind must be positive",
    );
    refused(
        r.run(vec![], create("T", 5, 0, 4)).await,
        "big_blind must be positive",
    );
    refused(
        r.run(vec![], create("T", 5, 4, 4)).await,
        "big_blind must be >= small_blind",
    );
    for players in [0, 1, 11] {
        refused(
            r.run(vec![], create("T", 5, 10, players)).await,
            "max_players must be between 2 and 10",
        );
    }
}

async fn create_fills_defaults_and_keeps_given_values(r: &impl Runner) {
    let (event, state) = accepted::<TableCreated>(r.run(vec![], create("Main", 5, 10, 2)).await);
    assert_eq!(
        (
            event.min_buy_in,
            event.max_buy_in,
            event.action_timeout_seconds
        ),
        (200, 1000, 30),
        "defaults: 20 and 100 big blinds, 30 s"
    );
    assert_eq!(
        (
            event.table_name.as_str(),
            event.game_variant,
            event.small_blind,
            event.big_blind,
            event.max_players
        ),
        ("Main", 1, 5, 10, 2)
    );
    assert!(event.created_at.is_some());
    assert_eq!(state.table_id, "table_Main");
    assert_eq!(state.status, "waiting");
    let given = CreateTable {
        min_buy_in: -3,
        max_buy_in: -7,
        action_timeout_seconds: 5,
        ..create("Odd", 5, 10, 10)
    };
    let (event, _) = accepted::<TableCreated>(r.run(vec![], given).await);
    assert_eq!(
        (
            event.min_buy_in,
            event.max_buy_in,
            event.action_timeout_seconds
        ),
        (-3, -7, 5),
        "negative values are kept; nothing checks min <= max"
    );
}

async fn create_refuses_defaults_that_do_not_fit(r: &impl Runner) {
    let big = i64::MAX / 10;
    invalid(
        r.run(vec![], create("Huge", 1, big, 4)).await,
        &format!("Value out of range: {big}"),
    );
}

async fn join_needs_the_table(r: &impl Runner) {
    refused(r.run(vec![], join(1, 0, 500)).await, "Table does not exist");
    let empty = JoinTable {
        player_root: Vec::new(),
        preferred_seat: 0,
        buy_in_amount: 5,
    };
    refused(r.run(vec![], empty).await, "Table does not exist");
}

async fn join_requires_a_player_and_one_seat_each(r: &impl Runner) {
    let empty = JoinTable {
        player_root: Vec::new(),
        preferred_seat: 0,
        buy_in_amount: 500,
    };
    refused(r.run(vec![table()], empty).await, "player_root is required");
    refused(
        r.run(vec![table(), joined(1, 0, 500)], join(1, 2, 500))
            .await,
        "Player already seated at table",
    );
}

async fn join_refuses_a_full_table_counting_sitting_out_seats(r: &impl Runner) {
    let mut given = vec![created(2, 200, 1000), joined(1, 0, 500), joined(2, 1, 500)];
    refused(r.run(given.clone(), join(3, 0, 500)).await, "Table is full");
    given.push(pack(&PlayerSatOut {
        player_root: root(2),
        sat_out_at: None,
    }));
    refused(r.run(given.clone(), join(3, 0, 500)).await, "Table is full");
    // Order: a duplicate before full; full before a bad buy-in.
    refused(
        r.run(given.clone(), join(1, 0, 500)).await,
        "Player already seated at table",
    );
    refused(r.run(given, join(3, 0, 5)).await, "Table is full");
}

async fn join_checks_the_buy_in_limits(r: &impl Runner) {
    refused(
        r.run(vec![table()], join(1, 0, 199)).await,
        "Buy-in must be at least 200",
    );
    refused(
        r.run(vec![table()], join(1, 0, 1001)).await,
        "Buy-in cannot exceed 1000",
    );
    let odd = vec![created(4, -3, -7)];
    refused(
        r.run(odd.clone(), join(1, 0, -5)).await,
        "Buy-in must be at least -3",
    );
    refused(r.run(odd, join(1, 0, -2)).await, "Buy-in cannot exceed -7");
}

async fn join_refuses_an_occupied_preferred_seat(r: &impl Runner) {
    refused(
        r.run(vec![table(), joined(1, 2, 500)], join(2, 2, 500))
            .await,
        "Seat is occupied",
    );
}

async fn join_picks_the_seat(r: &impl Runner) {
    let (event, state) = accepted::<PlayerJoined>(r.run(vec![table()], join(1, 3, 500)).await);
    assert_eq!(
        event.seat_position, 3,
        "a free preferred seat inside the table"
    );
    assert_eq!((event.buy_in_amount, event.stack), (500, 500));
    assert_eq!(event.player_root, root(1));
    assert!(event.joined_at.is_some());
    assert_eq!(positions(&state), [(3, 1, 500)]);
    let (event, _) = accepted::<PlayerJoined>(r.run(vec![table()], join(1, 4, 500)).await);
    assert_eq!(
        event.seat_position, 0,
        "preferred 4 at a 4-player table: the lowest free"
    );
    let (event, _) = accepted::<PlayerJoined>(
        r.run(vec![table(), joined(1, 0, 500)], join(2, 0, 500))
            .await,
    );
    assert_eq!(
        event.seat_position, 1,
        "preferred 0 while 0 is taken: the lowest free"
    );
    let (event, _) = accepted::<PlayerJoined>(
        r.run(vec![table(), joined(1, 0, 500)], join(2, -2, 500))
            .await,
    );
    assert_eq!(
        event.seat_position, 1,
        "a negative preference: the lowest free"
    );
}

async fn join_is_allowed_during_a_hand(r: &impl Runner) {
    let given = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    let (event, _) = accepted::<PlayerJoined>(r.run(given, join(3, 0, 500)).await);
    assert_eq!(event.seat_position, 2);
}

async fn leave_checks_in_order(r: &impl Runner) {
    refused(r.run(vec![], leave(1)).await, "Table does not exist");
    refused(
        r.run(
            vec![table()],
            LeaveTable {
                player_root: Vec::new(),
            },
        )
        .await,
        "player_root is required",
    );
    refused(
        r.run(vec![table()], leave(1)).await,
        "Player is not seated at table",
    );
    let in_hand = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    refused(
        r.run(in_hand.clone(), leave(1)).await,
        "Cannot leave table during a hand",
    );
    refused(
        r.run(in_hand, leave(3)).await,
        "Player is not seated at table",
    );
}

async fn leave_cashes_out_the_stack(r: &impl Runner) {
    let (event, state) = accepted::<PlayerLeft>(
        r.run(
            vec![table(), joined(1, 0, 500), joined(2, 3, 700)],
            leave(2),
        )
        .await,
    );
    assert_eq!(
        (
            event.player_root,
            event.seat_position,
            event.chips_cashed_out
        ),
        (root(2), 3, 700)
    );
    assert!(event.left_at.is_some());
    assert_eq!(positions(&state), [(0, 1, 500)]);
}

async fn start_checks_in_order(r: &impl Runner) {
    refused(r.run(vec![], StartHand {}).await, "Table does not exist");
    let playing = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    refused(
        r.run(playing, StartHand {}).await,
        "Hand already in progress",
    );
    refused(
        r.run(vec![table(), joined(1, 0, 500)], StartHand {}).await,
        "Not enough players to start hand",
    );
    let one_sitting_out = vec![
        table(),
        joined(1, 0, 500),
        joined(2, 1, 500),
        pack(&PlayerSatOut {
            player_root: root(2),
            sat_out_at: None,
        }),
    ];
    refused(
        r.run(one_sitting_out, StartHand {}).await,
        "Not enough players to start hand",
    );
}

async fn start_deals_the_first_hand(r: &impl Runner) {
    let (event, state) = accepted::<HandStarted>(
        r.run(
            vec![
                table(),
                joined(1, 0, 500),
                joined(2, 2, 300),
                joined(3, 3, 400),
            ],
            StartHand {},
        )
        .await,
    );
    assert_eq!(event.hand_number, 1);
    assert_eq!(event.hand_root, hand_root("table_Main", 1));
    assert_eq!(
        event.dealer_position, 2,
        "the first dealer is the second-lowest seat"
    );
    assert_eq!(
        (event.small_blind_position, event.big_blind_position),
        (3, 0)
    );
    assert_eq!(
        event
            .active_players
            .iter()
            .map(|s| (s.position, s.player_root[0], s.stack))
            .collect::<Vec<_>>(),
        [(0, 1, 500), (2, 2, 300), (3, 3, 400)]
    );
    assert_eq!(
        (event.game_variant, event.small_blind, event.big_blind),
        (1, 5, 10)
    );
    assert!(event.started_at.is_some());
    assert_eq!(
        (
            state.status.as_str(),
            state.hand_count,
            state.dealer_position
        ),
        ("in_hand", 1, 2)
    );
    assert_eq!(state.current_hand_root, hand_root("table_Main", 1));
}

/// Ends hand `number` and starts the next one, as the history a later
/// hand is dealt on.
fn played(number: i64, dealer: i32) -> Vec<Any> {
    vec![
        started(number, dealer),
        pack(&HandEnded {
            hand_root: hand_root("table_Main", number),
            ..Default::default()
        }),
    ]
}

async fn the_button_and_blinds_move_as_the_reference_moves_them(r: &impl Runner) {
    let mut history = vec![table(), joined(1, 2, 500), joined(2, 4, 500)];
    let mut seen = Vec::new();
    for number in 1..=4 {
        if number == 2 {
            history.push(joined(3, 0, 500));
        }
        let (event, _) = accepted::<HandStarted>(r.run(history.clone(), StartHand {}).await);
        seen.push((
            event.dealer_position,
            event.small_blind_position,
            event.big_blind_position,
        ));
        history.extend(played(number, event.dealer_position));
    }
    assert_eq!(seen, [(4, 4, 2), (0, 2, 4), (2, 4, 0), (4, 0, 2)]);
}

async fn a_dealer_who_left_passes_the_button_to_the_second_lowest_seat(r: &impl Runner) {
    let mut history = vec![
        table(),
        joined(1, 0, 500),
        joined(2, 4, 500),
        joined(3, 5, 500),
    ];
    history.extend(played(1, 4));
    history.push(pack(&PlayerLeft {
        player_root: root(2),
        seat_position: 4,
        chips_cashed_out: 500,
        left_at: None,
    }));
    let (event, _) = accepted::<HandStarted>(r.run(history, StartHand {}).await);
    assert_eq!(event.dealer_position, 5);
    assert_eq!(event.hand_number, 2);
}

async fn a_sitting_out_dealer_starts_the_blinds_from_the_first_active_seat(r: &impl Runner) {
    let history = vec![
        table(),
        joined(1, 0, 500),
        joined(2, 1, 500),
        joined(3, 2, 500),
        joined(4, 3, 500),
        pack(&PlayerSatOut {
            player_root: root(2),
            sat_out_at: None,
        }),
    ];
    let (event, _) = accepted::<HandStarted>(r.run(history, StartHand {}).await);
    assert_eq!(
        event.dealer_position, 1,
        "a sitting-out seat can be the dealer"
    );
    assert_eq!(
        (event.small_blind_position, event.big_blind_position),
        (2, 3),
        "d = 0 in the active seats [0, 2, 3]"
    );
    assert_eq!(event.active_players.len(), 3);
}

async fn end_checks_in_order(r: &impl Runner) {
    refused(r.run(vec![], end(1, vec![])).await, "Table does not exist");
    refused(
        r.run(vec![table()], end(1, vec![])).await,
        "No hand in progress",
    );
    let playing = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    refused(r.run(playing, end(2, vec![])).await, "Hand root mismatch");
}

async fn end_pays_the_pots(r: &impl Runner) {
    let playing = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    let results = vec![
        pot(&root(1), 30),
        pot(&root(9), 5),
        pot(&root(1), 20),
        pot(&root(2), 0),
    ];
    let (event, state) = accepted::<HandEnded>(r.run(playing, end(1, results.clone())).await);
    assert_eq!(event.hand_root, hand_root("table_Main", 1));
    assert_eq!(event.results, results, "an exact copy of the results");
    let mut changes: Vec<_> = event.stack_changes.into_iter().collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            (identity::hex(&root(1)), 50),
            (identity::hex(&root(2)), 0),
            (identity::hex(&root(9)), 5),
        ],
        "summed per winner, keyed by the root's lowercase hex"
    );
    assert!(event.ended_at.is_some());
    assert_eq!(
        positions(&state),
        [(0, 1, 550), (1, 2, 500)],
        "losers are never debited"
    );
    assert_eq!(
        (state.status.as_str(), state.current_hand_root.len()),
        ("waiting", 0)
    );
}

async fn end_refuses_stacks_that_do_not_fit(r: &impl Runner) {
    let playing = vec![table(), joined(1, 0, 500), joined(2, 1, 500), started(1, 1)];
    invalid(
        r.run(
            playing.clone(),
            end(1, vec![pot(&root(1), i64::MAX), pot(&root(1), 1)]),
        )
        .await,
        "Value out of range: 1",
    );
    invalid(
        r.run(playing, end(1, vec![pot(&root(1), i64::MAX)])).await,
        &format!("Value out of range: {}", i64::MAX),
    );
}

async fn events_fold_into_state_as_the_reference_folds_them(r: &impl Runner) {
    let mut changes = std::collections::HashMap::new();
    changes.insert(identity::hex(&root(1)).to_uppercase(), 25);
    changes.insert("ffff".to_owned(), 99);
    let history = vec![
        table(),
        joined(1, 0, 500),
        joined(2, 1, 500),
        joined(3, 1, 300),
        pack(&PlayerSatOut {
            player_root: root(1),
            sat_out_at: None,
        }),
        pack(&PlayerSatIn {
            player_root: root(1),
            sat_in_at: None,
        }),
        pack(&ChipsAdded {
            player_root: root(3),
            amount: 10,
            new_stack: 310,
            added_at: None,
        }),
        started(1, 1),
        pack(&HandEnded {
            hand_root: hand_root("table_Main", 1),
            results: Vec::new(),
            stack_changes: changes,
            ended_at: None,
        }),
        pack(&PlayerLeft {
            player_root: root(9),
            seat_position: 7,
            chips_cashed_out: 0,
            left_at: None,
        }),
        pack(&Cover::default()),
        created(6, 100, 900),
    ];
    let (_, state) = accepted::<PlayerJoined>(r.run(history, join(4, 5, 200)).await);
    assert_eq!(
        positions(&state),
        [(0, 1, 525), (1, 3, 310), (5, 4, 200)],
        "a join overwrites the seat, upper-case hex keys match, unknown keys, events and a \
         stray PlayerLeft are ignored, a second TableCreated keeps the seats"
    );
    assert_eq!(
        (state.max_players, state.min_buy_in, state.hand_count),
        (6, 100, 1)
    );
}

async fn a_stack_change_key_that_is_not_hex_refuses_the_command(r: &impl Runner) {
    let mut changes = std::collections::HashMap::new();
    changes.insert("not-hex".to_owned(), 5);
    let history = vec![
        table(),
        joined(1, 0, 500),
        joined(2, 1, 500),
        started(1, 1),
        pack(&HandEnded {
            hand_root: hand_root("table_Main", 1),
            results: Vec::new(),
            stack_changes: changes,
            ended_at: None,
        }),
    ];
    let (code, message) = r.run(history, StartHand {}).await.expect_err("refused");
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.contains("not hex") && message.contains("not-hex"),
        "{message}"
    );
}

async fn other_packages_commands_are_not_the_tables(r: &impl Runner) {
    let (code, message) = r
        .run(vec![], Cover::default())
        .await
        .expect_err("not a table command");
    assert_eq!(code, Code::InvalidArgument, "{message}");
}

macro_rules! rules {
    ($($rule:ident),+ $(,)?) => {
        mod fixture {
            use super::*;
            $(
                #[test]
                fn $rule() {
                    block_on(super::$rule(&Fixture));
                }
            )+
        }
        mod grpc {
            use super::*;
            $(
                #[tokio::test]
                async fn $rule() {
                    super::$rule(&Grpc::start().await).await;
                }
            )+
        }
    };
}

rules!(
    create_checks_in_order,
    create_fills_defaults_and_keeps_given_values,
    create_refuses_defaults_that_do_not_fit,
    join_needs_the_table,
    join_requires_a_player_and_one_seat_each,
    join_refuses_a_full_table_counting_sitting_out_seats,
    join_checks_the_buy_in_limits,
    join_refuses_an_occupied_preferred_seat,
    join_picks_the_seat,
    join_is_allowed_during_a_hand,
    leave_checks_in_order,
    leave_cashes_out_the_stack,
    start_checks_in_order,
    start_deals_the_first_hand,
    the_button_and_blinds_move_as_the_reference_moves_them,
    a_dealer_who_left_passes_the_button_to_the_second_lowest_seat,
    a_sitting_out_dealer_starts_the_blinds_from_the_first_active_seat,
    end_checks_in_order,
    end_pays_the_pots,
    end_refuses_stacks_that_do_not_fit,
    events_fold_into_state_as_the_reference_folds_them,
    a_stack_change_key_that_is_not_hex_refuses_the_command,
    other_packages_commands_are_not_the_tables,
);

#[tokio::test]
async fn replay_folds_a_history_into_table_state() {
    let grpc = Grpc::start().await;
    let events: Vec<EventPage> = [table(), joined(1, 0, 500), joined(2, 1, 300)]
        .into_iter()
        .enumerate()
        .map(|(sequence, event)| EventPage::new(sequence as u32, event))
        .collect();
    let replayed = grpc
        .client
        .clone()
        .replay(ReplayRequest {
            base_snapshot: None,
            events,
        })
        .await
        .expect("Replay works for the table")
        .into_inner();
    let state: TableState = replayed.state.expect("a state").unpack().unwrap();
    assert_eq!(positions(&state), [(0, 1, 500), (1, 2, 300)]);
}
