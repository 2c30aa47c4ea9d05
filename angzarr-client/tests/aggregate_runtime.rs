//! The aggregate runtime's semantics, through the same entry points the gRPC
//! server uses (`runtime::handle_encoded`, `replay`, `handle_fact`), and
//! `runtime::handle_command` on the decoded request, which must answer the
//! same.

use angzarr_client::aggregate::runtime;
use angzarr_client::prelude::*;
use angzarr_client::proto::{
    business_response, event_page, AnyExt, BusinessResponse, CommandBook, CommandPage,
    ContextualCommand, Cover, EventBook, EventPage, FactRequest, NoOp, Notification,
    RejectionNotification, ReplayRequest, Snapshot,
};
use angzarr_client::testing::block_on;
use angzarr_client::testing::prelude::*;
use angzarr_client::{
    Aggregate, CommandRouter, ComponentError, ComponentErrorKind, SnapshotPolicy,
};
use examples::player::{chips, Player, PlayerView};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsWithdrawn, PlayerRegistered, PlayerState, RegisterPlayer,
    WithdrawFunds,
};
use prost::Name;
use prost_types::Any;

// ---- a small aggregate exercising every handler shape ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct Step {
    #[prost(int64, tag = "1")]
    pub by: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Stepped {
    #[prost(int64, tag = "1")]
    pub by: i64,
    #[prost(int64, tag = "2")]
    pub total: i64,
    #[prost(uint32, tag = "3")]
    pub at_sequence: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DoubleStep {
    #[prost(int64, tag = "1")]
    pub by: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Whisper {
    #[prost(string, tag = "1")]
    pub text: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Undone {
    #[prost(string, tag = "1")]
    pub reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ReserveSeat {
    #[prost(uint32, tag = "1")]
    pub seat: u32,
}

/// Names the test messages `test.<Type>`.
macro_rules! test_package {
    ($($message:ident),+) => {$(
        impl Name for $message {
            const NAME: &'static str = stringify!($message);
            const PACKAGE: &'static str = "test";
        }
    )+};
}

test_package!(Step, Stepped, DoubleStep, Whisper, Undone, ReserveSeat);

/// A state that is not a protobuf message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    total: i64,
    steps: Vec<i64>,
    undone: u32,
}

fn new_tally() -> Tally {
    Tally {
        total: 100,
        ..Tally::default()
    }
}

pub struct Counter;

#[aggregate(domain = "counter", state = Tally, state_factory = new_tally)]
impl Counter {
    #[handles(Step)]
    fn step(&self, cmd: &Step, state: &Tally, ctx: &CommandContext) -> Result<Stepped, Rejection> {
        require_positive(cmd.by, "by")?;
        Ok(Stepped {
            by: cmd.by,
            total: state.total + cmd.by,
            at_sequence: ctx.next_sequence(),
        })
    }

    /// Two events from one command: the second applies after the first.
    #[handles(DoubleStep)]
    async fn double(&self, cmd: DoubleStep, state: &Tally) -> (Stepped, Stepped) {
        std::future::ready(()).await;
        (
            Stepped {
                by: cmd.by,
                total: state.total + cmd.by,
                at_sequence: 0,
            },
            Stepped {
                by: cmd.by,
                total: state.total + 2 * cmd.by,
                at_sequence: 0,
            },
        )
    }

    /// No state, no receiver, a `Vec` of type-erased events.
    #[handles(Whisper)]
    fn whisper(cmd: Whisper) -> Vec<Event> {
        if cmd.text.is_empty() {
            Vec::new()
        } else {
            vec![
                Event::new(&NoOp::default()),
                Event::new(&Undone { reason: cmd.text }),
            ]
        }
    }

    #[applies(Stepped)]
    fn stepped(state: &mut Tally, event: &Stepped) {
        state.total = event.total;
        state.steps.push(event.by);
    }

    #[applies(Undone)]
    fn undone(state: &mut Tally, _event: Undone) {
        state.undone += 1;
    }

    #[rejected(domain = "table", command = ReserveSeat)]
    fn seat_refused(&self, notification: &RejectionNotification, state: &Tally) -> Undone {
        Undone {
            reason: format!("{} (total {})", notification.rejection_reason, state.total),
        }
    }
}

// ---- helpers building requests as the coordinator does ----

fn root() -> uuid::Uuid {
    uuid::Uuid::from_u128(42)
}

fn page(sequence: u32, event: Any) -> EventPage {
    EventPage::new(sequence, event)
}

fn request(domain: &str, history: Vec<EventPage>, commands: Vec<Any>) -> ContextualCommand {
    let next = u32::try_from(history.len()).unwrap();
    ContextualCommand {
        events: Some(EventBook {
            cover: Some(Cover::new(domain, root())),
            pages: history,
            snapshot: None,
            next_sequence: next,
        }),
        command: Some(CommandBook {
            cover: Some(Cover::new(domain, root()).with_correlation_id("corr-1")),
            pages: commands
                .into_iter()
                .map(|command| CommandPage::new(next, command))
                .collect(),
        }),
    }
}

fn events(response: BusinessResponse) -> EventBook {
    match response.result {
        Some(business_response::Result::Events(book)) => book,
        other => panic!("expected events, got {other:?}"),
    }
}

/// Handles `request` both ways the runtime can (decoded, and from its bytes
/// read in place) and checks that they answer alike, so every test here also
/// holds for the gRPC server's path.
fn handle<A: Aggregate>(
    aggregate: &A,
    request: &ContextualCommand,
) -> Result<BusinessResponse, ComponentError> {
    let decoded = block_on(runtime::handle_command(aggregate, request));
    let encoded = prost::Message::encode_to_vec(request);
    let in_place = block_on(runtime::handle_encoded(aggregate, &encoded));
    match (&decoded, &in_place) {
        (Ok(a), Ok(b)) => assert_eq!(comparable(a), comparable(b), "both paths answer alike"),
        (Err(a), Err(b)) => {
            assert_eq!(a.code(), b.code(), "both paths fail alike");
            assert_eq!(a.to_string(), b.to_string(), "both paths fail alike");
        }
        (a, b) => panic!("the paths disagree: decoded {a:?}, in place {b:?}"),
    }
    decoded
}

/// `response` without what differs from one call to the next: creation
/// times of pages and of the player's events.
fn comparable(response: &BusinessResponse) -> BusinessResponse {
    let mut response = response.clone();
    if let Some(business_response::Result::Events(book)) = &mut response.result {
        for page in &mut book.pages {
            page.created_at = None;
            if let Some(event_page::Payload::Event(event)) = &mut page.payload {
                if let Ok(mut registered) = event.unpack::<PlayerRegistered>() {
                    registered.registered_at = None;
                    *event = Any::pack(&registered);
                } else if let Ok(mut deposited) = event.unpack::<FundsDeposited>() {
                    deposited.deposited_at = None;
                    *event = Any::pack(&deposited);
                } else if let Ok(mut withdrawn) = event.unpack::<FundsWithdrawn>() {
                    withdrawn.withdrawn_at = None;
                    *event = Any::pack(&withdrawn);
                }
            }
        }
    }
    response
}

fn registered(email: &str) -> PlayerRegistered {
    PlayerRegistered {
        display_name: "Alice".into(),
        email: email.into(),
        ..Default::default()
    }
}

fn deposited(new_balance: i64) -> FundsDeposited {
    FundsDeposited {
        amount: Some(chips(1)),
        new_balance: Some(chips(new_balance)),
        deposited_at: None,
    }
}

// ---- dispatch ----

#[test]
fn unknown_command_names_its_type_url_and_the_handled_commands() {
    let request = request("player", vec![], vec![Any::pack(&Cover::default())]);
    let error = handle(&Player, &request).unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        error.to_string(),
        "aggregate Player (domain player) does not handle `type.googleapis.com/angzarr.Cover`; \
         it handles: examples.RegisterPlayer, examples.DepositFunds, examples.WithdrawFunds, \
         examples.ReserveFunds, examples.ReleaseFunds"
    );
}

#[test]
fn a_request_without_commands_is_invalid() {
    let mut no_pages = request("player", vec![], vec![]);
    assert_eq!(
        handle(&Player, &no_pages).unwrap_err().into_kind(),
        ComponentErrorKind::NoPages
    );
    no_pages.command = None;
    assert_eq!(
        handle(&Player, &no_pages).unwrap_err().into_kind(),
        ComponentErrorKind::NoCommandBook
    );

    let mut empty_page = request(
        "player",
        vec![],
        vec![Any::pack(&RegisterPlayer::default())],
    );
    empty_page.command.as_mut().unwrap().pages[0].payload = None;
    let error = handle(&Player, &empty_page).unwrap_err();
    assert_eq!(error.to_string(), "command page 0 has no command payload");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
}

#[test]
fn garbage_command_bytes_are_invalid_naming_the_type() {
    let garbage = Any {
        type_url: DepositFunds::type_url(),
        value: vec![0x0a, 0xff, 0xff],
    };
    let history = vec![page(0, Any::pack(&registered("a@x")))];
    let error = handle(&Player, &request("player", history, vec![garbage])).unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(
        error
            .to_string()
            .starts_with("command `examples.DepositFunds` does not decode:"),
        "{error}"
    );
}

#[test]
fn the_angzarr_type_url_prefix_dispatches_too() {
    let mut command = Any::pack(&RegisterPlayer {
        display_name: "Bob".into(),
        email: "b@x".into(),
        ..Default::default()
    });
    command.type_url = "type.angzarr.io/examples.RegisterPlayer".into();
    let book = events(handle(&Player, &request("player", vec![], vec![command])).unwrap());
    assert_eq!(book.pages.len(), 1);
}

// ---- rebuild ----

#[test]
fn rebuild_skips_noop_and_unknown_events_but_counts_them() {
    let history = vec![
        page(0, Any::pack(&registered("a@x"))),
        page(1, Any::pack(&NoOp::default())),
        page(2, Any::pack(&Cover::default())),
        page(3, Any::pack(&deposited(50))),
    ];
    let book = events(
        handle(
            &Player,
            &request(
                "player",
                history,
                vec![Any::pack(&WithdrawFunds {
                    amount: Some(chips(20)),
                })],
            ),
        )
        .unwrap(),
    );
    assert_eq!(book.pages[0].sequence(), Some(4));
    let withdrawn: examples::proto::FundsWithdrawn =
        book.pages[0].event().unwrap().unpack().unwrap();
    assert_eq!(withdrawn.new_balance, Some(chips(30)));
}

#[test]
fn an_undecodable_history_page_names_type_and_sequence() {
    let broken = Any {
        type_url: FundsDeposited::type_url(),
        value: vec![0x12, 0x05, 0x01],
    };
    let history = vec![page(0, Any::pack(&registered("a@x"))), page(1, broken)];
    let error = handle(
        &Player,
        &request(
            "player",
            history,
            vec![Any::pack(&DepositFunds {
                amount: Some(chips(1)),
            })],
        ),
    )
    .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(
        error
            .to_string()
            .starts_with("event `examples.FundsDeposited` at sequence 1 does not decode:"),
        "{error}"
    );
}

#[test]
fn rebuild_starts_from_the_snapshot_and_skips_pages_at_or_below_it() {
    let snapshot_state = PlayerState {
        player_id: "player_a@x".into(),
        bankroll: Some(chips(500)),
        ..Default::default()
    };
    // The command's event is the timeline's DEFAULT_SNAPSHOT_INTERVAL-th,
    // so the player's default policy returns a snapshot.
    let last = angzarr_client::DEFAULT_SNAPSHOT_INTERVAL - 1;
    let mut request = request(
        "player",
        vec![
            // At the snapshot's sequence: already folded into it, must be skipped.
            page(last - 2, Any::pack(&deposited(9999))),
            page(last - 1, Any::pack(&deposited(600))),
        ],
        vec![Any::pack(&WithdrawFunds {
            amount: Some(chips(100)),
        })],
    );
    request.events.as_mut().unwrap().snapshot = Some(Snapshot {
        sequence: last - 2,
        state: Some(Any::pack(&snapshot_state)),
        retention: 0,
    });
    let before = request.clone();
    let book = events(handle(&Player, &request).unwrap());
    assert_eq!(request, before, "the request must not be mutated");

    assert_eq!(book.pages[0].sequence(), Some(last));
    let snapshot = book.snapshot.expect("the player keeps snapshots");
    assert_eq!(snapshot.sequence, last);
    let state: PlayerState = snapshot.state.unwrap().unpack().unwrap();
    assert_eq!(state.bankroll(), 500);
    assert_eq!(state.player_id, "player_a@x");
}

#[test]
fn every_single_bit_flip_answers_alike_on_both_paths() {
    // A request with a snapshot, pages below and above it, and a command:
    // each flipped bit either fails to decode (an INVALID_ARGUMENT naming
    // the request, never a panic) or decodes to a request both paths decide
    // alike (`handle` compares them).
    let mut request = request(
        "player",
        vec![
            page(4, Any::pack(&deposited(9999))),
            page(5, Any::pack(&deposited(600))),
        ],
        vec![Any::pack(&WithdrawFunds {
            amount: Some(chips(100)),
        })],
    );
    request.events.as_mut().unwrap().snapshot = Some(Snapshot {
        sequence: 4,
        state: Some(Any::pack(&PlayerState {
            player_id: "player_a@x".into(),
            bankroll: Some(chips(500)),
            ..Default::default()
        })),
        retention: 0,
    });
    let encoded = prost::Message::encode_to_vec(&request);
    let mut undecodable = 0;
    for bit in 0..encoded.len() * 8 {
        let mut flipped = encoded.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        match <ContextualCommand as prost::Message>::decode(flipped.as_slice()) {
            Ok(decoded) => {
                let _ = handle(&Player, &decoded);
                // The flipped bytes themselves, not only their re-encoding.
                let direct = block_on(runtime::handle_encoded(&Player, &flipped));
                let via_decoded = block_on(runtime::handle_command(&Player, &decoded));
                assert_eq!(
                    direct.as_ref().map(comparable).map_err(ToString::to_string),
                    via_decoded
                        .as_ref()
                        .map(comparable)
                        .map_err(ToString::to_string),
                    "bit {bit}"
                );
            }
            Err(_) => {
                undecodable += 1;
                let error = block_on(runtime::handle_encoded(&Player, &flipped))
                    .expect_err("undecodable bytes are refused");
                assert_eq!(error.code(), tonic::Code::InvalidArgument, "bit {bit}");
                assert!(error.to_string().contains("ContextualCommand"), "{error}");
            }
        }
    }
    assert!(undecodable > 0, "some flips must break the encoding");
}

#[test]
fn an_aggregate_without_snapshots_refuses_one() {
    let mut request = request("counter", vec![], vec![Any::pack(&Step { by: 1 })]);
    request.events.as_mut().unwrap().snapshot = Some(Snapshot {
        sequence: 0,
        state: Some(Any::pack(&NoOp::default())),
        retention: 0,
    });
    let error = handle(&Counter, &request).unwrap_err();
    assert!(
        matches!(error.kind(), ComponentErrorKind::SnapshotUnsupported { .. }),
        "{error}"
    );
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
}

#[test]
fn a_snapshot_of_the_wrong_type_is_reported() {
    let mut request = request(
        "player",
        vec![],
        vec![Any::pack(&RegisterPlayer::default())],
    );
    request.events.as_mut().unwrap().snapshot = Some(Snapshot {
        sequence: 2,
        state: Some(Any::pack(&NoOp::default())),
        retention: 0,
    });
    let error = handle(&Player, &request).unwrap_err();
    assert_eq!(
        error.to_string(),
        "snapshot at sequence 2 does not restore: expected a packed `examples.PlayerState`, \
         found type URL `type.googleapis.com/angzarr.NoOp`"
    );
}

#[test]
fn history_pages_without_an_inline_event_are_reported() {
    let mut history = vec![page(0, Any::pack(&registered("a@x")))];
    history[0].payload = None;
    let error = handle(
        &Player,
        &request(
            "player",
            history,
            vec![Any::pack(&RegisterPlayer::default())],
        ),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "event page at sequence 0 has no inline event"
    );
}

// ---- produced events ----

#[test]
fn a_named_edition_is_echoed_as_it_came() {
    let mut request = request("counter", vec![], vec![Any::pack(&DoubleStep { by: 1 })]);
    let cover = request.command.as_mut().unwrap().cover.as_mut().unwrap();
    *cover = cover.clone().with_edition("what-if");
    let book = events(handle(&Counter, &request).unwrap());
    assert_eq!(book.cover.unwrap().edition_name(), "what-if");
}

#[test]
fn events_are_stamped_in_order_with_the_cover_echoed() {
    let history = vec![page(
        0,
        Any::pack(&Stepped {
            by: 1,
            total: 101,
            at_sequence: 0,
        }),
    )];
    let request = request("counter", history, vec![Any::pack(&DoubleStep { by: 5 })]);
    let book = events(handle(&Counter, &request).unwrap());
    // The cover comes back with the edition it was on: the main timeline
    // named, as the seed's aggregates name it.
    let sent = request.command.as_ref().unwrap().cover.clone().unwrap();
    assert_eq!(sent.edition, None);
    assert_eq!(
        book.cover,
        Some(
            sent.clone()
                .with_edition(angzarr_client::proto::DEFAULT_EDITION)
        )
    );
    assert_eq!(book.next_sequence, 3);
    let sequences: Vec<_> = book.pages.iter().map(EventPage::sequence).collect();
    assert_eq!(sequences, [Some(1), Some(2)]);
    assert!(book.pages.iter().all(|page| page.created_at.is_some()));
    let totals: Vec<i64> = book
        .pages
        .iter()
        .map(|page| page.event().unwrap().unpack::<Stepped>().unwrap().total)
        .collect();
    assert_eq!(totals, [106, 111]);
    assert!(book.snapshot.is_none(), "Counter keeps no snapshots");
}

#[test]
fn later_commands_of_one_book_see_earlier_events() {
    let request = request(
        "counter",
        vec![],
        vec![Any::pack(&Step { by: 1 }), Any::pack(&Step { by: 10 })],
    );
    let book = events(handle(&Counter, &request).unwrap());
    let stepped: Vec<Stepped> = book
        .pages
        .iter()
        .map(|page| page.event().unwrap().unpack().unwrap())
        .collect();
    assert_eq!(
        stepped,
        [
            Stepped {
                by: 1,
                total: 101,
                at_sequence: 0
            },
            Stepped {
                by: 10,
                total: 111,
                at_sequence: 1
            },
        ]
    );
}

#[test]
fn one_rejection_rejects_the_whole_book() {
    let request = request(
        "counter",
        vec![],
        vec![Any::pack(&Step { by: 1 }), Any::pack(&Step { by: 0 })],
    );
    let error = handle(&Counter, &request).unwrap_err();
    assert_eq!(error.rejection().unwrap().message(), "by must be positive");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
}

#[test]
fn type_erased_events_and_empty_results_work() {
    let book = events(
        handle(
            &Counter,
            &request(
                "counter",
                vec![],
                vec![Any::pack(&Whisper { text: "hi".into() })],
            ),
        )
        .unwrap(),
    );
    let types: Vec<_> = book
        .pages
        .iter()
        .map(|p| p.event().unwrap().type_name().to_owned())
        .collect();
    assert_eq!(types, ["angzarr.NoOp", "test.Undone"]);

    let book = events(
        handle(
            &Counter,
            &request("counter", vec![], vec![Any::pack(&Whisper::default())]),
        )
        .unwrap(),
    );
    assert!(book.pages.is_empty());
    assert_eq!(book.next_sequence, 0);
}

// ---- compensation ----

fn notification(domain: &str, rejected: Any, reason: &str) -> Any {
    let rejection = RejectionNotification {
        rejected_command: Some(CommandBook {
            cover: Some(Cover::new(domain, uuid::Uuid::from_u128(7))),
            pages: vec![CommandPage::new(0, rejected)],
        }),
        rejection_reason: reason.into(),
    };
    Any::pack(&Notification {
        payload: Some(Any::pack(&rejection)),
        ..Default::default()
    })
}

#[test]
fn a_rejection_notification_reaches_the_matching_handler() {
    let note = notification(
        "table",
        Any::pack(&ReserveSeat { seat: 3 }),
        "Table is full",
    );
    let book = events(handle(&Counter, &request("counter", vec![], vec![note])).unwrap());
    let undone: Undone = book.pages[0].event().unwrap().unpack().unwrap();
    assert_eq!(undone.reason, "Table is full (total 100)");
}

#[test]
fn without_a_matching_handler_the_rejection_is_revoked() {
    let note = notification("hand", Any::pack(&ReserveSeat { seat: 3 }), "Hand is over");
    let response = handle(&Counter, &request("counter", vec![], vec![note])).unwrap();
    let Some(business_response::Result::Revocation(revocation)) = response.result else {
        panic!("expected a revocation");
    };
    assert!(revocation.emit_system_revocation);
    assert_eq!(
        revocation.reason,
        "aggregate Counter (domain counter) has no compensation for rejected command \
         `test.ReserveSeat` of domain hand: Hand is over"
    );
}

#[test]
fn a_malformed_notification_is_invalid() {
    let not_a_rejection = Any::pack(&Notification {
        payload: Some(Any::pack(&NoOp::default())),
        ..Default::default()
    });
    let error = handle(&Counter, &request("counter", vec![], vec![not_a_rejection])).unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        error.to_string(),
        "malformed rejection notification: expected a packed `angzarr.RejectionNotification`, \
         found type URL `type.googleapis.com/angzarr.NoOp`"
    );

    let empty = Any::pack(&Notification::default());
    let error = handle(&Counter, &request("counter", vec![], vec![empty])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed rejection notification: the notification has no payload"
    );

    let garbage = Any {
        type_url: Notification::type_url(),
        value: vec![0x12, 0x09],
    };
    let error = handle(&Counter, &request("counter", vec![], vec![garbage])).unwrap_err();
    assert!(error.to_string().starts_with(
        "malformed rejection notification: payload of type `angzarr.Notification` does not decode"
    ));
}

// ---- facts and replay ----

#[test]
fn facts_are_returned_unchanged() {
    let facts = EventBook {
        cover: Some(Cover::new("player", root())),
        pages: vec![page(0, Any::pack(&deposited(5)))],
        ..Default::default()
    };
    let answered = runtime::handle_fact(FactRequest {
        facts: Some(facts.clone()),
        prior_events: None,
    });
    assert_eq!(answered, facts);
}

#[test]
fn replay_folds_snapshot_and_events() {
    let base = PlayerState {
        player_id: "player_a@x".into(),
        bankroll: Some(chips(10)),
        ..Default::default()
    };
    let response = runtime::replay(
        &Player,
        &ReplayRequest {
            base_snapshot: Some(Snapshot {
                sequence: 3,
                state: Some(Any::pack(&base)),
                retention: 0,
            }),
            events: vec![
                page(3, Any::pack(&deposited(1))),
                page(4, Any::pack(&deposited(70))),
            ],
        },
    )
    .unwrap();
    let state: PlayerState = response.state.unwrap().unpack().unwrap();
    assert_eq!(state.bankroll(), 70);
}

#[test]
fn replay_without_a_protobuf_state_is_unimplemented_and_says_why() {
    let error = runtime::replay(&Counter, &ReplayRequest::default()).unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);
    assert!(
        error
            .to_string()
            .contains("its state is not a protobuf message"),
        "{error}"
    );
}

