//! Testing process managers without infrastructure: given its own events,
//! when a trigger, then destinations, events, commands and facts.

use std::collections::HashMap;

use angzarr_proto::{
    Any, AnyExt, CommandBook, CommandPage, Cover, EventBook, EventPage, Notification,
    ProcessManagerHandleRequest, ProcessManagerHandleResponse, ProcessManagerPrepareRequest,
    RejectionNotification,
};
use prost::Name;

use super::{runtime, ProcessManager};
use crate::testing::block_on;
use crate::{expect, ComponentError, IntoEvent, IntoEvents};

/// A given/when/then test of one process manager, through exactly the
/// server's code path: [`runtime::prepare`], then [`runtime::handle`] with
/// the process manager's history as `process_state`.
///
/// ```
/// use angzarr_client::prelude::*;
/// use angzarr_client::testing::prelude::*;
/// use angzarr_client::proto::{Cover, Edition, NoOp};
///
/// #[derive(Default)]
/// struct Seen(u32);
///
/// let pm = ProcessManagerRouter::new("tally", Seen::default)
///     .source("table")
///     .target("player")
///     .on(|_: Edition, seen: &Seen| {
///         PmOutput::new()
///             .event(Cover { domain: format!("seen {}", seen.0 + 1), ..Default::default() })
///             .command(Command::new(uuid::Uuid::from_u128(3), NoOp::default()))
///     })
///     .apply(|seen: &mut Seen, _: &Cover| seen.0 += 1);
///
/// ProcessManagerTest::new(pm)
///     .given(Cover { domain: "seen 1".into(), ..Default::default() })
///     .when(Edition::default())
///     .then_event(|event: &Cover| assert_eq!(event.domain, "seen 2"))
///     .then_command(|to: &Cover, _: &NoOp| assert_eq!(to.domain, "player"))
///     .then_state(|seen| assert_eq!(seen.0, 2));
/// ```
pub struct ProcessManagerTest<P: ProcessManager> {
    pm: P,
    trigger: Cover,
    history: Vec<EventPage>,
    destination_sequences: HashMap<String, u32>,
}

impl<P: ProcessManager> ProcessManagerTest<P> {
    /// A test of `pm` with no history, triggered by a fixed aggregate of its
    /// first source domain, in the workflow with correlation id `pm-test`.
    pub fn new(pm: P) -> Self {
        let source = pm
            .sources()
            .first()
            .map_or_else(|| "source".to_owned(), ToString::to_string);
        let trigger =
            Cover::new(source, uuid::Uuid::from_u128(0x7E57)).with_correlation_id("pm-test");
        ProcessManagerTest {
            pm,
            trigger,
            history: Vec::new(),
            destination_sequences: HashMap::new(),
        }
    }

    /// Triggers come from the aggregate `cover` names (its correlation id is the workflow's).
    pub fn from(mut self, cover: Cover) -> Self {
        self.trigger = cover;
        self
    }

    /// Appends one event to the process manager's own history.
    pub fn given(mut self, event: impl IntoEvent) -> Self {
        self.push(event.into_event());
        self
    }

    /// Appends several events to its own history, in order.
    pub fn given_events(mut self, events: impl IntoEvents) -> Self {
        let mut packed = Vec::new();
        events.into_events(&mut packed);
        for event in packed {
            self.push(event);
        }
        self
    }

    /// The coordinator reports `domain`'s next sequence as `sequence`.
    pub fn with_destination_sequence(mut self, domain: impl Into<String>, sequence: u32) -> Self {
        self.destination_sequences.insert(domain.into(), sequence);
        self
    }

    fn push(&mut self, event: Any) {
        let sequence = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
        let mut page = EventPage::new(sequence, event);
        page.created_at = Some(angzarr_proto::time::now());
        self.history.push(page);
    }

