//! The dispatch lookup (type URL -> handler route, and event type URL ->
//! applier) allocates nothing, for macro aggregates and routers alike.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use angzarr_client::{Aggregate, CommandRouter, MessageName};
use examples::player::Player;
use examples::proto::{DepositFunds, FundsDeposited, PlayerState, ReleaseFunds};

/// Counts allocations made by the current thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

const URLS: [&str; 4] = [
    "type.googleapis.com/examples.RegisterPlayer",
    "type.angzarr.io/examples.ReleaseFunds",
    "type.googleapis.com/examples.Unknown",
    "",
];

#[test]
fn the_counter_counts() {
    assert!(allocations_during(|| drop(black_box(vec![1_u8; 64]))) >= 1);
}

#[test]
fn macro_dispatch_lookup_allocates_nothing() {
    let player = Player;
    let allocations = allocations_during(|| {
        for _ in 0..1_000 {
            for url in URLS {
                black_box(player.route(black_box(url)));
                black_box(MessageName::find(player.events(), black_box(url)));
            }
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(player.route(URLS[1]), Some(4));
}

#[test]
fn router_dispatch_lookup_allocates_nothing() {
    let router = CommandRouter::new("player", PlayerState::default)
        .on(|_: DepositFunds, _: &PlayerState| FundsDeposited::default())
        .on(|_: ReleaseFunds, _: &PlayerState| FundsDeposited::default());
    let allocations = allocations_during(|| {
        for _ in 0..1_000 {
            for url in URLS {
                black_box(router.route(black_box(url)));
            }
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(router.route(URLS[1]), Some(1));
}

#[test]
fn upcasting_unmatched_pages_allocates_nothing() {
    use angzarr_client::proto::{Any, AnyExt, EventPage, UpcastRequest};
    use angzarr_client::upcaster::runtime::upcast;
    use angzarr_client::UpcasterRouter;
    use examples::proto::{PlayerRegistered, SitIn};

    let upcaster = UpcasterRouter::new("player").on(|_: SitIn| PlayerRegistered::default());
    let pages = |event: Any| -> Vec<EventPage> {
        (0..1_000)
            .map(|sequence| EventPage::new(sequence, event.clone()))
            .collect()
    };
    let unmatched = pages(Any::pack(&FundsDeposited::default()));
    for domain in ["player", "table"] {
        let request = UpcastRequest {
            domain: domain.to_owned(),
            events: unmatched.clone(),
        };
        let mut response = None;
        let allocations = allocations_during(|| response = Some(upcast(&upcaster, request)));
        assert_eq!(
            allocations, 0,
            "{domain}: unmatched pages are moved through"
        );
        assert_eq!(response.unwrap().unwrap().events, unmatched);
    }

    // The counter sees the work matched pages do.
    let request = UpcastRequest {
        domain: "player".to_owned(),
        events: pages(Any::pack(&SitIn::default())),
    };
    let mut response = None;
    let allocations = allocations_during(|| response = Some(upcast(&upcaster, request)));
    assert!(allocations >= 1_000, "{allocations}");
    assert!(response.unwrap().unwrap().events[0]
        .event()
        .unwrap()
        .is::<PlayerRegistered>());
}
