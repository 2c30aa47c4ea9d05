//! Testing upcasters without infrastructure: when an old event, then the
//! current one.

use angzarr_proto::{AnyExt, EventPage, UpcastRequest, UpcastResponse};
use prost::Name;

use super::{runtime, Upcaster};
use crate::{expect, ComponentError, IntoEvent};

/// A when/then test of one upcaster, through exactly the server's code path
/// ([`runtime::upcast`]).
///
/// ```
/// use angzarr_client::prelude::*;
/// use angzarr_client::testing::prelude::*;
/// use angzarr_client::proto::{Cover, NoOp};
///
/// let upcaster = UpcasterRouter::new("player")
///     .on(|old: NoOp| Cover { domain: old.reason, ..Default::default() });
///
/// UpcasterTest::new(upcaster)
///     .when(NoOp { reason: "v2".into(), ..Default::default() })
///     .then_event(|current: &Cover| assert_eq!(current.domain, "v2"));
/// ```
pub struct UpcasterTest<U: Upcaster> {
    upcaster: U,
}

impl<U: Upcaster> UpcasterTest<U> {
    /// A test of `upcaster`.
    pub fn new(upcaster: U) -> Self {
        UpcasterTest { upcaster }
    }

    /// Upcasts one event, stored at sequence 0.
    pub fn when(self, event: impl IntoEvent) -> UpcasterOutcome {
        let mut page = EventPage::new(0, event.into_event());
        page.created_at = Some(angzarr_proto::time::now());
        self.when_pages(vec![page])
    }

    /// Upcasts these pages of the upcaster's domain.
    pub fn when_pages(self, pages: Vec<EventPage>) -> UpcasterOutcome {
        let request = UpcastRequest {
            domain: self.upcaster.domain().to_owned(),
            events: pages.clone(),
        };
        UpcasterOutcome {
            sent: pages,
            result: runtime::upcast(&self.upcaster, request),
        }
    }
}

/// What the upcaster answered, with assertions.
#[derive(Debug)]
pub struct UpcasterOutcome {
    sent: Vec<EventPage>,
    result: Result<UpcastResponse, ComponentError>,
}

impl UpcasterOutcome {
    /// The raw answer.
    pub fn result(&self) -> &Result<UpcastResponse, ComponentError> {
        &self.result
    }

    /// The pages returned (empty after a failure).
    pub fn pages(&self) -> &[EventPage] {
        self.result
            .as_ref()
            .map_or(&[], |response| response.events.as_slice())
    }

    /// Expects one page whose event is of type `E`, and hands the event to `check`.
    #[track_caller]
    pub fn then_event<E: Name + Default>(self, check: impl FnOnce(&E)) -> Self {
        expect::answered(&self.result);
        match self.pages() {
            [page] => match page.event_as::<E>() {
                Ok(event) => check(&event),
                Err(error) => panic!(
                    "expected a `{}` event, got `{}`: {error}",
                    E::full_name(),
                    page.event().map_or("(no event)", |event| event.type_name())
                ),
            },
            pages => panic!("expected one page, got {}", pages.len()),
        }
        self
    }

    /// Expects every page back exactly as sent.
    #[track_caller]
    pub fn then_unchanged(self) -> Self {
        expect::answered(&self.result);
        if self.pages() != self.sent.as_slice() {
            panic!(
                "expected the pages back unchanged, got {:?}",
                self.pages()
                    .iter()
                    .map(|page| page.event().map(|event| event.type_name().to_owned()))
                    .collect::<Vec<_>>()
            );
        }
        self
    }

    /// Expects a failure with this gRPC code, and hands it to `check`.
    #[track_caller]
    pub fn then_error(self, code: tonic::Code, check: impl FnOnce(&ComponentError)) -> Self {
        expect::error(&self.result, code, check, |response| {
            format!("{} page(s)", response.events.len())
        });
        self
    }
}
