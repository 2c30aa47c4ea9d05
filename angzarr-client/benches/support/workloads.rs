//! Workloads both the in-process and the wire benches run: a saga over a
//! book of 100 pages and a projector folding one, each with the same work
//! written by hand (the same output, built the way someone would without
//! the SDK).

use std::sync::atomic::{AtomicI64, Ordering};

use angzarr_client::prelude::*;
use angzarr_client::proto::{
    command_page, event_page, page_header, AngzarrDeferredSequence, Any, AnyExt, CommandBook,
    CommandPage, Cover, Edition, EventBook, EventPage, PageHeader, Projection, SagaHandleRequest,
    SagaResponse,
};
use angzarr_client::{projector, saga};
use examples::player::{amount, chips};
use examples::proto::{FundsReserved, ReleaseFunds};
use prost::Message;

/// Pages of each book.
pub const PAGES: u32 = 100;

pub fn type_name(any: &Any) -> &str {
    any.type_url.rsplit('/').next().unwrap_or_default()
}

pub fn main_edition() -> Option<Edition> {
    Some(Edition {
        name: "angzarr".to_owned(),
        divergences: Vec::new(),
    })
}

pub fn deferred(source: &Cover, source_seq: u32) -> Option<PageHeader> {
    Some(PageHeader {
        sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
            AngzarrDeferredSequence {
                source: Some(source.clone()),
                source_seq,
            },
        )),
    })
}

// ---- saga ----

pub struct Releaser;

#[saga(name = "releaser", source = "table", target = "player")]
impl Releaser {
    #[handles(FundsReserved)]
    fn release(&self, event: FundsReserved, ctx: &SagaContext) -> Command<ReleaseFunds> {
        Command::new(
            ctx.root(),
            ReleaseFunds {
                table_root: event.table_root,
            },
        )
    }
}

pub fn saga_request() -> SagaHandleRequest {
    let pages = (0..PAGES)
        .map(|sequence| {
            EventPage::new(
                sequence,
                Any::pack(&FundsReserved {
                    amount: Some(chips(i64::from(sequence))),
                    table_root: vec![sequence as u8; 16],
                    ..Default::default()
                }),
            )
        })
        .collect();
    SagaHandleRequest {
        source: Some(EventBook {
            cover: Some(
                Cover::new("table", uuid::Uuid::from_u128(42)).with_correlation_id("bench"),
            ),
            pages,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn saga_by_hand(request: &SagaHandleRequest) -> SagaResponse {
    let source = request.source.as_ref().expect("source");
    let cover = source.cover.as_ref().expect("cover");
    if cover.domain != "table" {
        return SagaResponse::default();
    }
    let root = cover.root.clone();
    let source_seq = source
        .pages
        .last()
        .and_then(EventPage::sequence)
        .unwrap_or(0);
    let mut commands = Vec::with_capacity(source.pages.len());
    for page in &source.pages {
        let Some(event_page::Payload::Event(event)) = &page.payload else {
            continue;
        };
        if type_name(event) != "examples.FundsReserved" {
            continue;
        }
        let reserved = FundsReserved::decode(event.value.as_slice()).expect("decodes");
        commands.push(CommandBook {
            cover: Some(Cover {
                domain: "player".to_owned(),
                root: root.clone(),
                correlation_id: cover.correlation_id.clone(),
                edition: main_edition(),
            }),
            pages: vec![CommandPage {
                header: deferred(cover, source_seq),
                merge_strategy: 0,
                payload: Some(command_page::Payload::Command(Any::pack(&ReleaseFunds {
                    table_root: reserved.table_root,
                }))),
            }],
        });
    }
    SagaResponse {
        commands,
        events: Vec::new(),
    }
}

// ---- projector ----

#[derive(Default)]
pub struct Ledger {
    pub reserved: AtomicI64,
}

#[projector(name = "ledger", domains = ["player"])]
impl Ledger {
    #[handles(FundsReserved)]
    fn reserved(&self, event: &FundsReserved) {
        self.reserved
            .fetch_add(amount(event.amount.as_ref()), Ordering::Relaxed);
    }
}

pub fn ledger_by_hand(ledger: &Ledger, book: &EventBook) -> Projection {
    let cover = book.cover.as_ref().expect("cover");
    if cover.domain == "player" {
        for page in &book.pages {
            let Some(event_page::Payload::Event(event)) = &page.payload else {
                continue;
            };
            if type_name(event) == "examples.FundsReserved" {
                let reserved = FundsReserved::decode(event.value.as_slice()).expect("decodes");
                ledger
                    .reserved
                    .fetch_add(amount(reserved.amount.as_ref()), Ordering::Relaxed);
            }
        }
    }
    Projection {
        cover: Some(cover.clone()),
        projector: "ledger".to_owned(),
        sequence: book.pages.last().and_then(EventPage::sequence).unwrap_or(0),
        projection: None,
    }
}
