//! Sagas, process managers, projectors and upcasters through their runtimes,
//! each against the same work written by hand (the same output, built the
//! way someone would without the SDK), in one run:
//!
//! - saga dispatch: a book of 100 pages, one command per page;
//! - process manager: one trigger, with 100 prior events of its own;
//! - projector dispatch: a book of 100 pages folded into a read model;
//! - upcasting 10,000 pages, half of them an old version.
//!
//! Run with `cargo bench -p angzarr-client --bench components`.

use std::hint::black_box;
use std::sync::atomic::Ordering;

use angzarr_client::prelude::*;
use angzarr_client::proto::{
    command_page, event_page, Any, AnyExt, CommandBook, CommandPage, Cover, EventBook, EventPage,
    PageHeader, ProcessManagerHandleRequest, ProcessManagerHandleResponse, UpcastRequest,
    UpcastResponse,
};
use angzarr_client::testing::block_on;
use angzarr_client::{process_manager, upcaster};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use examples::player::{amount, chips};
use examples::proto::{
    FundsDeposited, FundsReserved, PlayerRegistered, PlayerState, ReserveFunds, SitIn,
};
use prost::Message;

#[path = "support/workloads.rs"]
mod workloads;
use workloads::*;

fn saga_dispatch(c: &mut Criterion) {
    let request = saga_request();
    let by_runtime =
        block_on(angzarr_client::saga::runtime::handle(&Releaser, &request)).expect("handled");
    assert_eq!(by_runtime, saga_by_hand(&request));
    assert_eq!(by_runtime.commands.len(), PAGES as usize);

    let mut group = c.benchmark_group("saga_100_pages");
    group.bench_function("macro", |b| {
        b.iter(|| {
            block_on(angzarr_client::saga::runtime::handle(
                &Releaser,
                black_box(&request),
            ))
        })
    });
    group.bench_function("handwritten", |b| {
        b.iter(|| saga_by_hand(black_box(&request)))
    });
    group.finish();
}

// ---- process manager ----

struct Banker;

#[process_manager(name = "banker", sources = ["player"], targets = ["player"], state = PlayerState)]
impl Banker {
    #[handles(FundsReserved)]
    fn reserved(
        &self,
        event: &FundsReserved,
        state: &PlayerState,
        ctx: &PmContext,
    ) -> (FundsDeposited, Command<ReserveFunds>) {
        let balance = amount(state.bankroll.as_ref()) + amount(event.amount.as_ref());
        (
            FundsDeposited {
                amount: event.amount.clone(),
                new_balance: Some(chips(balance)),
                deposited_at: None,
            },
            Command::new(
                ctx.root(),
                ReserveFunds {
                    amount: event.amount.clone(),
                    table_root: event.table_root.clone(),
                },
            ),
        )
    }

    #[applies(FundsDeposited)]
    fn deposited(state: &mut PlayerState, event: FundsDeposited) {
        state.bankroll = event.new_balance;
    }
}

const CORRELATION: &str = "7d8e9f10-1112-4314-9516-171819202122";

fn pm_request() -> ProcessManagerHandleRequest {
    let process = uuid::Uuid::parse_str(CORRELATION).expect("a UUID");
    let history = (0..PAGES)
        .map(|sequence| {
            EventPage::new(
                sequence,
                Any::pack(&FundsDeposited {
                    amount: Some(chips(1)),
                    new_balance: Some(chips(i64::from(sequence) + 1)),
                    deposited_at: None,
                }),
            )
        })
        .collect();
    ProcessManagerHandleRequest {
        trigger: Some(EventBook {
            cover: Some(
                Cover::new("player", uuid::Uuid::from_u128(9)).with_correlation_id(CORRELATION),
            ),
            pages: vec![EventPage::new(
                3,
                Any::pack(&FundsReserved {
                    amount: Some(chips(5)),
                    table_root: vec![1; 16],
                    ..Default::default()
                }),
            )],
            ..Default::default()
        }),
        process_state: Some(EventBook {
            cover: Some(Cover::new("banker", process).with_correlation_id(CORRELATION)),
            pages: history,
            snapshot: None,
            next_sequence: PAGES,
        }),
        destination_sequences: Default::default(),
    }
}

fn pm_by_hand(request: &ProcessManagerHandleRequest) -> ProcessManagerHandleResponse {
    let trigger = request.trigger.as_ref().expect("trigger");
    let cover = trigger.cover.as_ref().expect("cover");
    let history = request.process_state.as_ref().expect("history");
    let mut state = PlayerState::default();
    for page in &history.pages {
        let Some(event_page::Payload::Event(event)) = &page.payload else {
            continue;
        };
        if type_name(event) == "examples.FundsDeposited" {
            let deposited = FundsDeposited::decode(event.value.as_slice()).expect("decodes");
            state.bankroll = deposited.new_balance;
        }
    }
    let next = history
        .pages
        .last()
        .and_then(EventPage::sequence)
        .map_or(0, |s| s + 1);
    let process_cover = Cover {
        domain: "banker".to_owned(),
        root: history.cover.as_ref().and_then(|c| c.root.clone()),
        correlation_id: cover.correlation_id.clone(),
        edition: main_edition(),
    };
    let mut events = Vec::new();
    let mut commands = Vec::new();
    for page in &trigger.pages {
        let Some(event_page::Payload::Event(event)) = &page.payload else {
            continue;
        };
        if type_name(event) != "examples.FundsReserved" {
            continue;
        }
        let reserved = FundsReserved::decode(event.value.as_slice()).expect("decodes");
        let balance = amount(state.bankroll.as_ref()) + amount(reserved.amount.as_ref());
        let deposited = FundsDeposited {
            amount: reserved.amount.clone(),
            new_balance: Some(chips(balance)),
            deposited_at: None,
        };
        state.bankroll = deposited.new_balance.clone();
        events.push(EventPage {
            header: Some(PageHeader::at_sequence(next + events.len() as u32)),
            created_at: Some(angzarr_client::proto::time::now()),
            payload: Some(event_page::Payload::Event(Any::pack(&deposited))),
            ..Default::default()
        });
        commands.push((
            cover.root.clone(),
            ReserveFunds {
                amount: reserved.amount,
                table_root: reserved.table_root,
            },
        ));
    }
    let last_own = next + events.len() as u32 - 1;
    let commands = commands
        .into_iter()
        .map(|(root, reserve)| CommandBook {
            cover: Some(Cover {
                domain: "player".to_owned(),
                root,
                correlation_id: cover.correlation_id.clone(),
                edition: main_edition(),
            }),
            pages: vec![CommandPage {
                header: deferred(&process_cover, last_own),
                merge_strategy: 0,
                payload: Some(command_page::Payload::Command(Any::pack(&reserve))),
            }],
        })
        .collect();
    ProcessManagerHandleResponse {
        process_events: Some(EventBook {
            cover: Some(process_cover),
            snapshot: None,
            next_sequence: next + events.len() as u32,
            pages: events,
        }),
        commands,
        facts: Vec::new(),
    }
}

