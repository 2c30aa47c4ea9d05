//! The aggregate runtime: one code path from a request to a response, shared
//! by the gRPC server, the test fixture and any custom host.
//!
//! - [`handle_command`]: rebuild state from the history, dispatch each command
//!   page, stamp the produced events, answer a compensation notification;
//!   [`handle_encoded`] does the same from the request's bytes, reading the
//!   history in place (what the gRPC server runs);
//! - [`rebuild`]: snapshot, then the pages above it, skipping `angzarr.NoOp`
//!   placeholders and event types the aggregate does not know;
//! - [`replay`]: fold a snapshot and events into state, returned as an `Any`;
//! - [`handle_fact`]: facts are returned unchanged.
//!
//! Requests are only borrowed: nothing here mutates what it was given.
//! Sequences are checked, not saturated: a history that has used the last
//! `u32` sequence answers OUT_OF_RANGE instead of repeating one.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use angzarr_proto::view::{ContextualCommandView, HistoryView};
use angzarr_proto::{
    business_response, Any, AnyExt, BusinessResponse, CommandBook, ContextualCommand, Cover,
    EventBook, EventPage, FactRequest, NoOp, Notification, ReplayRequest, ReplayResponse,
    RevocationResponse, Snapshot,
};

use super::{Aggregate, CommandContext};
use crate::history::{self, reported_sequence};
use crate::{consume, ComponentError, ComponentErrorKind, MessageName};

/// Decides one ContextualCommand: what `CommandHandlerService.Handle` answers.
pub async fn handle_command<A: Aggregate>(
    aggregate: &A,
    request: &ContextualCommand,
) -> Result<BusinessResponse, ComponentError> {
    let book = command_book(request.command.as_ref())?;
    let (state, next) = rebuild_from(aggregate, request.events.as_ref())?;
    let mut response = decide(aggregate, book, state, next).await?;
    echo_cover(&mut response, book.cover.clone());
    Ok(response)
}

/// Decides one encoded ContextualCommand, as it arrived: the history is read
/// in place ([`ContextualCommandView`]), each event decoded straight from the
/// request's bytes, only when the aggregate applies its type. Answers exactly
/// as [`handle_command`] on the decoded request.
pub async fn handle_encoded<A: Aggregate>(
    aggregate: &A,
    request: &[u8],
) -> Result<BusinessResponse, ComponentError> {
    Received::read(request)?.handle(aggregate).await
}

/// A ContextualCommand as it arrived: read in place, or decoded in full
/// when its shape is unusual.
pub(crate) enum Received<'a> {
    InPlace(ContextualCommandView<'a>),
    Decoded(ContextualCommand),
}

impl<'a> Received<'a> {
    /// Reads `request`; INVALID_ARGUMENT when it is not a ContextualCommand.
    pub(crate) fn read(request: &'a [u8]) -> Result<Self, ComponentError> {
        if let Some(view) = ContextualCommandView::read(request) {
            return Ok(Received::InPlace(view));
        }
        <ContextualCommand as prost::Message>::decode(request)
            .map(Received::Decoded)
            .map_err(|error| {
                ComponentErrorKind::UndecodableRequest {
                    request: "ContextualCommand",
                    reason: error.to_string(),
                }
                .into()
            })
    }

    /// The command book, if there is one.
    pub(crate) fn command(&self) -> Option<&CommandBook> {
        match self {
            Received::InPlace(view) => view.command.as_ref(),
            Received::Decoded(request) => request.command.as_ref(),
        }
    }

    /// Decides it at once, for an aggregate whose handlers never await
    /// ([`Aggregate::synchronous`]).
    pub(crate) fn handle_now<A: Aggregate>(
        self,
        aggregate: &A,
    ) -> Result<BusinessResponse, ComponentError> {
        at_once(aggregate, self.handle(aggregate))
    }