// ---- the fixture and topology ----

#[test]
fn the_fixture_runs_the_server_path() {
    AggregateTest::new(Counter)
        .given(Stepped {
            by: 1,
            total: 101,
            at_sequence: 0,
        })
        .when(Step { by: 2 })
        .then_events(Stepped {
            by: 2,
            total: 103,
            at_sequence: 1,
        })
        .then_state(|tally| assert_eq!(tally.steps, [1, 2]));

    AggregateTest::new(Counter)
        .when_rejected("table", ReserveSeat { seat: 1 }, "full")
        .then_event(|undone: &Undone| assert_eq!(undone.reason, "full (total 100)"));

    AggregateTest::new(Counter)
        .when_rejected("other", ReserveSeat { seat: 1 }, "full")
        .then_revoked(|reason| assert!(reason.contains("of domain other: full")));

    AggregateTest::new(Counter)
        .when(Step { by: -1 })
        .then_rejected_as(RejectionKind::InvalidArgument, "by must be positive");

    AggregateTest::new(Counter)
        .given(Event::from_any(Any {
            type_url: Stepped::type_url(),
            value: vec![0xff],
        }))
        .when(Step { by: 1 })
        .then_error(tonic::Code::InvalidArgument, |error| {
            assert!(error.to_string().contains("at sequence 0"));
        });
}

