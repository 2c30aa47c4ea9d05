//! The aggregate runtime: one code path from a request to a response, shared
//! by the gRPC server, the test fixture and any custom host.
//!
//! - [`handle_command`]: rebuild state from the history, dispatch each command
//!   page, stamp the produced events, answer a compensation notification;
//! - [`rebuild`]: snapshot, then the pages above it, skipping `angzarr.NoOp`
//!   placeholders and event types the aggregate does not know;
//! - [`replay`]: fold a snapshot and events into state, returned as an `Any`;
//! - [`handle_fact`]: facts are returned unchanged.
//!
//! Requests are only borrowed: nothing here mutates what it was given.
//! Sequences are checked, not saturated: a history that has used the last
//! `u32` sequence answers OUT_OF_RANGE instead of repeating one.

use angzarr_proto::{
    business_response, Any, AnyExt, BusinessResponse, ContextualCommand, Cover, EventBook,
    EventPage, FactRequest, Notification, ReplayRequest, ReplayResponse, RevocationResponse,
    Snapshot,
};

use super::{Aggregate, CommandContext};
use crate::history::{self, reported_sequence};
use crate::{consume, ComponentError, ComponentErrorKind, MessageName};

/// Decides one ContextualCommand: what `CommandHandlerService.Handle` answers.
pub async fn handle_command<A: Aggregate>(
    aggregate: &A,
    request: &ContextualCommand,
) -> Result<BusinessResponse, ComponentError> {
    let book = request
        .command
        .as_ref()
        .ok_or_else(|| ComponentError::from(ComponentErrorKind::NoCommandBook))?;
    let first = book
        .pages
        .first()
        .ok_or_else(|| ComponentError::from(ComponentErrorKind::NoPages))?;
    let (mut state, next) = rebuild_from(aggregate, request.events.as_ref())?;
    let cover = book.cover.as_ref();

    let first_command = first
        .command()
        .ok_or_else(|| ComponentError::from(ComponentErrorKind::MissingCommand { page: 0 }))?;
    if first_command.is::<Notification>() {
        return compensate(aggregate, first_command, state, cover, next).await;
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
        let events = aggregate.handle(route, command, &state, context).await?;
        apply_produced(aggregate, &mut state, &events)?;
        produced.extend(events);
    }
    events_response(aggregate, &state, cover, next, produced)
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
    let mut state = match snapshot {
        Some(snapshot) => history::restore_snapshot(
            || format!("aggregate {}", aggregate.name()),
            snapshot,
            |packed| aggregate.restore(packed),
        )?,
        None => aggregate.new_state(),
    };
    let floor = snapshot.map(|snapshot| snapshot.sequence);
    history::fold_pages(pages, floor, |event| {
        let event = aggregate.upcast(event)?;
        aggregate.apply(&mut state, &event).map(drop)
    })?;
    Ok(state)
}

fn apply_produced<A: Aggregate>(
    aggregate: &A,
    state: &mut A::State,
    events: &[Any],
) -> Result<(), ComponentError> {
    for event in events {
        aggregate.apply(state, event).map_err(|error| {
            ComponentError::internal(format!(
                "aggregate {} produced an event it cannot apply: {error}",
                aggregate.name()
            ))
        })?;
    }
    Ok(())
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

    let context = CommandContext::new(cover, reported_sequence(next, 0));
    let events = aggregate
        .compensate(route, &rejection, &state, context)
        .await?;
    apply_produced(aggregate, &mut state, &events)?;
    events_response(aggregate, &state, cover, next, events)
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

/// Stamps produced events (`next + i`, one creation time, the cover echoed)
/// and adds the new state as a snapshot when the aggregate keeps them.
fn events_response<A: Aggregate>(
    aggregate: &A,
    state: &A::State,
    cover: Option<&Cover>,
    next: u64,
    events: Vec<Any>,
) -> Result<BusinessResponse, ComponentError> {
    let count = events.len();
    let pages = history::stamp(events, next)?;
    let snapshot = match pages.last().and_then(|page| page.sequence()) {
        Some(last) => aggregate.snapshot(state).map(|packed| Snapshot {
            sequence: last,
            state: Some(packed),
            retention: 0,
        }),
        None => None,
    };
    Ok(BusinessResponse {
        result: Some(business_response::Result::Events(EventBook {
            cover: cover.cloned(),
            snapshot,
            pages,
            next_sequence: reported_sequence(next, count),
        })),
    })
}