    /// Decides it.
    pub(crate) async fn handle<A: Aggregate>(
        self,
        aggregate: &A,
    ) -> Result<BusinessResponse, ComponentError> {
        let view = match self {
            // Boxed: a rare path whose future would otherwise widen every call's.
            Received::Decoded(request) => {
                return Box::pin(handle_command(aggregate, &request)).await
            }
            Received::InPlace(view) => view,
        };
        let book = command_book(view.command.as_ref())?;
        let (state, next) = match &view.events {
            None => (aggregate.new_state(), 0),
            Some(history) => {
                let state = fold_view(aggregate, history)?;
                let next = match (history.last_sequence(), &history.snapshot) {
                    (Some(last), _) => u64::from(last) + 1,
                    (None, Some(snapshot)) => u64::from(snapshot.sequence) + 1,
                    (None, None) => 0,
                };
                (state, next)
            }
        };
        let mut response = decide(aggregate, book, state, next).await?;
        // The request is ours: its cover moves into the answer.
        echo_cover(&mut response, view.command.and_then(|book| book.cover));
        Ok(response)
    }
}

/// The outcome of `work` done by an aggregate whose handlers never await
/// ([`Aggregate::synchronous`]): the future lives on the stack and is polled
/// once, nothing allocated for it. INTERNAL if it is not ready.
pub(crate) fn at_once<A: Aggregate, T>(
    aggregate: &A,
    work: impl Future<Output = Result<T, ComponentError>>,
) -> Result<T, ComponentError> {
    match pin!(work).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => Err(ComponentError::internal(format!(
            "aggregate {} declares itself synchronous, but a handler awaited",
            aggregate.name()
        ))),
    }
}

/// Sets the answer's events' cover: the command's, echoed, with the main
/// timeline named where the command named no edition, so that published
/// books always say which timeline they are on (as the seed's aggregates do).
fn echo_cover(response: &mut BusinessResponse, cover: Option<Cover>) {
    if let Some(business_response::Result::Events(book)) = &mut response.result {
        book.cover = cover.map(|cover| cover.or_edition(angzarr_proto::DEFAULT_EDITION));
    }
}

fn command_book(book: Option<&CommandBook>) -> Result<&CommandBook, ComponentError> {
    let book = book.ok_or_else(|| ComponentError::from(ComponentErrorKind::NoCommandBook))?;
    if book.pages.is_empty() {
        return Err(ComponentErrorKind::NoPages.into());
    }
    Ok(book)
}

/// Dispatches each command page of `book` against `state` (the history's)
/// and answers with the stamped events (their cover left to the caller), or
/// the compensation's answer.
async fn decide<A: Aggregate>(
    aggregate: &A,
    book: &CommandBook,
    mut state: A::State,
    next: u64,
) -> Result<BusinessResponse, ComponentError> {
    let cover = book.cover.as_ref();
    let first_command = book
        .pages
        .first()
        .and_then(|page| page.command())
        .ok_or_else(|| ComponentError::from(ComponentErrorKind::MissingCommand { page: 0 }))?;
    if first_command.is::<Notification>() {
        // Boxed: a rare path whose future would otherwise widen every call's.
        return Box::pin(compensate(aggregate, first_command, state, cover, next)).await;
    }

    let mut produced = Vec::new();
    for (index, page) in book.pages.iter().enumerate() {
        let command = page.command().ok_or_else(|| {
            ComponentError::from(ComponentErrorKind::MissingCommand { page: index })
        })?;
        let route = aggregate
            .route(&command.type_url)
            .ok_or_else(|| unknown_command(aggregate, &command.type_url))?;
        let context = CommandContext::new(cover, reported_sequence(next, produced.len()));
        let events = aggregate
            .handle_and_apply(route, command, &mut state, context)
            .await?;
        produced.extend(events);
    }
    events_response(aggregate, &state, next, produced)
}