#[test]
#[should_panic(
    expected = "the aggregate produced other events than expected\nexpected:\n  0: test.Stepped Stepped { by: 2, total: 999, at_sequence: 0 }\nactual:\n  0: test.Stepped Stepped { by: 2, total: 102, at_sequence: 0 }"
)]
fn fixture_failures_show_a_readable_diff() {
    AggregateTest::new(Counter)
        .when(Step { by: 2 })
        .then_events(Stepped {
            by: 2,
            total: 999,
            at_sequence: 0,
        });
}

#[test]
#[should_panic(
    expected = "expected the rejection \"Player already exists\", got events:\n  0: examples.PlayerRegistered"
)]
fn fixture_reports_events_when_a_rejection_was_expected() {
    AggregateTest::new(Player)
        .when(RegisterPlayer {
            display_name: "A".into(),
            email: "a@x".into(),
            ..Default::default()
        })
        .then_rejected("Player already exists");
}

#[test]
fn handlers_can_be_called_directly() {
    let state = PlayerState::default();
    let rejection = Player
        .deposit(
            DepositFunds {
                amount: Some(chips(5)),
            },
            &state,
        )
        .unwrap_err();
    assert_eq!(rejection.message(), "Player does not exist");
}

#[test]
fn topology_lists_the_aggregates_of_this_binary() {
    let all = angzarr_client::topology();
    let counter = all
        .components()
        .iter()
        .find(|a| a.domain == "counter")
        .expect("Counter is registered");
    assert_eq!(counter.name, "Counter");
    assert_eq!(counter.kind, angzarr_client::ComponentKind::Aggregate);
    let commands: Vec<String> = counter
        .handles
        .iter()
        .map(|(name, handler)| format!("{name} -> {handler}"))
        .collect();
    assert_eq!(
        commands,
        [
            "test.Step -> step",
            "test.DoubleStep -> double",
            "test.Whisper -> whisper"
        ]
    );
    assert_eq!(counter.applies.len(), 2);
    assert_eq!(counter.rejections[0].0, "table");
    assert_eq!(counter.rejections[0].1.to_string(), "test.ReserveSeat");
    assert!(all
        .of_kind(angzarr_client::ComponentKind::Aggregate)
        .any(|a| a.name == "Player" && a.domain == "player"));
}

