//! Testing aggregates without infrastructure: given some history, when a
//! command arrives, then expect events, a rejection or a state.
//!
//! [`AggregateTest`] runs exactly the server's code path
//! ([`runtime::handle_command`]), wire
//! encoding included: events are packed into `Any`s, stamped, and decoded
//! again when state is rebuilt.

use std::fmt::Write as _;

use angzarr_proto::{
    business_response, AnyExt, BusinessResponse, CommandBook, CommandPage, ContextualCommand,
    Cover, EventBook, EventPage, Notification, RejectionNotification,
};
use prost::Name;

use super::{runtime, Aggregate};
use crate::testing::block_on;
use crate::{
    ComponentError, ComponentErrorKind, HandlerOutput, IntoEvent, IntoEvents, RejectionKind,
};

/// A given/when/then test of one aggregate.
///
/// ```
/// # use angzarr_client::prelude::*;
/// # use angzarr_client::testing::prelude::*;
/// # use angzarr_client::proto::{Cover, NoOp};
/// # #[derive(Default)] struct S;
/// # #[derive(Default)] struct Agg;
/// # #[aggregate(domain = "d", state = S)]
/// # impl Agg {
/// #     #[handles(Cover)]
/// #     fn go(&self, cmd: Cover) -> Result<NoOp, Rejection> {
/// #         require_not_empty(&cmd.domain, "domain")?;
/// #         Ok(NoOp::default())
/// #     }
/// # }
/// AggregateTest::new(Agg)
///     .when(Cover::default())
///     .then_rejected("domain is required");
/// ```
pub struct AggregateTest<A: Aggregate> {
    aggregate: A,
    cover: Cover,
    history: Vec<EventPage>,
}

impl<A: Aggregate> AggregateTest<A> {
    /// A test of `aggregate` with no history, addressed to a fixed root of
    /// its domain.
    pub fn new(aggregate: A) -> Self {
        let cover = Cover::new(aggregate.domain(), uuid::Uuid::from_u128(0xA66_2A22))
            .with_correlation_id("aggregate-test");
        AggregateTest {
            aggregate,
            cover,
            history: Vec::new(),
        }
    }

    /// Addresses the command with `cover` instead.
    pub fn with_cover(mut self, cover: Cover) -> Self {
        self.cover = cover;
        self
    }

    /// Appends one event to the history.
    pub fn given(mut self, event: impl IntoEvent) -> Self {
        self.push(event.into_event());
        self
    }

    /// Appends several events to the history, in order.
    pub fn given_events(mut self, events: impl IntoEvents) -> Self {
        let mut packed = Vec::new();
        events.into_events(&mut packed);
        for event in packed {
            self.push(event);
        }
        self
    }

    fn push(&mut self, event: angzarr_proto::Any) {
        let sequence = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
        let mut page = EventPage::new(sequence, event);
        page.created_at = Some(angzarr_proto::time::now());
        self.history.push(page);
    }

    fn history_book(&self) -> EventBook {
        EventBook {
            cover: Some(self.cover.clone()),
            snapshot: None,
            next_sequence: u32::try_from(self.history.len()).unwrap_or(u32::MAX),
            pages: self.history.clone(),
        }
    }

    /// Sends `command`, blocking until the aggregate answers. Handlers that
    /// await a runtime's timers or I/O need [`when_async`](Self::when_async).
    pub fn when<C: Name>(self, command: C) -> AggregateOutcome<A> {
        block_on(self.when_async(command))
    }

    /// Sends `command` and awaits the answer.
    pub async fn when_async<C: Name>(self, command: C) -> AggregateOutcome<A> {
        let packed = angzarr_proto::Any::pack(&command);
        self.send(packed).await
    }

    /// Delivers a notification that `rejected` (a command sent to
    /// `rejecting_domain`) was rejected for `reason`, as the coordinator does
    /// for compensation.
    pub fn when_rejected<C: Name>(
        self,
        rejecting_domain: &str,
        rejected: C,
        reason: &str,
    ) -> AggregateOutcome<A> {
        let rejection = RejectionNotification {
            rejected_command: Some(CommandBook {
                cover: Some(Cover::new(rejecting_domain, uuid::Uuid::from_u128(0x7AB1E))),
                pages: vec![CommandPage::new(0, angzarr_proto::Any::pack(&rejected))],
            }),
            rejection_reason: reason.to_owned(),
        };
        let notification = Notification {
            cover: Some(self.cover.clone()),
            payload: Some(angzarr_proto::Any::pack(&rejection)),
            sent_at: Some(angzarr_proto::time::now()),
            metadata: Default::default(),
        };
        block_on(self.send(angzarr_proto::Any::pack(&notification)))
    }

    async fn send(self, command: angzarr_proto::Any) -> AggregateOutcome<A> {
        let request = ContextualCommand {
            events: Some(self.history_book()),
            command: Some(CommandBook {
                cover: Some(self.cover.clone()),
                pages: vec![CommandPage::new(
                    u32::try_from(self.history.len()).unwrap_or(u32::MAX),
                    command,
                )],
            }),
        };
        let result = runtime::handle_command(&self.aggregate, &request).await;
        AggregateOutcome { test: self, result }
    }
}

/// What the aggregate answered, with assertions that panic with a readable
/// account of what was expected and what happened.
pub struct AggregateOutcome<A: Aggregate> {
    test: AggregateTest<A>,
    result: Result<BusinessResponse, ComponentError>,
}

impl<A: Aggregate> AggregateOutcome<A> {
    /// The raw answer.
    pub fn result(&self) -> &Result<BusinessResponse, ComponentError> {
        &self.result
    }