    fn process_state(&self) -> Option<EventBook> {
        if self.history.is_empty() {
            return None;
        }
        let root = runtime::process_root(self.pm.name(), &self.trigger.correlation_id);
        Some(EventBook {
            cover: Some(
                Cover::new(self.pm.name(), root)
                    .with_correlation_id(self.trigger.correlation_id.clone()),
            ),
            snapshot: None,
            next_sequence: u32::try_from(self.history.len()).unwrap_or(u32::MAX),
            pages: self.history.clone(),
        })
    }

    /// Delivers one trigger event, blocking until the process manager answers.
    pub fn when(self, event: impl IntoEvent) -> ProcessManagerOutcome<P> {
        block_on(self.when_async(event))
    }

    /// Delivers one trigger event and awaits the answer.
    pub async fn when_async(self, event: impl IntoEvent) -> ProcessManagerOutcome<P> {
        let mut page = EventPage::new(0, event.into_event());
        page.created_at = Some(angzarr_proto::time::now());
        let book = EventBook {
            cover: Some(self.trigger.clone()),
            snapshot: None,
            pages: vec![page],
            next_sequence: 1,
        };
        self.when_book(book).await
    }

    /// Delivers a notification that `rejected` (a command this process
    /// manager sent to `rejecting_domain`) was refused for `reason`.
    pub fn when_rejected<C: Name>(
        self,
        rejecting_domain: &str,
        rejected: C,
        reason: &str,
    ) -> ProcessManagerOutcome<P> {
        let root = runtime::process_root(self.pm.name(), &self.trigger.correlation_id);
        let own = Cover::new(self.pm.name(), root)
            .with_correlation_id(self.trigger.correlation_id.clone());
        let rejection = RejectionNotification {
            rejected_command: Some(CommandBook {
                cover: Some(Cover::new(rejecting_domain, uuid::Uuid::from_u128(0x7AB1E))),
                pages: vec![CommandPage::new(0, Any::pack(&rejected))],
            }),
            rejection_reason: reason.to_owned(),
        };
        let notification = Notification {
            cover: Some(own.clone()),
            payload: Some(Any::pack(&rejection)),
            sent_at: Some(angzarr_proto::time::now()),
            metadata: Default::default(),
        };
        let book = EventBook {
            cover: Some(own),
            snapshot: None,
            pages: vec![EventPage::new(0, Any::pack(&notification))],
            next_sequence: 1,
        };
        block_on(self.when_book(book))
    }

    /// Delivers `trigger` exactly as given: `Prepare`, then `Handle`.
    pub async fn when_book(self, trigger: EventBook) -> ProcessManagerOutcome<P> {
        let process_state = self.process_state();
        let prepared = runtime::prepare(
            &self.pm,
            &ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: process_state.clone(),
            },
        );
        let (destinations, result) = match prepared {
            Err(error) => (Vec::new(), Err(error)),
            Ok(prepared) => {
                let request = ProcessManagerHandleRequest {
                    trigger: Some(trigger),
                    process_state,
                    destination_sequences: self.destination_sequences.clone(),
                };
                let result = runtime::handle(&self.pm, &request).await;
                (prepared.destinations, result)
            }
        };
        ProcessManagerOutcome {
            test: self,
            destinations,
            result,
        }
    }
}

/// What the process manager answered, with assertions that panic with a
/// readable account of what it did.
pub struct ProcessManagerOutcome<P: ProcessManager> {
    test: ProcessManagerTest<P>,
    destinations: Vec<Cover>,
    result: Result<ProcessManagerHandleResponse, ComponentError>,
}

impl<P: ProcessManager> ProcessManagerOutcome<P> {
    /// The raw answer of `Handle`.
    pub fn result(&self) -> &Result<ProcessManagerHandleResponse, ComponentError> {
        &self.result
    }

    /// What `Prepare` answered.
    pub fn destinations(&self) -> &[Cover] {
        &self.destinations
    }

    /// Its own new event pages (empty after a failure).
    pub fn events(&self) -> &[EventPage] {
        match &self.result {
            Ok(response) => response
                .process_events
                .as_ref()
                .map_or(&[], |book| book.pages.as_slice()),
            Err(_) => &[],
        }
    }