#[test]
fn event_payload_oneof_is_an_inline_event() {
    let page = page(0, Any::pack(&NoOp::default()));
    assert!(matches!(page.payload, Some(event_page::Payload::Event(_))));
}

// ---- the function-based style runs through the same runtime ----

fn step(cmd: Step, state: &Tally) -> Result<Stepped, Rejection> {
    require_positive(cmd.by, "by")?;
    Ok(Stepped {
        by: cmd.by,
        total: state.total + cmd.by,
        at_sequence: 0,
    })
}

fn apply_stepped(state: &mut Tally, event: &Stepped) {
    state.total = event.total;
    state.steps.push(event.by);
}

fn counter_router() -> CommandRouter<Tally> {
    CommandRouter::new("counter", new_tally)
        .named("CounterRouter")
        .on(step)
        .on_with_context(|cmd: Whisper, _: &Tally, ctx: &CommandContext| Undone {
            reason: format!("{} from {}", cmd.text, ctx.correlation_id()),
        })
        .apply(apply_stepped)
        .apply(|state: &mut Tally, _: &Undone| state.undone += 1)
        .on_rejected::<ReserveSeat, _, _>("table", |note: &RejectionNotification, _: &Tally| {
            Undone {
                reason: note.rejection_reason.clone(),
            }
        })
}