fn without_times(mut response: ProcessManagerHandleResponse) -> ProcessManagerHandleResponse {
    for book in response.process_events.iter_mut() {
        for page in &mut book.pages {
            page.created_at = None;
        }
    }
    response
}

fn pm_handle(c: &mut Criterion) {
    let request = pm_request();
    let by_runtime = block_on(angzarr_client::process_manager::runtime::handle(
        &Banker, &request,
    ))
    .expect("handled");
    assert_eq!(
        without_times(by_runtime),
        without_times(pm_by_hand(&request))
    );

    let mut group = c.benchmark_group("process_manager_100_prior_events");
    group.bench_function("macro", |b| {
        b.iter(|| {
            block_on(angzarr_client::process_manager::runtime::handle(
                &Banker,
                black_box(&request),
            ))
        })
    });
    group.bench_function("handwritten", |b| {
        b.iter(|| pm_by_hand(black_box(&request)))
    });
    group.finish();
}

fn projector_dispatch(c: &mut Criterion) {
    let mut book = saga_request().source.expect("book");
    book.cover = Some(Cover::new("player", uuid::Uuid::from_u128(1)));
    let by_macro = Ledger::default();
    let by_hand = Ledger::default();
    let projected = block_on(angzarr_client::projector::runtime::handle(
        &by_macro, &book, false,
    ))
    .expect("projected");
    assert_eq!(projected, ledger_by_hand(&by_hand, &book));
    assert_eq!(
        by_macro.reserved.load(Ordering::Relaxed),
        by_hand.reserved.load(Ordering::Relaxed)
    );

    let mut group = c.benchmark_group("projector_100_pages");
    group.bench_function("macro", |b| {
        b.iter(|| {
            block_on(angzarr_client::projector::runtime::handle(
                &by_macro,
                black_box(&book),
                false,
            ))
        })
    });
    group.bench_function("handwritten", |b| {
        b.iter(|| ledger_by_hand(&by_hand, black_box(&book)))
    });
    group.finish();
}

// ---- upcaster ----

struct Upgrade;

#[upcaster(domain = "player")]
impl Upgrade {
    #[upcasts(SitIn)]
    fn sit_in(old: SitIn) -> PlayerRegistered {
        PlayerRegistered {
            display_name: format!("table {}", old.table_root.len()),
            ..Default::default()
        }
    }
}

const UPCAST_PAGES: u32 = 10_000;

fn upcast_request() -> UpcastRequest {
    let events = (0..UPCAST_PAGES)
        .map(|sequence| {
            let event = if sequence % 2 == 0 {
                Any::pack(&SitIn {
                    table_root: vec![7; 16],
                })
            } else {
                Any::pack(&FundsDeposited {
                    amount: Some(chips(1)),
                    new_balance: Some(chips(i64::from(sequence))),
                    deposited_at: None,
                })
            };
            let mut page = EventPage::new(sequence, event);
            page.created_at = Some(angzarr_client::proto::time::now());
            page
        })
        .collect();
    UpcastRequest {
        domain: "player".to_owned(),
        events,
    }
}

fn upcast_by_hand(request: UpcastRequest) -> UpcastResponse {
    let mut events = request.events;
    if request.domain == "player" {
        for page in &mut events {
            if let Some(event_page::Payload::Event(event)) = &mut page.payload {
                if type_name(event) == "examples.SitIn" {
                    let old = SitIn::decode(event.value.as_slice()).expect("decodes");
                    *event = Any::pack(&PlayerRegistered {
                        display_name: format!("table {}", old.table_root.len()),
                        ..Default::default()
                    });
                }
            }
        }
    }
    UpcastResponse { events }
}

fn upcasting(c: &mut Criterion) {
    let request = upcast_request();
    let by_runtime =
        angzarr_client::upcaster::runtime::upcast(&Upgrade, request.clone()).expect("upcast");
    assert_eq!(by_runtime, upcast_by_hand(request.clone()));

    let mut group = c.benchmark_group("upcast_10000_pages_half_matched");
    group.bench_function("macro", |b| {
        b.iter_batched(
            || request.clone(),
            |request| angzarr_client::upcaster::runtime::upcast(&Upgrade, request),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("handwritten", |b| {
        b.iter_batched(|| request.clone(), upcast_by_hand, BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(
    benches,
    saga_dispatch,
    pm_handle,
    projector_dispatch,
    upcasting
);
criterion_main!(benches);
