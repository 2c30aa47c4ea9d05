//! Sagas, process managers, projectors and upcasters, each declared with its
//! macro and with its router, through the runtimes the servers use (by way
//! of the fixtures, and directly where the wire shape is the point).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use angzarr_client::prelude::*;
use angzarr_client::proto::{
    event_page, page_header, Any, AnyExt, Cover, EventBook, EventPage, NoOp, Notification,
    PageHeader, PayloadReference, ProcessManagerHandleRequest, ProcessManagerPrepareRequest,
    RejectionNotification, SagaHandleRequest, Snapshot, UpcastRequest,
};
use angzarr_client::testing::block_on;
use angzarr_client::testing::prelude::*;
use angzarr_client::{process_manager, projector, saga, upcaster, ComponentKind, SagaOutput};
use prost::Name;

#[path = "support/lobby.rs"]
mod lobby;
use lobby::*;

// ---- a saga with one target ----

pub struct TablePlayerSaga;

#[saga(name = "saga-table-player", source = "table", target = "player")]
impl TablePlayerSaga {
    #[handles(Seated)]
    fn reserve(&self, event: &Seated, ctx: &SagaContext) -> Result<Command<Reserve>, Rejection> {
        let player = uuid::Uuid::from_slice(&event.player)
            .map_err(|_| Rejection::invalid_argument("the player root is not a UUID"))?;
        Ok(Command::new(
            player,
            Reserve {
                amount: event.amount,
                table: ctx.root().as_bytes().to_vec(),
            },
        ))
    }

    #[handles(Left)]
    async fn release(event: Left) -> Option<Command<Release>> {
        (event.chips > 0).then(|| {
            Command::new(
                uuid::Uuid::from_slice(&event.player).unwrap_or_default(),
                Release::default(),
            )
        })
    }
}

fn seated(player: u8, amount: i64) -> Seated {
    Seated {
        player: root(player).as_bytes().to_vec(),
        amount,
    }
}

#[test]
fn a_saga_command_goes_to_the_target_with_the_sources_correlation_and_a_deferred_header() {
    let outcome = SagaTest::new(TablePlayerSaga)
        .at_sequence(6)
        .when(seated(2, 500))
        .then_command(|to: &Cover, command: &Reserve| {
            assert_eq!(to.domain, "player");
            assert_eq!(to.root_uuid(), Ok(root(2)));
            assert_eq!(to.correlation_id, "saga-test");
            assert_eq!(to.edition_name(), "angzarr");
            assert_eq!(command.amount, 500);
            assert_eq!(
                command.table,
                uuid::Uuid::from_u128(0x5A6A).as_bytes().to_vec()
            );
        });
    let page = &outcome.commands()[0].pages[0];
    match &page.header.as_ref().unwrap().sequence_type {
        Some(page_header::SequenceType::AngzarrDeferred(deferred)) => {
            let source = deferred.source.as_ref().unwrap();
            assert_eq!(source.domain, "table");
            assert_eq!(source.root_uuid(), Ok(uuid::Uuid::from_u128(0x5A6A)));
            assert_eq!(deferred.source_seq, 6, "the source book's highest sequence");
        }
        other => panic!("expected a deferred header, got {other:?}"),
    }
    assert_eq!(page.merge_strategy, 0, "COMMUTATIVE");
}

#[test]
fn async_and_optional_saga_handlers_work() {
    SagaTest::new(TablePlayerSaga)
        .when(Left {
            player: root(3).as_bytes().to_vec(),
            chips: 40,
        })
        .then_command(|to: &Cover, _: &Release| assert_eq!(to.root_uuid(), Ok(root(3))));
    SagaTest::new(TablePlayerSaga)
        .when(Left {
            player: root(3).as_bytes().to_vec(),
            chips: 0,
        })
        .then_nothing();
}

/// The amount of each `Reserve` command, in order.
fn reserved_amounts(books: &[angzarr_client::proto::CommandBook]) -> Vec<i64> {
    books
        .iter()
        .map(|book| {
            let command = book.pages[0].command().expect("a command page");
            command.unpack::<Reserve>().expect("a Reserve").amount
        })
        .collect()
}

#[test]
fn a_saga_handles_every_page_of_a_book_in_order() {
    let outcome = SagaTest::new(TablePlayerSaga).when_events(vec![
        Event::from(seated(1, 10)),
        Event::from(NoOp::default()),
        Event::from(seated(2, 20)),
    ]);
    let amounts = reserved_amounts(outcome.commands());
    assert_eq!(amounts, [10, 20]);
    let deferred: Vec<u32> = outcome
        .commands()
        .iter()
        .map(
            |book| match &book.pages[0].header.as_ref().unwrap().sequence_type {
                Some(page_header::SequenceType::AngzarrDeferred(d)) => d.source_seq,
                _ => panic!("not deferred"),
            },
        )
        .collect();
    assert_eq!(deferred, [2, 2]);
}