#[test]
fn a_router_behaves_like_the_macro_aggregate() {
    AggregateTest::new(counter_router())
        .given(Stepped {
            by: 1,
            total: 101,
            at_sequence: 0,
        })
        .when(Step { by: 2 })
        .then_events(Stepped {
            by: 2,
            total: 103,
            at_sequence: 0,
        })
        .then_state(|tally| assert_eq!(tally.steps, [1, 2]));
    AggregateTest::new(counter_router())
        .when(Step { by: 0 })
        .then_rejected("by must be positive");
    AggregateTest::new(counter_router())
        .when(Whisper {
            text: "psst".into(),
        })
        .then_event(|undone: &Undone| assert_eq!(undone.reason, "psst from aggregate-test"));
    AggregateTest::new(counter_router())
        .when_rejected("table", ReserveSeat { seat: 2 }, "full")
        .then_event(|undone: &Undone| assert_eq!(undone.reason, "full"));

    let error = handle(
        &counter_router(),
        &request("counter", vec![], vec![Any::pack(&Cover::default())]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "aggregate CounterRouter (domain counter) does not handle `type.googleapis.com/angzarr.Cover`; \
         it handles: test.Step, test.Whisper"
    );
    let error = runtime::replay(&counter_router(), &ReplayRequest::default()).unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);
}