/// Folds a history read in place: the snapshot, then each page above it,
/// decoded from the request's bytes (through the upcaster when it knows the
/// type).
fn fold_view<A: Aggregate>(
    aggregate: &A,
    history: &HistoryView<'_>,
) -> Result<A::State, ComponentError> {
    let mut state = starting_state(aggregate, history.snapshot.as_ref())?;
    let floor = history.snapshot.as_ref().map(|snapshot| snapshot.sequence);
    for page in &history.pages {
        let sequence = page.sequence;
        if let (Some(floor), Some(sequence)) = (floor, sequence) {
            if sequence <= floor {
                continue;
            }
        }
        let event = page
            .event
            .ok_or_else(|| ComponentError::from(ComponentErrorKind::MissingEvent { sequence }))?;
        if angzarr_proto::type_url::matches::<NoOp>(event.type_url) {
            continue;
        }
        let applied = if aggregate.upcasts(event.type_url) {
            let packed = crate::decode::packed(event.type_url, event.value);
            aggregate
                .upcast(&packed)
                .and_then(|current| aggregate.apply(&mut state, &current))
        } else {
            aggregate.apply_encoded(&mut state, event.type_url, event.value)
        };
        applied.map_err(|error| error.at_sequence(sequence))?;
    }
    Ok(state)
}

/// Rebuilds state from a history: the snapshot when present, then every page
/// above it in order. Returns the state and the sequence the next event gets
/// (`u32::MAX` once the history has used the last sequence; commands then
/// answer OUT_OF_RANGE).
pub fn rebuild<A: Aggregate>(
    aggregate: &A,
    history: Option<&EventBook>,
) -> Result<(A::State, u32), ComponentError> {
    let (state, next) = rebuild_from(aggregate, history)?;
    Ok((state, reported_sequence(next, 0)))
}

fn rebuild_from<A: Aggregate>(
    aggregate: &A,
    history: Option<&EventBook>,
) -> Result<(A::State, u64), ComponentError> {
    let Some(history) = history else {
        return Ok((aggregate.new_state(), 0));
    };
    let state = fold(aggregate, history.snapshot.as_ref(), &history.pages)?;
    Ok((state, history::next_after(history)))
}

/// Folds a base snapshot and events into state: what `CommandHandlerService.Replay`
/// answers. Needs an aggregate whose state is a protobuf message.
pub fn replay<A: Aggregate>(
    aggregate: &A,
    request: &ReplayRequest,
) -> Result<ReplayResponse, ComponentError> {
    let unsupported = || {
        ComponentError::from(ComponentErrorKind::ReplayUnsupported {
            aggregate: aggregate.name().to_owned(),
        })
    };
    // Probing with the empty state tells whether state can be packed at all.
    if aggregate.snapshot(&aggregate.new_state()).is_none() {
        return Err(unsupported());
    }
    let state = fold(aggregate, request.base_snapshot.as_ref(), &request.events)?;
    let packed = aggregate.snapshot(&state).ok_or_else(unsupported)?;
    Ok(ReplayResponse {
        state: Some(packed),
    })
}

/// Answers `CommandHandlerService.HandleFact`: facts are recorded as given;
/// the coordinator assigns their sequences.
pub fn handle_fact(request: FactRequest) -> EventBook {
    request.facts.unwrap_or_default()
}

/// State from `snapshot` (or empty), then the `pages` above it, each upcast
/// and applied.
fn fold<A: Aggregate>(
    aggregate: &A,
    snapshot: Option<&Snapshot>,
    pages: &[EventPage],
) -> Result<A::State, ComponentError> {
    let mut state = starting_state(aggregate, snapshot)?;
    let floor = snapshot.map(|snapshot| snapshot.sequence);
    history::fold_pages(pages, floor, |event| {
        let event = aggregate.upcast(event)?;
        aggregate.apply(&mut state, &event).map(drop)
    })?;
    Ok(state)
}

