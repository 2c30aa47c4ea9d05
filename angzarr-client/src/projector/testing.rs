//! Testing projectors without infrastructure: when events, then a projection.

use angzarr_proto::{Any, AnyExt, CloudEvent, CloudEventsResponse, Cover, EventBook, Projection};
use prost::Name;

use super::{runtime, Projector};
use crate::testing::block_on;
use crate::{expect, ComponentError, IntoEvent, IntoEvents};

/// A when/then test of one projector, through exactly the server's code path
/// ([`runtime::handle`]).
///
/// ```
/// use angzarr_client::prelude::*;
/// use angzarr_client::testing::prelude::*;
/// use angzarr_client::proto::{Cover, Edition};
///
/// let projector = ProjectorRouter::new("echo", ["table"])
///     .on(|event: Edition| Cover { domain: event.name, ..Default::default() });
///
/// ProjectorTest::new(projector)
///     .when(Edition { name: "seated".into(), ..Default::default() })
///     .then_projection(|echo: &Cover| assert_eq!(echo.domain, "seated"));
/// ```
pub struct ProjectorTest<P: Projector> {
    projector: P,
    cover: Cover,
    first_sequence: u32,
    speculative: bool,
}

impl<P: Projector> ProjectorTest<P> {
    /// A test of `projector`, with events from a fixed aggregate of its first
    /// domain and correlation id `projector-test`.
    pub fn new(projector: P) -> Self {
        let domain = projector
            .domains()
            .first()
            .map_or_else(|| "domain".to_owned(), ToString::to_string);
        let cover = Cover::new(domain, uuid::Uuid::from_u128(0x960_1EC7))
            .with_correlation_id("projector-test");
        ProjectorTest {
            projector,
            cover,
            first_sequence: 0,
            speculative: false,
        }
    }

    /// Events come from the aggregate `cover` names instead.
    pub fn with_cover(mut self, cover: Cover) -> Self {
        self.cover = cover;
        self
    }

    /// The first event delivered has this sequence (default 0).
    pub fn at_sequence(mut self, sequence: u32) -> Self {
        self.first_sequence = sequence;
        self
    }

    /// Calls `HandleSpeculative` instead of `Handle`.
    pub fn speculative(mut self) -> Self {
        self.speculative = true;
        self
    }

    /// Delivers one event, blocking until the projector answers.
    pub fn when(self, event: impl IntoEvent) -> ProjectorOutcome {
        block_on(self.when_async(event))
    }

    /// Delivers one event and awaits the answer.
    pub async fn when_async(self, event: impl IntoEvent) -> ProjectorOutcome {
        let book = self.book(vec![event.into_event()]);
        self.when_book(book).await
    }

    /// Delivers several events as one book.
    pub fn when_events(self, events: impl IntoEvents) -> ProjectorOutcome {
        let mut packed = Vec::new();
        events.into_events(&mut packed);
        let book = self.book(packed);
        block_on(self.when_book(book))
    }

    /// Delivers `book` exactly as given.
    pub async fn when_book(self, book: EventBook) -> ProjectorOutcome {
        ProjectorOutcome {
            result: runtime::handle(&self.projector, &book, self.speculative).await,
        }
    }

    fn book(&self, events: Vec<angzarr_proto::Any>) -> EventBook {
        crate::testing::book_of(&self.cover, self.first_sequence, events)
    }
}

/// What the projector answered, with assertions.
#[derive(Debug)]
pub struct ProjectorOutcome {
    result: Result<Projection, ComponentError>,
}

impl ProjectorOutcome {
    /// The raw answer.
    pub fn result(&self) -> &Result<Projection, ComponentError> {
        &self.result
    }

    /// The projection's output, if any (none after a failure).
    pub fn projection(&self) -> Option<&Any> {
        self.result
            .as_ref()
            .ok()
            .and_then(|projection| projection.projection.as_ref())
    }

    /// Expects a projection message of type `M` and hands it to `check`.
    #[track_caller]
    pub fn then_projection<M: Name + Default>(self, check: impl FnOnce(&M)) -> Self {
        let projection = expect::answered(&self.result);
        match projection.projection.as_ref().map(|any| any.unpack::<M>()) {
            Some(Ok(message)) => check(&message),
            Some(Err(error)) => panic!("expected a `{}` projection: {error}", M::full_name()),
            None => panic!("expected a `{}` projection, got none", M::full_name()),
        }
        self
    }

    /// Expects no projection output.
    #[track_caller]
    pub fn then_no_projection(self) -> Self {
        let projection = expect::answered(&self.result);
        if let Some(output) = &projection.projection {
            panic!("expected no projection, got a `{}`", output.type_name());
        }
        self
    }

    /// Expects CloudEvents and hands them (defaults filled) to `check`.
    #[track_caller]
    pub fn then_cloud_events(self, check: impl FnOnce(&[CloudEvent])) -> Self {
        let projection = expect::answered(&self.result);
        match projection
            .projection
            .as_ref()
            .map(|any| any.unpack::<CloudEventsResponse>())
        {
            Some(Ok(response)) => check(&response.events),
            Some(Err(error)) => panic!("expected CloudEvents: {error}"),
            None => panic!("expected CloudEvents, got no projection"),
        }
        self
    }

    /// Hands the whole `Projection` (cover, projector, sequence) to `check`.
    #[track_caller]
    pub fn then(self, check: impl FnOnce(&Projection)) -> Self {
        check(expect::answered(&self.result));
        self
    }

    /// Expects a rejection with exactly this message.
    #[track_caller]
    pub fn then_rejected(self, message: &str) -> Self {
        expect::rejected(&self.result, message, |projection| {
            format!("{projection:?}")
        });
        self
    }

    /// Expects a failure with this gRPC code, and hands it to `check`.
    #[track_caller]
    pub fn then_error(self, code: tonic::Code, check: impl FnOnce(&ComponentError)) -> Self {
        expect::error(&self.result, code, check, |projection| {
            format!("{projection:?}")
        });
        self
    }
}