fn depositing_router() -> CommandRouter<PlayerState> {
    CommandRouter::new("player", PlayerState::default)
        .on(|cmd: DepositFunds, state: &PlayerState| FundsDeposited {
            new_balance: Some(chips(
                state.bankroll() + examples::player::amount(cmd.amount.as_ref()),
            )),
            amount: cmd.amount,
            deposited_at: None,
        })
        .apply(|state: &mut PlayerState, event: &FundsDeposited| {
            state.bankroll = event.new_balance.clone()
        })
}

/// The sequences at which `aggregate` returns a snapshot over `commands`
/// deposits of 1, each decided on the history so far (as a coordinator
/// storing every page and every snapshot would send it).
fn snapshots_taken<A: Aggregate>(aggregate: &A, commands: u32) -> Vec<u32> {
    let mut history: Vec<EventPage> = Vec::new();
    let mut snapshot: Option<Snapshot> = None;
    let mut taken = Vec::new();
    for _ in 0..commands {
        let mut command = request(
            "player",
            history.clone(),
            vec![Any::pack(&DepositFunds {
                amount: Some(chips(1)),
            })],
        );
        command.events.as_mut().unwrap().snapshot = snapshot.clone();
        let book = events(handle(aggregate, &command).unwrap());
        if let Some(new) = &book.snapshot {
            let state: PlayerState = new.state.clone().unwrap().unpack().unwrap();
            assert_eq!(
                state.bankroll(),
                i64::from(new.sequence) + 1,
                "the snapshot holds the state after the command"
            );
            taken.push(new.sequence);
            snapshot = Some(new.clone());
        }
        history.extend(book.pages);
    }
    taken
}