#[test]
fn a_saga_rejection_and_bad_input_are_clear_errors() {
    SagaTest::new(TablePlayerSaga)
        .when(Seated {
            player: vec![1, 2, 3],
            amount: 1,
        })
        .then_rejected("the player root is not a UUID");

    let mut corrupt = EventPage::new(
        3,
        Any {
            type_url: "type.googleapis.com/test.Seated".into(),
            value: vec![0xff, 0xff, 0xff],
        },
    );
    corrupt.created_at = None;
    let book = EventBook {
        cover: Some(Cover::new("table", root(9))),
        pages: vec![corrupt],
        ..Default::default()
    };
    block_on(SagaTest::new(TablePlayerSaga).when_book(book)).then_error(
        tonic::Code::InvalidArgument,
        |error| {
            let text = error.to_string();
            assert!(
                text.starts_with("event `test.Seated` at sequence 3 does not decode"),
                "{text}"
            );
        },
    );

    let missing = block_on(angzarr_client::saga::runtime::handle(
        &TablePlayerSaga,
        &SagaHandleRequest::default(),
    ))
    .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    assert_eq!(missing.to_string(), "SagaHandleRequest has no source");
}

/// A book of `pages` pages where those `handled` names are `Seated` (one
/// command each) and the rest `Left` without chips (no command).
fn table_book(pages: u32, handled: impl Fn(u32) -> bool) -> SagaHandleRequest {
    let pages = (0..pages)
        .map(|sequence| {
            let event = if handled(sequence) {
                Any::pack(&seated(sequence as u8, i64::from(sequence)))
            } else {
                Any::pack(&Left::default())
            };
            EventPage::new(sequence, event)
        })
        .collect();
    SagaHandleRequest {
        source: Some(EventBook {
            cover: Some(Cover::new("table", root(9))),
            pages,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn a_saga_answers_long_books_in_order_without_reserving_for_events_it_ignores() {
    // Every page handled, past the books reserved up front.
    let every = block_on(angzarr_client::saga::runtime::handle(
        &TablePlayerSaga,
        &table_book(1_000, |_| true),
    ))
    .expect("handled");
    let amounts = reserved_amounts(&every.commands);
    assert_eq!(amounts, (0..1_000).collect::<Vec<i64>>());

    // One page handled of 10,000: room for a bounded number of books only.
    let sparse = block_on(angzarr_client::saga::runtime::handle(
        &TablePlayerSaga,
        &table_book(10_000, |sequence| sequence == 0),
    ))
    .expect("handled");
    assert_eq!(sparse.commands.len(), 1);
    assert!(
        sparse.commands.capacity() <= 256,
        "{} books reserved",
        sparse.commands.capacity()
    );
}

#[test]
fn a_saga_ignores_what_it_does_not_consume() {
    let other_domain = EventBook {
        cover: Some(Cover::new("hand", root(9))),
        pages: vec![EventPage::new(0, Any::pack(&seated(1, 1)))],
        ..Default::default()
    };
    let empty = EventBook {
        cover: Some(Cover::new("table", root(9))),
        ..Default::default()
    };
    let unknown_and_notice = EventBook {
        cover: Some(Cover::new("table", root(9))),
        pages: vec![
            EventPage::new(0, Any::pack(&Audited::default())),
            EventPage::new(1, Any::pack(&Notification::default())),
            EventPage::new(2, Any::pack(&NoOp::default())),
        ],
        ..Default::default()
    };
    for book in [other_domain, empty, unknown_and_notice] {
        block_on(SagaTest::new(TablePlayerSaga).when_book(book)).then_nothing();
    }
}

// ---- a saga with several targets, commands and facts ----

pub struct Fanout;

#[saga(name = "fanout", source = "player", targets = ["table", "audit"])]
impl Fanout {
    #[handles(BuyInAsked)]
    fn ask(&self, event: BuyInAsked, ctx: &SagaContext) -> SagaOutput {
        let table = uuid::Uuid::from_slice(&event.table).unwrap_or_default();
        SagaOutput::new()
            .command(Command::to(
                "table",
                table,
                Seat {
                    player: ctx.root().as_bytes().to_vec(),
                    amount: event.amount,
                },
            ))
            .fact(Fact::to(
                "audit",
                ctx.root(),
                Audited {
                    note: "asked".into(),
                },
            ))
    }

    #[handles(Left)]
    fn forgot_the_domain(&self, _: &Left) -> Command<Release> {
        Command::new(root(1), Release::default())
    }

    #[handles(Seated)]
    fn wrong_domain(&self, _: &Seated) -> Command<Release> {
        Command::to("hand", root(1), Release::default())
    }
}

#[test]
fn several_targets_need_the_domain_named_and_declared() {
    let outcome = SagaTest::new(Fanout)
        .when(BuyInAsked {
            table: root(7).as_bytes().to_vec(),
            amount: 300,
        })
        .then_command(|to: &Cover, seat: &Seat| {
            assert_eq!(to.domain, "table");
            assert_eq!(to.root_uuid(), Ok(root(7)));
            assert_eq!(seat.amount, 300);
        })
        .then_fact(|to: &Cover, audited: &Audited| {
            assert_eq!(to.domain, "audit");
            assert_eq!(to.correlation_id, "saga-test");
            assert_eq!(audited.note, "asked");
        });
    match &outcome.facts()[0].pages[0]
        .header
        .as_ref()
        .unwrap()
        .sequence_type
    {
        Some(page_header::SequenceType::ExternalDeferred(external)) => assert_eq!(
            external.external_id,
            format!(
                "fanout:player:{}:0:0",
                angzarr_client::proto::identity::hex(uuid::Uuid::from_u128(0x5A6A).as_bytes())
            )
        ),
        other => panic!("expected an external id, got {other:?}"),
    }

    SagaTest::new(Fanout)
        .when(Left::default())
        .then_error(tonic::Code::Internal, |error| {
            assert_eq!(
                error.to_string(),
                "internal error: saga fanout has several targets (table, audit); name the command's domain with `in_domain`"
            )
        });
    SagaTest::new(Fanout)
        .when(Seated::default())
        .then_error(tonic::Code::Internal, |error| {
            assert!(error
                .to_string()
                .contains("domain `hand`, which is not among its targets"))
        });
}

#[test]
fn a_saga_router_behaves_like_the_macro() {
    let router = SagaRouter::new("saga-table-player", "table")
        .target("player")
        .on_with_context(|event: Seated, ctx: &SagaContext<'_>| {
            Command::new(
                uuid::Uuid::from_slice(&event.player).unwrap_or_default(),
                Reserve {
                    amount: event.amount,
                    table: ctx.root().as_bytes().to_vec(),
                },
            )
        });
    let by_router = SagaTest::new(router).when(seated(2, 500));
    let by_macro = SagaTest::new(TablePlayerSaga).when(seated(2, 500));
    assert_eq!(by_router.commands(), by_macro.commands());
}

// ---- a process manager ----

pub struct BuyIn;

#[process_manager(
    name = "buy-in",
    sources = ["player", "table"],
    targets = ["player", "table"],
    state = BuyInState,
    snapshot
)]
impl BuyIn {
    #[prepares(BuyInAsked)]
    fn destinations(&self, event: &BuyInAsked) -> Vec<Cover> {
        let table = uuid::Uuid::from_slice(&event.table).unwrap_or_default();
        vec![Cover::new("table", table), Cover::new("table", table)]
    }

    #[handles(BuyInAsked)]
    fn start(
        &self,
        event: BuyInAsked,
        state: &BuyInState,
        ctx: &PmContext,
    ) -> Result<PmOutput, Rejection> {
        if !state.phase.is_empty() {
            return Err(Rejection::precondition("the buy-in has already started"));
        }
        let table = uuid::Uuid::from_slice(&event.table).unwrap_or_default();
        Ok(PmOutput::new()
            .event(BuyInStarted {
                player: ctx.root().as_bytes().to_vec(),
                table: event.table.clone(),
                amount: event.amount,
            })
            .command(Command::to(
                "player",
                ctx.root(),
                Reserve {
                    amount: event.amount,
                    table: event.table,
                },
            ))
            .command(Command::to(
                "table",
                table,
                Seat {
                    player: ctx.root().as_bytes().to_vec(),
                    amount: event.amount,
                },
            )))
    }

    #[handles(Seated)]
    async fn seated(&self, event: &Seated, state: &BuyInState) -> Option<BuyInEnded> {
        (state.phase == "started" && event.player == state.player).then(|| BuyInEnded {
            seated: true,
            reason: String::new(),
        })
    }

    #[applies(BuyInStarted)]
    fn started(state: &mut BuyInState, event: &BuyInStarted) {
        state.player = event.player.clone();
        state.table = event.table.clone();
        state.amount = event.amount;
        state.phase = "started".into();
    }

    #[applies(BuyInEnded)]
    fn ended(state: &mut BuyInState, event: &BuyInEnded) {
        state.phase = if event.seated { "seated" } else { "failed" }.into();
    }

    #[rejected(domain = "table", command = Seat)]
    fn seat_refused(
        &self,
        notice: &RejectionNotification,
        state: &BuyInState,
    ) -> (BuyInEnded, Command<Release>) {
        (
            BuyInEnded {
                seated: false,
                reason: notice.rejection_reason.clone(),
            },
            Command::to(
                "player",
                uuid::Uuid::from_slice(&state.player).unwrap_or_default(),
                Release {
                    table: state.table.clone(),
                },
            ),
        )
    }
}

fn asked(table: u8, amount: i64) -> BuyInAsked {
    BuyInAsked {
        table: root(table).as_bytes().to_vec(),
        amount,
    }
}

#[test]
fn a_process_manager_records_its_events_and_sends_commands_deferred_to_itself() {
    let outcome = ProcessManagerTest::new(BuyIn)
        .with_destination_sequence("table", 4)
        .when(asked(5, 200))
        .then_destinations(|destinations| {
            assert_eq!(destinations.len(), 1, "the same cover once");
            assert_eq!(destinations[0].domain, "table");
            assert_eq!(destinations[0].edition_name(), "angzarr");
        })
        .then_event(|started: &BuyInStarted| assert_eq!(started.amount, 200))
        .then_command_count(2)
        .then_state(|state| assert_eq!(state.phase, "started"));

    let response = outcome.result().as_ref().unwrap();
    let own = response.process_events.as_ref().unwrap();
    let cover = own.cover.as_ref().unwrap();
    let expected_root = angzarr_client::process_manager::runtime::process_root("buy-in", "pm-test");
    assert_eq!(cover.domain, "buy-in");
    assert_eq!(cover.root_uuid(), Ok(expected_root));
    assert_eq!(cover.correlation_id, "pm-test");
    assert_eq!(own.pages[0].sequence(), Some(0));
    assert_eq!(own.next_sequence, 1);
    let snapshot = own
        .snapshot
        .as_ref()
        .expect("the state comes back as a snapshot");
    assert_eq!(snapshot.sequence, 0);
    assert_eq!(
        snapshot
            .state
            .as_ref()
            .unwrap()
            .unpack::<BuyInState>()
            .unwrap()
            .phase,
        "started"
    );
    for command in &response.commands {
        match &command.pages[0].header.as_ref().unwrap().sequence_type {
            Some(page_header::SequenceType::AngzarrDeferred(deferred)) => {
                assert_eq!(deferred.source.as_ref(), Some(cover));
                assert_eq!(deferred.source_seq, 0, "its own highest sequence");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(command.cover.as_ref().unwrap().correlation_id, "pm-test");
    }
}

#[test]
fn a_process_manager_continues_from_its_history() {
    let started = BuyInStarted {
        player: root(1).as_bytes().to_vec(),
        table: root(5).as_bytes().to_vec(),
        amount: 200,
    };
    ProcessManagerTest::new(BuyIn)
        .given(started.clone())
        .when(asked(5, 200))
        .then_rejected("the buy-in has already started");

    let outcome = ProcessManagerTest::new(BuyIn)
        .from(Cover::new("table", root(5)).with_correlation_id("pm-test"))
        .given(started)
        .when(seated(1, 200))
        .then_event(|ended: &BuyInEnded| assert!(ended.seated))
        .then_command_count(0)
        .then_state(|state| assert_eq!(state.phase, "seated"));
    assert_eq!(
        outcome.events()[0].sequence(),
        Some(1),
        "after its one event"
    );
}

#[test]
fn a_refused_command_reaches_the_rejected_handler() {
    ProcessManagerTest::new(BuyIn)
        .given(BuyInStarted {
            player: root(1).as_bytes().to_vec(),
            table: root(5).as_bytes().to_vec(),
            amount: 200,
        })
        .when_rejected("table", Seat::default(), "Table is full")
        .then_event(|ended: &BuyInEnded| {
            assert!(!ended.seated);
            assert_eq!(ended.reason, "Table is full");
        })
        .then_command(|to: &Cover, release: &Release| {
            assert_eq!(to.domain, "player");
            assert_eq!(to.root_uuid(), Ok(root(1)));
            assert_eq!(release.table, root(5).as_bytes().to_vec());
        })
        .then_state(|state| assert_eq!(state.phase, "failed"));

    // A rejection nobody handles is nothing to do (the source aggregate compensates).
    ProcessManagerTest::new(BuyIn)
        .when_rejected("player", Reserve::default(), "Insufficient funds")
        .then_nothing();
}

#[test]
fn a_process_manager_answers_bad_or_foreign_input_clearly() {
    let trigger = |cover: Cover| EventBook {
        cover: Some(cover),
        pages: vec![EventPage::new(0, Any::pack(&asked(5, 1)))],
        ..Default::default()
    };
    let handle = |request: ProcessManagerHandleRequest| {
        block_on(angzarr_client::process_manager::runtime::handle(
            &BuyIn, &request,
        ))
    };
    let no_correlation = handle(ProcessManagerHandleRequest {
        trigger: Some(trigger(Cover::new("player", root(1)))),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(no_correlation, Default::default());

    let not_a_source = handle(ProcessManagerHandleRequest {
        trigger: Some(trigger(
            Cover::new("hand", root(1)).with_correlation_id("c"),
        )),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(not_a_source, Default::default());

    let missing = handle(ProcessManagerHandleRequest::default()).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "ProcessManagerHandleRequest has no trigger"
    );

    let foreign_domain = handle(ProcessManagerHandleRequest {
        trigger: Some(trigger(
            Cover::new("player", root(1)).with_correlation_id("c"),
        )),
        process_state: Some(EventBook {
            cover: Some(Cover::new("refund", root(2)).with_correlation_id("c")),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(foreign_domain.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        foreign_domain.to_string(),
        "process_state belongs to domain `refund`, not to process manager `buy-in`"
    );

    let foreign_workflow = handle(ProcessManagerHandleRequest {
        trigger: Some(trigger(
            Cover::new("player", root(1)).with_correlation_id("c"),
        )),
        process_state: Some(EventBook {
            cover: Some(Cover::new("buy-in", root(2)).with_correlation_id("other")),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        foreign_workflow.to_string(),
        "process_state belongs to correlation id `other`, the trigger to `c`"
    );

    let prepared = angzarr_client::process_manager::runtime::prepare(
        &BuyIn,
        &ProcessManagerPrepareRequest {
            trigger: Some(trigger(
                Cover::new("player", root(1))
                    .with_correlation_id("c")
                    .with_edition("what-if"),
            )),
            process_state: None,
        },
    )
    .unwrap();
    assert_eq!(prepared.destinations[0].edition_name(), "what-if");
}

#[test]
fn a_process_manager_restores_its_snapshot_and_keeps_the_roots_it_was_given() {
    let state = BuyInState {
        player: root(1).as_bytes().to_vec(),
        table: root(5).as_bytes().to_vec(),
        amount: 50,
        phase: "started".into(),
    };
    let correlation = "6f1c2a8e-4a4b-4c7e-9a63-1f2d3c4b5a69";
    let process_state = EventBook {
        cover: Some(Cover::new("buy-in", root(8)).with_correlation_id(correlation)),
        snapshot: Some(Snapshot {
            sequence: 11,
            state: Some(Any::pack(&state)),
            retention: 0,
        }),
        pages: vec![],
        next_sequence: 12,
    };
    let response = block_on(angzarr_client::process_manager::runtime::handle(
        &BuyIn,
        &ProcessManagerHandleRequest {
            trigger: Some(EventBook {
                cover: Some(Cover::new("table", root(5)).with_correlation_id(correlation)),
                pages: vec![EventPage::new(3, Any::pack(&seated(1, 50)))],
                ..Default::default()
            }),
            process_state: Some(process_state),
            destination_sequences: HashMap::new(),
        },
    ))
    .unwrap();
    let own = response.process_events.unwrap();
    assert_eq!(own.pages[0].sequence(), Some(12), "after the snapshot");
    assert_eq!(
        own.cover.unwrap().root_uuid(),
        Ok(root(8)),
        "the history's root wins over one derived from the correlation id"
    );
    assert_eq!(
        angzarr_client::process_manager::runtime::process_root("buy-in", correlation).to_string(),
        correlation
    );
}

#[test]
fn a_process_manager_router_behaves_like_the_macro() {
    let router = ProcessManagerRouter::new("buy-in", BuyInState::default)
        .source("player")
        .target("player")
        .prepare(|event: BuyInAsked, _: &BuyInState| {
            Cover::new(
                "table",
                uuid::Uuid::from_slice(&event.table).unwrap_or_default(),
            )
        })
        .on_with_context(|event: BuyInAsked, _: &BuyInState, ctx: &PmContext<'_>| {
            (
                BuyInStarted {
                    player: ctx.root().as_bytes().to_vec(),
                    table: event.table.clone(),
                    amount: event.amount,
                },
                Command::new(
                    ctx.root(),
                    Reserve {
                        amount: event.amount,
                        table: event.table,
                    },
                ),
            )
        })
        .apply(|state: &mut BuyInState, event: &BuyInStarted| {
            state.phase = "started".into();
            state.amount = event.amount;
        })
        .on_rejected::<Seat, _, _>("table", |_, _, _| ())
        .with_snapshots();
    ProcessManagerTest::new(router)
        .when(asked(5, 70))
        .then_destinations(|d| assert_eq!(d[0].root_uuid(), Ok(root(5))))
        .then_event(|started: &BuyInStarted| assert_eq!(started.amount, 70))
        .then_command(|to: &Cover, reserve: &Reserve| {
            assert_eq!(to.domain, "player");
            assert_eq!(reserve.amount, 70);
        })
        .then_state(|state| assert_eq!((state.phase.as_str(), state.amount), ("started", 70)));
}

// ---- projectors ----

/// A read model that stays correct under redelivery: it keeps, per
/// aggregate, the last sequence it applied, and skips what it has seen.
#[derive(Default)]
pub struct Seating {
    seated: Mutex<HashMap<uuid::Uuid, u32>>,
    applied: Mutex<HashMap<uuid::Uuid, u32>>,
}

impl Seating {
    fn apply(&self, ctx: &ProjectionContext, change: i64) -> SeatCount {
        let position = ctx.position();
        let mut applied = self.applied.lock().unwrap();
        let mut seated = self.seated.lock().unwrap();
        let fresh = applied
            .get(&position.root)
            .is_none_or(|last| position.sequence > *last);
        let count = seated.entry(position.root).or_default();
        let updated = (i64::from(*count) + change).max(0) as u32;
        if fresh && !ctx.is_speculative() {
            *count = updated;
            applied.insert(position.root, position.sequence);
            return SeatCount { seated: updated };
        }
        SeatCount {
            seated: if ctx.is_speculative() {
                updated
            } else {
                *count
            },
        }
    }
}

#[projector(name = "table-seating", domains = ["table"])]
impl Seating {
    #[handles(Seated)]
    fn seated(&self, _event: &Seated, ctx: &ProjectionContext) -> SeatCount {
        self.apply(ctx, 1)
    }

    #[handles(Left)]
    fn left(&self, _event: Left, ctx: &ProjectionContext) -> Result<SeatCount, Rejection> {
        Ok(self.apply(ctx, -1))
    }
}

#[test]
fn a_projector_answers_the_last_projection_with_its_cover_name_and_sequence() {
    ProjectorTest::new(Seating::default())
        .at_sequence(4)
        .when_events(vec![Event::from(seated(1, 5)), Event::from(seated(2, 5))])
        .then_projection(|count: &SeatCount| assert_eq!(count.seated, 2))
        .then(|projection| {
            assert_eq!(projection.projector, "table-seating");
            assert_eq!(projection.sequence, 5);
            assert_eq!(projection.cover.as_ref().unwrap().domain, "table");
        });
}

#[test]
fn a_read_model_stays_correct_when_a_book_is_delivered_twice() {
    let seating = Arc::new(Seating::default());
    let deliver = |sequence: u32, event: Event| {
        ProjectorTest::new(Arc::clone(&seating))
            .at_sequence(sequence)
            .when(event)
    };
    deliver(0, seated(1, 5).into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 1));
    deliver(1, seated(2, 5).into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 2));
    deliver(1, seated(2, 5).into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 2));
    deliver(0, seated(1, 5).into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 2));
    deliver(2, Left::default().into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 1));
    // Speculative delivery computes the answer and writes nothing.
    ProjectorTest::new(Arc::clone(&seating))
        .at_sequence(3)
        .speculative()
        .when(Left::default())
        .then_projection(|c: &SeatCount| assert_eq!(c.seated, 0));
    deliver(3, seated(3, 5).into()).then_projection(|c: &SeatCount| assert_eq!(c.seated, 2));
}

#[test]
fn a_projector_skips_framework_foreign_and_empty_books() {
    let book = |domain: &str, pages: Vec<EventPage>| EventBook {
        cover: Some(Cover::new(domain, root(1))),
        pages,
        ..Default::default()
    };
    for book in [
        book(
            "_angzarr",
            vec![EventPage::new(0, Any::pack(&seated(1, 1)))],
        ),
        book("player", vec![EventPage::new(0, Any::pack(&seated(1, 1)))]),
        book("table", vec![]),
    ] {
        block_on(ProjectorTest::new(Seating::default()).when_book(book))
            .then_no_projection()
            .then(|projection| assert_eq!(projection.projector, "table-seating"));
    }
    block_on(ProjectorTest::new(Seating::default()).when_book(EventBook::default()))
        .then_error(tonic::Code::InvalidArgument, |error| {
            assert_eq!(error.to_string(), "EventBook has no cover")
        });
}

pub struct Feed;

#[projector(name = "public-feed", domains = ["table", "player"])]
impl Feed {
    #[handles(Seated)]
    fn seated(event: &Seated) -> CloudEvent {
        CloudEvent::new(event)
    }

    #[handles(Left)]
    async fn left(&self, event: &Left) -> Vec<CloudEvent> {
        vec![
            CloudEvent::new(event),
            CloudEvent::new(&Audited {
                note: "left".into(),
            })
            .with_type("com.example.audit")
            .with_extension("tenant", "acme"),
        ]
    }
}

#[test]
fn cloud_events_get_the_protocols_defaults() {
    let cover = Cover::new("table", root(0xab)).with_correlation_id("corr-1");
    let root_hex = "ab".repeat(16);
    ProjectorTest::new(Feed)
        .with_cover(cover)
        .at_sequence(7)
        .when(Left::default())
        .then_cloud_events(|events| {
            assert_eq!(events.len(), 2);
            assert_eq!(
                events[0].id.as_deref(),
                Some(&*format!("table:{root_hex}:7"))
            );
            assert_eq!(
                events[1].id.as_deref(),
                Some(&*format!("table:{root_hex}:7:1"))
            );
            assert_eq!(events[0].r#type, "test.Left");
            assert_eq!(events[1].r#type, "com.example.audit");
            assert_eq!(events[0].source.as_deref(), Some("angzarr/table"));
            assert_eq!(events[0].subject.as_deref(), Some(&*root_hex));
            assert_eq!(events[1].extensions["correlationid"], "corr-1");
            assert_eq!(events[1].extensions["tenant"], "acme");
            assert!(events[0].data.as_ref().unwrap().is::<Left>());
        });
}

#[test]
fn a_projector_answers_either_messages_or_cloud_events() {
    let mixed = ProjectorRouter::new("mixed", ["table"])
        .on(|_: Seated| CloudEvent::empty())
        .on(|_: Left| SeatCount { seated: 1 });
    ProjectorTest::new(mixed)
        .when_events(vec![
            Event::from(Seated::default()),
            Event::from(Left::default()),
        ])
        .then_error(tonic::Code::Internal, |error| {
            assert!(error
                .to_string()
                .contains("both a projection message and CloudEvents"))
        });
    let nothing = ProjectorRouter::new("quiet", ["table"]).on(|_: Seated| ());
    ProjectorTest::new(nothing)
        .when(Seated::default())
        .then_no_projection();
}

// ---- upcasters ----

pub struct MemberUpcaster;

#[upcaster(domain = "member")]
impl MemberUpcaster {
    #[upcasts(JoinedV1)]
    fn v1(old: JoinedV1) -> JoinedV2 {
        JoinedV2 {
            name: old.name,
            kind: "human".into(),
        }
    }

    #[upcasts(JoinedV2)]
    fn v2(&self, old: &JoinedV2) -> Result<Joined, Rejection> {
        Ok(Joined {
            name: old.name.clone(),
            kind: old.kind.clone(),
            version: 3,
        })
    }
}

#[test]
fn rules_chain_until_none_matches() {
    UpcasterTest::new(MemberUpcaster)
        .when(JoinedV1 { name: "ada".into() })
        .then_event(|current: &Joined| {
            assert_eq!(
                current,
                &Joined {
                    name: "ada".into(),
                    kind: "human".into(),
                    version: 3
                }
            )
        });
    UpcasterTest::new(MemberUpcaster)
        .when(Joined::default())
        .then_unchanged();
}

#[test]
fn upcasting_keeps_every_field_of_every_page_and_only_changes_matched_payloads() {
    let header = Some(PageHeader::at_sequence(4));
    let old = EventPage {
        header: header.clone(),
        created_at: Some(angzarr_client::proto::time::now()),
        payload: Some(event_page::Payload::Event(Any::pack(&JoinedV1 {
            name: "bo".into(),
        }))),
        no_commit: true,
        cascade_id: Some("cascade-1".into()),
    };
    let unknown = EventPage {
        payload: Some(event_page::Payload::Event(Any {
            type_url: "type.googleapis.com/other.Thing".into(),
            value: vec![1, 2, 3],
        })),
        ..old.clone()
    };
    let external = EventPage {
        payload: Some(event_page::Payload::External(PayloadReference {
            uri: "s3://bucket/key".into(),
            ..Default::default()
        })),
        ..old.clone()
    };
    let outcome = UpcasterTest::new(MemberUpcaster).when_pages(vec![
        old.clone(),
        unknown.clone(),
        external.clone(),
    ]);
    let pages = outcome.pages();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].header, header);
    assert_eq!(pages[0].created_at, old.created_at);
    assert!(pages[0].no_commit);
    assert_eq!(pages[0].cascade_id.as_deref(), Some("cascade-1"));
    assert!(pages[0].event().unwrap().is::<Joined>());
    assert_eq!(pages[1], unknown, "byte for byte");
    assert_eq!(pages[2], external);

    let other_domain = angzarr_client::upcaster::runtime::upcast(
        &MemberUpcaster,
        UpcastRequest {
            domain: "player".into(),
            events: vec![old.clone()],
        },
    )
    .unwrap();
    assert_eq!(other_domain.events, vec![old]);
}

#[test]
fn an_undecodable_old_event_names_its_type_and_sequence() {
    let corrupt = EventPage::new(
        9,
        Any {
            type_url: "type.googleapis.com/test.JoinedV1".into(),
            value: vec![0xff; 3],
        },
    );
    UpcasterTest::new(MemberUpcaster)
        .when_pages(vec![corrupt])
        .then_error(tonic::Code::InvalidArgument, |error| {
            assert!(error
                .to_string()
                .starts_with("event `test.JoinedV1` at sequence 9 does not decode"))
        });
}

#[test]
fn a_router_whose_rules_go_round_is_an_error_not_a_hang() {
    let cycle = UpcasterRouter::new("member")
        .on(|old: JoinedV1| JoinedV2 {
            name: old.name,
            kind: String::new(),
        })
        .on(|old: JoinedV2| JoinedV1 { name: old.name });
    UpcasterTest::new(cycle)
        .when(JoinedV1::default())
        .then_error(tonic::Code::Internal, |error| {
            assert!(
                error.to_string().contains("its rules form a cycle"),
                "{error}"
            )
        });
}

pub struct Members;

#[aggregate(domain = "member", state = Member, upcaster = MemberUpcaster)]
impl Members {
    #[handles(Rename)]
    fn rename(&self, cmd: Rename, state: &Member) -> Result<Joined, Rejection> {
        require_exists(!state.name.is_empty(), "Member does not exist")?;
        Ok(Joined {
            name: cmd.name,
            kind: state.kind.clone(),
            version: 3,
        })
    }

    #[applies(Joined)]
    fn joined(state: &mut Member, event: &Joined) {
        state.name = event.name.clone();
        state.kind = event.kind.clone();
        state.joins += 1;
    }
}

#[test]
fn an_aggregate_reads_old_history_through_its_upcaster() {
    AggregateTest::new(Members)
        .given(JoinedV1 { name: "ada".into() })
        .given(JoinedV2 {
            name: "ada".into(),
            kind: "ai".into(),
        })
        .when(Rename {
            name: "ada2".into(),
        })
        .then_event(|joined: &Joined| assert_eq!(joined.kind, "ai"))
        .then_state(|member| assert_eq!((member.joins, member.name.as_str()), (3, "ada2")));

    let router = CommandRouter::new("member", Member::default)
        .on(|_: Rename, state: &Member| Audited {
            note: state.kind.clone(),
        })
        .apply(|state: &mut Member, event: &Joined| state.kind = event.kind.clone())
        .with_upcaster(MemberUpcaster);
    AggregateTest::new(router)
        .given(JoinedV1 { name: "x".into() })
        .when(Rename::default())
        .then_event(|audited: &Audited| assert_eq!(audited.note, "human"));
}

// ---- topology ----

#[test]
fn topology_lists_every_kind_and_draws_the_system() {
    let system = angzarr_client::topology();
    let saga = system
        .of_kind(ComponentKind::Saga)
        .find(|c| c.name == "saga-table-player")
        .expect("the saga is registered");
    assert_eq!(saga.sources, ["table"]);
    assert_eq!(saga.targets, ["player"]);
    assert_eq!(saga.handles.len(), 2);
    let pm = system
        .of_kind(ComponentKind::ProcessManager)
        .find(|c| c.name == "buy-in")
        .expect("the process manager is registered");
    assert_eq!(pm.domain, "buy-in");
    assert_eq!(pm.prepares.len(), 1);
    assert_eq!(pm.rejections[0].0, "table");
    assert_eq!(pm.applies.len(), 2);
    let upcaster = system
        .of_kind(ComponentKind::Upcaster)
        .find(|c| c.name == "MemberUpcaster")
        .expect("the upcaster is registered");
    assert_eq!(upcaster.domain, "member");
    assert_eq!(upcaster.upcasts.len(), 2);
    assert!(system
        .of_kind(ComponentKind::Projector)
        .any(|c| c.name == "public-feed" && c.sources == ["table", "player"]));

    let drawn = system.to_mermaid();
    for line in [
        "domain_table -->|Seated, Left| saga_saga_table_player",
        "saga_saga_table_player -->|commands| domain_player",
        "pm_buy_in([\"process manager buy-in\"])",
        "upcaster_MemberUpcaster -. upcasts .-> domain_member",
        "domain_member[\"member<br/>aggregate Members\"]",
    ] {
        assert!(drawn.contains(line), "{line} missing in\n{drawn}");
    }
}

#[test]
fn type_names_stay_the_protocols() {
    assert_eq!(Seated::full_name(), "test.Seated");
}
