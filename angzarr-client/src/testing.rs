//! Testing components without infrastructure: a given / when / then fixture
//! per kind, each running exactly the code path its gRPC server runs, wire
//! encoding included.
//!
//! - [`AggregateTest`]: given events, when a command, then events, a
//!   rejection or a state;
//! - [`SagaTest`]: when an event, then commands to whom, with what;
//! - [`ProcessManagerTest`]: given its own events, when a trigger (or a
//!   rejection), then destinations, events, commands, facts and state;
//! - [`ProjectorTest`]: when events, then a projection or CloudEvents;
//! - [`UpcasterTest`]: when an old event, then the current one.
//!
//! And for application code that sends commands: [`FakeCoordinator`], a
//! recording coordinator with scripted answers, and [`in_memory_channel`],
//! gRPC to services in this process without a network (angzarr-local's
//! `LocalCoordinator::client` uses it to run the real coordinator in a test).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

pub use crate::aggregate::testing::{AggregateOutcome, AggregateTest};
pub use crate::process_manager::testing::{ProcessManagerOutcome, ProcessManagerTest};
pub use crate::projector::testing::{ProjectorOutcome, ProjectorTest};
pub use crate::saga::testing::{SagaOutcome, SagaTest};
pub use crate::upcaster::testing::{UpcasterOutcome, UpcasterTest};

mod fake;
mod in_memory;

pub use fake::FakeCoordinator;
pub use in_memory::in_memory_channel;

/// The fixtures and the fake coordinator, in one import beside
/// [`crate::prelude`]: `use angzarr_client::testing::prelude::*;`.
pub mod prelude {
    pub use super::{
        AggregateTest, FakeCoordinator, ProcessManagerTest, ProjectorTest, SagaTest, UpcasterTest,
    };
}

/// A book of `events` from the aggregate `cover` names, numbered from
/// `first_sequence`, as a coordinator delivers one command's new pages.
pub(crate) fn book_of(
    cover: &angzarr_proto::Cover,
    first_sequence: u32,
    events: Vec<angzarr_proto::Any>,
) -> angzarr_proto::EventBook {
    let created_at = angzarr_proto::time::now();
    let pages: Vec<angzarr_proto::EventPage> = events
        .into_iter()
        .zip(first_sequence..)
        .map(|(event, sequence)| {
            let mut page = angzarr_proto::EventPage::new(sequence, event);
            page.created_at = Some(created_at);
            page
        })
        .collect();
    angzarr_proto::EventBook {
        cover: Some(cover.clone()),
        snapshot: None,
        next_sequence: first_sequence.saturating_add(pages.len() as u32),
        pages,
    }
}

/// Runs a future to completion on the current thread, parking between polls.
///
/// Fixtures use it for their blocking `when`; handlers that await a runtime's
/// timers or I/O need the fixtures' `when_async` inside that runtime instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