    /// The produced event pages (empty after a rejection or revocation).
    pub fn pages(&self) -> &[EventPage] {
        match &self.result {
            Ok(BusinessResponse {
                result: Some(business_response::Result::Events(book)),
            }) => &book.pages,
            _ => &[],
        }
    }

    /// Expects exactly these events, in order (compared as encoded messages):
    /// one event, a tuple, or a `Vec` of [`Event`](crate::Event)s.
    #[track_caller]
    pub fn then_events<Shape>(self, expected: impl HandlerOutput<Shape>) -> Self {
        let expected_packed = match expected.into_output() {
            Ok(events) => events,
            Err(rejection) => panic!("then_events takes events, not the rejection {rejection}"),
        };
        let actual: Vec<&angzarr_proto::Any> =
            self.pages().iter().filter_map(EventPage::event).collect();
        let same = actual.len() == expected_packed.len()
            && actual.iter().zip(&expected_packed).all(|(a, e)| *a == e);
        if !same {
            let mut report = String::from("the aggregate produced other events than expected\n");
            let _ = writeln!(report, "expected:");
            self.render(&mut report, expected_packed.iter());
            let _ = writeln!(report, "actual:");
            self.render(&mut report, actual.into_iter());
            self.append_failure(&mut report);
            panic!("{report}");
        }
        self
    }

    /// Expects exactly one event, of type `E`, and hands it to `check`.
    #[track_caller]
    pub fn then_event<E: Name + Default>(self, check: impl FnOnce(&E)) -> Self {
        let events: Vec<_> = self.pages().iter().filter_map(EventPage::event).collect();
        match events.as_slice() {
            [single] => match single.unpack::<E>() {
                Ok(event) => check(&event),
                Err(error) => panic!("expected one `{}` event: {error}", E::full_name()),
            },
            _ => {
                let mut report = format!(
                    "expected exactly one `{}` event, the aggregate produced {}:\n",
                    E::full_name(),
                    events.len()
                );
                self.render(&mut report, events.into_iter());
                self.append_failure(&mut report);
                panic!("{report}");
            }
        }
        self
    }

    /// Expects a rejection with exactly this message.
    #[track_caller]
    pub fn then_rejected(self, message: &str) -> Self {
        match self.result.as_ref().map_err(ComponentError::kind) {
            Err(ComponentErrorKind::Rejected(rejection)) if rejection.message() == message => self,
            _ => panic!(
                "expected the rejection {message:?}, {}",
                self.describe_result()
            ),
        }
    }

    /// Expects a rejection of this kind with exactly this message.
    #[track_caller]
    pub fn then_rejected_as(self, kind: RejectionKind, message: &str) -> Self {
        match self.result.as_ref().map_err(ComponentError::kind) {
            Err(ComponentErrorKind::Rejected(rejection))
                if rejection.kind() == kind && rejection.message() == message =>
            {
                self
            }
            _ => panic!(
                "expected the {kind:?} rejection {message:?}, {}",
                self.describe_result()
            ),
        }
    }

    /// Expects a failure other than a rejection (e.g. an undecodable event)
    /// with this gRPC code, and hands the error to `check`.
    #[track_caller]
    pub fn then_error(self, code: tonic::Code, check: impl FnOnce(&ComponentError)) -> Self {
        match &self.result {
            Err(error) if error.code() == code => check(error),
            _ => panic!("expected a {code:?} error, {}", self.describe_result()),
        }
        self
    }

    /// Expects a revocation (no compensation handler matched) and hands its
    /// reason to `check`.
    #[track_caller]
    pub fn then_revoked(self, check: impl FnOnce(&str)) -> Self {
        match &self.result {
            Ok(BusinessResponse {
                result: Some(business_response::Result::Revocation(revocation)),
            }) if revocation.emit_system_revocation => check(&revocation.reason),
            _ => panic!("expected a revocation, {}", self.describe_result()),
        }
        self
    }

    /// Rebuilds the state from the history plus the produced events (the
    /// runtime's own rebuild) and hands it to `check`.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&A::State)) -> Self {
        if let Err(error) = &self.result {
            panic!("expected a state, but the command failed: {error}");
        }
        let mut book = self.test.history_book();
        book.pages.extend(self.pages().iter().cloned());
        match runtime::rebuild(&self.test.aggregate, Some(&book)) {
            Ok((state, _)) => check(&state),
            Err(error) => panic!("the state does not rebuild: {error}"),
        }
        self
    }

    fn describe_result(&self) -> String {
        match &self.result {
            Err(error) => match error.rejection() {
                Some(rejection) => format!(
                    "got the {:?} rejection {:?}",
                    rejection.kind(),
                    rejection.message()
                ),
                None => format!("got the {:?} error: {error}", error.code()),
            },
            Ok(BusinessResponse {
                result: Some(business_response::Result::Revocation(revocation)),
            }) => format!("got a revocation: {}", revocation.reason),
            Ok(_) => {
                let mut text = String::from("got events:\n");
                self.render(&mut text, self.pages().iter().filter_map(EventPage::event));
                text
            }
        }
    }

    fn append_failure(&self, report: &mut String) {
        if let Err(error) = &self.result {
            let _ = writeln!(report, "(the command failed: {error})");
        }
    }

    fn render<'e>(&self, out: &mut String, events: impl Iterator<Item = &'e angzarr_proto::Any>) {
        let mut any = false;
        for (index, event) in events.enumerate() {
            any = true;
            let text = self
                .test
                .aggregate
                .describe_event(event)
                .unwrap_or_else(|| format!("{} ({} bytes)", event.type_url, event.value.len()));
            let _ = writeln!(out, "  {index}: {text}");
        }
        if !any {
            let _ = writeln!(out, "  (none)");
        }
    }
}