/// The state a history starts from: its snapshot's, or the empty state.
fn starting_state<A: Aggregate>(
    aggregate: &A,
    snapshot: Option<&Snapshot>,
) -> Result<A::State, ComponentError> {
    match snapshot {
        Some(snapshot) => history::restore_snapshot(
            || format!("aggregate {}", aggregate.name()),
            snapshot,
            |packed| aggregate.restore(packed),
        ),
        None => Ok(aggregate.new_state()),
    }
}

fn apply_produced<A: Aggregate>(
    aggregate: &A,
    state: &mut A::State,
    events: &[Any],
) -> Result<(), ComponentError> {
    for event in events {
        aggregate
            .apply(state, event)
            .map_err(|error| unappliable(aggregate.name(), &error))?;
    }
    Ok(())
}

/// An event a handler produced that its own aggregate cannot apply.
pub(crate) fn unappliable(aggregate: &str, error: &ComponentError) -> ComponentError {
    ComponentError::internal(format!(
        "aggregate {aggregate} produced an event it cannot apply: {error}"
    ))
}

async fn compensate<A: Aggregate>(
    aggregate: &A,
    packed: &Any,
    mut state: A::State,
    cover: Option<&Cover>,
    next: u64,
) -> Result<BusinessResponse, ComponentError> {
    let rejection = consume::unpack_rejection(packed)?;
    let Some(route) = consume::rejection_route(aggregate.rejections(), &rejection) else {
        let (rejected_domain, rejected_type) = consume::rejected_command(&rejection);
        let reason = format!(
            "aggregate {} (domain {}) has no compensation for rejected command `{}` of domain {}: {}",
            aggregate.name(),
            aggregate.domain(),
            angzarr_proto::type_url::type_name(rejected_type),
            rejected_domain,
            rejection.rejection_reason
        );
        return Ok(BusinessResponse {
            result: Some(business_response::Result::Revocation(RevocationResponse {
                emit_system_revocation: true,
                reason,
                ..Default::default()
            })),
        });
    };

    // Decoded above: `unpack_rejection` succeeded on the same bytes.
    let notification = packed.unpack::<Notification>().unwrap_or_default();
    let context =
        CommandContext::new(cover, reported_sequence(next, 0)).with_notification(&notification);
    let events = aggregate
        .compensate(route, &rejection, &state, context)
        .await?;
    apply_produced(aggregate, &mut state, &events)?;
    events_response(aggregate, &state, next, events)
}

fn unknown_command<A: Aggregate>(aggregate: &A, type_url: &str) -> ComponentError {
    let known: Vec<String> = aggregate
        .commands()
        .iter()
        .map(MessageName::to_string)
        .collect();
    ComponentError::from(ComponentErrorKind::UnknownCommand {
        aggregate: aggregate.name().to_owned(),
        domain: aggregate.domain().to_owned(),
        type_url: crate::observe::clip(type_url).into_owned(),
        known: if known.is_empty() {
            "nothing".to_owned()
        } else {
            known.join(", ")
        },
    })
}

/// Stamps produced events (`next + i`, one creation time) and adds the new
/// state as a snapshot when the aggregate keeps them and its policy says one
/// is due (asked before the state is packed); the caller echoes the cover.
fn events_response<A: Aggregate>(
    aggregate: &A,
    state: &A::State,
    next: u64,
    events: Vec<Any>,
) -> Result<BusinessResponse, ComponentError> {
    let count = events.len();
    let pages = history::stamp(events, next)?;
    let first = pages.first().and_then(|page| page.sequence());
    let snapshot = match (first, pages.last().and_then(|page| page.sequence())) {
        (Some(first), Some(last)) if aggregate.snapshot_due(state, first, last) => {
            aggregate.snapshot(state).map(|packed| Snapshot {
                sequence: last,
                state: Some(packed),
                retention: 0,
            })
        }
        _ => None,
    };
    Ok(BusinessResponse {
        result: Some(business_response::Result::Events(EventBook {
            cover: None,
            snapshot,
            pages,
            next_sequence: reported_sequence(next, count),
        })),
    })
}