    /// The commands sent (empty after a failure).
    pub fn commands(&self) -> &[CommandBook] {
        self.result
            .as_ref()
            .map_or(&[], |response| &response.commands)
    }

    /// The facts sent (empty after a failure).
    pub fn facts(&self) -> &[EventBook] {
        self.result.as_ref().map_or(&[], |response| &response.facts)
    }

    /// Hands the prepared destinations to `check`.
    #[track_caller]
    pub fn then_destinations(self, check: impl FnOnce(&[Cover])) -> Self {
        check(&self.destinations);
        self
    }

    /// Expects exactly one new event of its own, of type `E`, and hands it to `check`.
    #[track_caller]
    pub fn then_event<E: Name + Default>(self, check: impl FnOnce(&E)) -> Self {
        expect::answered(&self.result);
        let events: Vec<&Any> = self.events().iter().filter_map(EventPage::event).collect();
        match events.as_slice() {
            [single] => match single.unpack::<E>() {
                Ok(event) => check(&event),
                Err(error) => panic!("expected one `{}` event: {error}", E::full_name()),
            },
            _ => panic!(
                "expected exactly one `{}` event, the process manager recorded {}: {:?}",
                E::full_name(),
                events.len(),
                events
                    .iter()
                    .map(|event| event.type_name())
                    .collect::<Vec<_>>()
            ),
        }
        self
    }

    /// Expects exactly these new events of its own, in order (compared as
    /// encoded messages).
    #[track_caller]
    pub fn then_events(self, expected: impl IntoEvents) -> Self {
        expect::answered(&self.result);
        let mut packed = Vec::new();
        expected.into_events(&mut packed);
        let actual: Vec<&Any> = self.events().iter().filter_map(EventPage::event).collect();
        if actual.len() != packed.len() || actual.iter().zip(&packed).any(|(a, e)| *a != e) {
            panic!(
                "the process manager recorded other events than expected\nexpected: {:?}\nactual:   {:?}",
                packed.iter().map(|event| event.type_name()).collect::<Vec<_>>(),
                actual.iter().map(|event| event.type_name()).collect::<Vec<_>>()
            );
        }
        self
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

    /// Expects exactly one fact, of type `E`, and hands the target's cover
    /// and the event to `check`.
    #[track_caller]
    pub fn then_fact<E: Name + Default>(self, check: impl FnOnce(&Cover, &E)) -> Self {
        expect::answered(&self.result);
        expect::one_fact(self.facts(), check);
        self
    }

    /// Expects no events, commands or facts.
    #[track_caller]
    pub fn then_nothing(self) -> Self {
        expect::answered(&self.result);
        if !self.events().is_empty() || !self.facts().is_empty() {
            panic!(
                "expected nothing, got {} event(s) and facts:\n{}",
                self.events().len(),
                expect::describe_facts(self.facts())
            );
        }
        expect::command_count(self.commands(), 0);
        self
    }

    /// Rebuilds the state from the given history plus the new events (the
    /// runtime's own rebuild) and hands it to `check`.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&P::State)) -> Self {
        expect::answered(&self.result);
        let mut pages = self.test.history.clone();
        pages.extend(self.events().iter().cloned());
        let book = EventBook {
            pages,
            ..Default::default()
        };
        match runtime::rebuild(&self.test.pm, Some(&book)) {
            Ok(state) => check(&state),
            Err(error) => panic!("the state does not rebuild: {error}"),
        }
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

fn describe(response: &ProcessManagerHandleResponse) -> String {
    let events: Vec<&str> = response
        .process_events
        .iter()
        .flat_map(|book| &book.pages)
        .filter_map(EventPage::event)
        .map(|event| event.type_name())
        .collect();
    format!(
        "events: {events:?}\ncommands:\n{}facts:\n{}",
        expect::describe_commands(&response.commands),
        expect::describe_facts(&response.facts)
    )
}