#[test]
fn a_router_with_snapshots_keeps_them_on_its_policy() {
    let every = angzarr_client::DEFAULT_SNAPSHOT_INTERVAL;
    assert_eq!(
        snapshots_taken(&depositing_router().with_snapshots(), every * 2 + 1),
        [every - 1, every * 2 - 1],
        "the default: every DEFAULT_SNAPSHOT_INTERVAL events"
    );
    assert_eq!(
        snapshots_taken(
            &depositing_router().with_snapshot_policy(SnapshotPolicy::every(1)),
            3
        ),
        [0, 1, 2]
    );
    assert_eq!(
        snapshots_taken(
            &depositing_router().with_snapshot_policy(SnapshotPolicy::every(3)),
            7
        ),
        [2, 5]
    );
    assert_eq!(
        snapshots_taken(
            &depositing_router().with_snapshot_policy(SnapshotPolicy::when(
                |state: &PlayerState, _| { state.bankroll() % 5 == 0 }
            )),
            11
        ),
        [4, 9],
        "a predicate on the state"
    );
    assert!(snapshots_taken(&depositing_router(), 20).is_empty());
}

/// The player's deposits, with snapshots every two events.
struct EveryTwo;

#[aggregate(domain = "player", state = PlayerState, snapshot = 2)]
impl EveryTwo {
    #[handles(DepositFunds)]
    fn deposit(&self, cmd: DepositFunds, state: &PlayerState) -> FundsDeposited {
        FundsDeposited {
            new_balance: Some(chips(
                state.bankroll() + examples::player::amount(cmd.amount.as_ref()),
            )),
            amount: cmd.amount,
            deposited_at: None,
        }
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: &FundsDeposited) {
        state.bankroll = event.new_balance.clone();
    }
}

