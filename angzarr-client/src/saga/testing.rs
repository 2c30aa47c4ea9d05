//! Testing sagas without infrastructure: when an event, then commands to
//! whom, with what.

use std::collections::HashMap;

use angzarr_proto::{CommandBook, Cover, EventBook, SagaHandleRequest, SagaResponse};
use prost::Name;

use super::{runtime, Saga};
use crate::testing::block_on;
use crate::{expect, ComponentError, IntoEvent, IntoEvents};

/// A when/then test of one saga, through exactly the server's code path
/// ([`runtime::handle`]).
///
/// ```
/// use angzarr_client::prelude::*;
/// use angzarr_client::testing::prelude::*;
/// use angzarr_client::proto::{Cover, Edition};
///
/// // Any protobuf messages will do as events and commands here.
/// let saga = SagaRouter::new("saga-echo", "table")
///     .target("player")
///     .on(|event: Edition| Command::new(uuid::Uuid::from_u128(7), Cover {
///         domain: event.name,
///         ..Default::default()
///     }));
///
/// SagaTest::new(saga)
///     .when(Edition { name: "seated".into(), ..Default::default() })
///     .then_command(|to: &Cover, command: &Cover| {
///         assert_eq!(to.domain, "player");
///         assert_eq!(to.correlation_id, "saga-test");
///         assert_eq!(command.domain, "seated");
///     });
/// ```
pub struct SagaTest<S: Saga> {
    saga: S,
    source: Cover,
    first_sequence: u32,
    destination_sequences: HashMap<String, u32>,
}

impl<S: Saga> SagaTest<S> {
    /// A test of `saga`, with events from a fixed aggregate of its source
    /// domain and correlation id `saga-test`.
    pub fn new(saga: S) -> Self {
        let source = Cover::new(saga.source(), uuid::Uuid::from_u128(0x5A6A))
            .with_correlation_id("saga-test");
        SagaTest {
            saga,
            source,
            first_sequence: 0,
            destination_sequences: HashMap::new(),
        }
    }

    /// Events come from the aggregate `cover` names instead.
    pub fn with_source(mut self, cover: Cover) -> Self {
        self.source = cover;
        self
    }

    /// The first event delivered has this sequence (default 0).
    pub fn at_sequence(mut self, sequence: u32) -> Self {
        self.first_sequence = sequence;
        self
    }

    /// The coordinator reports `domain`'s next sequence as `sequence`.
    pub fn with_destination_sequence(mut self, domain: impl Into<String>, sequence: u32) -> Self {
        self.destination_sequences.insert(domain.into(), sequence);
        self
    }

    /// Delivers one event, blocking until the saga answers.
    pub fn when(self, event: impl IntoEvent) -> SagaOutcome {
        block_on(self.when_async(event))
    }

    /// Delivers one event and awaits the answer.
    pub async fn when_async(self, event: impl IntoEvent) -> SagaOutcome {
        let book = self.book(vec![event.into_event()]);
        self.when_book(book).await
    }

    /// Delivers several events as one book (one command's new pages).
    pub fn when_events(self, events: impl IntoEvents) -> SagaOutcome {
        let mut packed = Vec::new();
        events.into_events(&mut packed);
        let book = self.book(packed);
        block_on(self.when_book(book))
    }

    /// Delivers `book` exactly as given.
    pub async fn when_book(self, book: EventBook) -> SagaOutcome {
        let request = SagaHandleRequest {
            source: Some(book),
            destination_sequences: self.destination_sequences,
            ..Default::default()
        };
        SagaOutcome {
            result: runtime::handle(&self.saga, &request).await,
        }
    }

    fn book(&self, events: Vec<angzarr_proto::Any>) -> EventBook {
        crate::testing::book_of(&self.source, self.first_sequence, events)
    }
}

/// What the saga answered, with assertions that panic with a readable
/// account of what was sent.
#[derive(Debug)]
pub struct SagaOutcome {
    result: Result<SagaResponse, ComponentError>,
}

impl SagaOutcome {
    /// The raw answer.
    pub fn result(&self) -> &Result<SagaResponse, ComponentError> {
        &self.result
    }

    /// The commands sent (empty after a failure).
    pub fn commands(&self) -> &[CommandBook] {
        self.result
            .as_ref()
            .map_or(&[], |response| &response.commands)
    }

    /// The facts sent (empty after a failure).
    pub fn facts(&self) -> &[EventBook] {
        self.result
            .as_ref()
            .map_or(&[], |response| &response.events)
    }

    /// Expects exactly one command, of type `C`, and hands the target's
    /// cover and the command to `check`.
    #[track_caller]
    pub fn then_command<C: Name + Default>(self, check: impl FnOnce(&Cover, &C)) -> Self {
        expect::answered(&self.result);
        expect::one_command(self.commands(), check);
        self
    }

    /// Expects exactly `count` commands.
    #[track_caller]
    pub fn then_command_count(self, count: usize) -> Self {
        expect::answered(&self.result);
        expect::command_count(self.commands(), count);
        self
    }

    /// Expects no commands and no facts.
    #[track_caller]
    pub fn then_nothing(self) -> Self {
        expect::answered(&self.result);
        expect::command_count(self.commands(), 0);
        if !self.facts().is_empty() {
            panic!(
                "expected no facts, got:\n{}",
                expect::describe_facts(self.facts())
            );
        }
        self
    }

    /// Expects exactly one fact, of type `E`, and hands the target's cover
    /// and the event to `check`.
    #[track_caller]
    pub fn then_fact<E: Name + Default>(self, check: impl FnOnce(&Cover, &E)) -> Self {
        expect::answered(&self.result);
        expect::one_fact(self.facts(), check);
        self
    }

    /// Expects a rejection with exactly this message.
    #[track_caller]
    pub fn then_rejected(self, message: &str) -> Self {
        expect::rejected(&self.result, message, describe);
        self
    }

    /// Expects a failure with this gRPC code, and hands it to `check`.
    #[track_caller]
    pub fn then_error(self, code: tonic::Code, check: impl FnOnce(&ComponentError)) -> Self {
        expect::error(&self.result, code, check, describe);
        self
    }
}

fn describe(response: &SagaResponse) -> String {
    format!(
        "commands:\n{}facts:\n{}",
        expect::describe_commands(&response.commands),
        expect::describe_facts(&response.events)
    )
}