fn on_a_round_bankroll(state: &PlayerState, _sequence: u32) -> bool {
    state.bankroll() % 4 == 0
}

/// The player's deposits, with a snapshot whenever the bankroll is a
/// multiple of 4.
struct RoundBankroll;

#[aggregate(domain = "player", state = PlayerState, snapshot = on_a_round_bankroll)]
impl RoundBankroll {
    #[handles(DepositFunds)]
    fn deposit(&self, cmd: DepositFunds, state: &PlayerState) -> FundsDeposited {
        EveryTwo.deposit(cmd, state)
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: &FundsDeposited) {
        EveryTwo::deposited(state, event);
    }
}

#[test]
fn the_macro_takes_a_snapshot_schedule() {
    assert_eq!(snapshots_taken(&EveryTwo, 6), [1, 3, 5]);
    assert_eq!(snapshots_taken(&RoundBankroll, 9), [3, 7]);
    let every = angzarr_client::DEFAULT_SNAPSHOT_INTERVAL;
    assert_eq!(
        snapshots_taken(&DefaultSchedule, every * 2),
        [every - 1, every * 2 - 1],
        "a bare `snapshot`: the default policy"
    );
}

/// The player's deposits, on the default snapshot schedule.
struct DefaultSchedule;

#[aggregate(domain = "player", state = PlayerState, snapshot)]
impl DefaultSchedule {
    #[handles(DepositFunds)]
    fn deposit(&self, cmd: DepositFunds, state: &PlayerState) -> FundsDeposited {
        EveryTwo.deposit(cmd, state)
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: &FundsDeposited) {
        EveryTwo::deposited(state, event);
    }
}

#[test]
#[should_panic(expected = "CommandRouter(counter): command test.Step already has a handler")]
fn a_router_refuses_two_handlers_for_one_command() {
    let _ = CommandRouter::new("counter", new_tally).on(step).on(step);
}

// ---- path types, a renamed crate and the async fixture ----

mod renamed {
    pub use angzarr_client as sdk;
}

pub struct Bank;

#[renamed::sdk::aggregate(domain = "bank", state = examples::proto::PlayerState, crate = renamed::sdk)]
impl Bank {
    #[renamed::sdk::handles(examples::proto::DepositFunds)]
    async fn deposit(
        &self,
        cmd: &examples::proto::DepositFunds,
        ctx: &renamed::sdk::CommandContext<'_>,
    ) -> Option<examples::proto::FundsDeposited> {
        (ctx.domain() == "bank").then(|| FundsDeposited {
            amount: cmd.amount.clone(),
            new_balance: cmd.amount.clone(),
            deposited_at: None,
        })
    }
}

#[tokio::test]
async fn path_types_and_a_renamed_crate_work_with_the_async_fixture() {
    AggregateTest::new(Bank)
        .when_async(DepositFunds {
            amount: Some(chips(3)),
        })
        .await
        .then_event(|event: &FundsDeposited| assert_eq!(event.new_balance, Some(chips(3))));
}

#[test]
fn the_end_of_the_sequence_space_is_an_error_not_a_repeated_sequence() {
    let at_the_end = request(
        "player",
        vec![
            page(u32::MAX - 1, Any::pack(&registered("a@example.com"))),
            page(u32::MAX, Any::pack(&NoOp::default())),
        ],
        vec![Any::pack(&DepositFunds {
            amount: Some(chips(5)),
        })],
    );
    let error = handle(&Player, &at_the_end).unwrap_err();
    assert_eq!(error.code(), tonic::Code::OutOfRange);
    assert_eq!(
        error.to_string(),
        "no sequence left: the event would need sequence 4294967296, past the last one (4294967295)"
    );

    // One sequence left: the first event fits, a second would not.
    let one_left = request(
        "player",
        vec![page(u32::MAX - 1, Any::pack(&registered("a@example.com")))],
        vec![Any::pack(&DepositFunds {
            amount: Some(chips(5)),
        })],
    );
    let response = handle(&Player, &one_left).expect("the last sequence is usable");
    let Some(business_response::Result::Events(book)) = response.result else {
        panic!("expected events");
    };
    assert_eq!(book.pages[0].sequence(), Some(u32::MAX));
    let two = request(
        "player",
        vec![page(u32::MAX - 1, Any::pack(&registered("a@example.com")))],
        vec![
            Any::pack(&DepositFunds {
                amount: Some(chips(5)),
            }),
            Any::pack(&DepositFunds {
                amount: Some(chips(6)),
            }),
        ],
    );
    assert_eq!(
        handle(&Player, &two).unwrap_err().code(),
        tonic::Code::OutOfRange
    );
}
