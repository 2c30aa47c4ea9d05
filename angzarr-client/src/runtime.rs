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

use angzarr_proto::{
    business_response, time, Any, AnyExt, BusinessResponse, ContextualCommand, Cover, EventBook,
    EventPage, FactRequest, Notification, PageHeader, RejectionNotification, ReplayRequest,
    ReplayResponse, RevocationResponse, Snapshot,
};

use crate::{Aggregate, AggregateError, CommandContext, MessageName};

/// Decides one ContextualCommand: what `CommandHandlerService.Handle` answers.
pub async fn handle_command<A: Aggregate>(
    aggregate: &A,
    request: &ContextualCommand,
) -> Result<BusinessResponse, AggregateError> {
    let book = request
        .command
        .as_ref()
        .ok_or(AggregateError::NoCommandBook)?;
    let first = book.pages.first().ok_or(AggregateError::NoPages)?;
    let (mut state, next_sequence) = rebuild(aggregate, request.events.as_ref())?;
    let cover = book.cover.as_ref();

    let first_command = first
        .command()
        .ok_or(AggregateError::MissingCommand { page: 0 })?;
    if first_command.is::<Notification>() {
        return compensate(aggregate, first_command, state, cover, next_sequence).await;
    }

    let mut produced = Vec::new();
    for (index, page) in book.pages.iter().enumerate() {
        let command = page
            .command()
            .ok_or(AggregateError::MissingCommand { page: index })?;
        let route = aggregate
            .route(&command.type_url)
            .ok_or_else(|| unknown_command(aggregate, &command.type_url))?;
        let context = CommandContext::new(cover, sequence_after(next_sequence, produced.len()));
        let events = aggregate.handle(route, command, &state, context).await?;
        apply_produced(aggregate, &mut state, &events)?;
        produced.extend(events);
    }
    Ok(events_response(
        aggregate,
        &state,
        cover,
        next_sequence,
        produced,
    ))
}

/// Rebuilds state from a history: the snapshot when present, then every page
/// above it in order. Returns the state and the sequence the next event gets.
pub fn rebuild<A: Aggregate>(
    aggregate: &A,
    history: Option<&EventBook>,
) -> Result<(A::State, u32), AggregateError> {
    let Some(history) = history else {
        return Ok((aggregate.new_state(), 0));
    };
    let mut state = match &history.snapshot {
        Some(snapshot) => restore(aggregate, snapshot)?,
        None => aggregate.new_state(),
    };
    let floor = history.snapshot.as_ref().map(|snapshot| snapshot.sequence);
    apply_pages(aggregate, &mut state, &history.pages, floor)?;
    Ok((state, history.computed_next_sequence()))
}

/// Folds a base snapshot and events into state: what `CommandHandlerService.Replay`
/// answers. Needs an aggregate whose state is a protobuf message.
pub fn replay<A: Aggregate>(
    aggregate: &A,
    request: &ReplayRequest,
) -> Result<ReplayResponse, AggregateError> {
    let unsupported = || AggregateError::ReplayUnsupported {
        aggregate: aggregate.name().to_owned(),
    };
    // Probing with the empty state tells whether state can be packed at all.
    if aggregate.snapshot(&aggregate.new_state()).is_none() {
        return Err(unsupported());
    }
    let mut state = match &request.base_snapshot {
        Some(snapshot) => restore(aggregate, snapshot)?,
        None => aggregate.new_state(),
    };
    let floor = request
        .base_snapshot
        .as_ref()
        .map(|snapshot| snapshot.sequence);
    apply_pages(aggregate, &mut state, &request.events, floor)?;
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

fn restore<A: Aggregate>(aggregate: &A, snapshot: &Snapshot) -> Result<A::State, AggregateError> {
    let packed = snapshot
        .state
        .as_ref()
        .ok_or_else(|| AggregateError::UndecodableSnapshot {
            sequence: snapshot.sequence,
            reason: "the snapshot holds no state".to_owned(),
        })?;
    match aggregate.restore(packed) {
        Some(Ok(state)) => Ok(state),
        Some(Err(AggregateError::UndecodableSnapshot { reason, .. })) => {
            Err(AggregateError::UndecodableSnapshot {
                sequence: snapshot.sequence,
                reason,
            })
        }
        Some(Err(error)) => Err(AggregateError::UndecodableSnapshot {
            sequence: snapshot.sequence,
            reason: error.to_string(),
        }),
        None => Err(AggregateError::SnapshotUnsupported {
            aggregate: aggregate.name().to_owned(),
        }),
    }
}

fn apply_pages<A: Aggregate>(
    aggregate: &A,
    state: &mut A::State,
    pages: &[EventPage],
    floor: Option<u32>,
) -> Result<(), AggregateError> {
    for page in pages {
        let sequence = page.sequence();
        if let (Some(floor), Some(sequence)) = (floor, sequence) {
            if sequence <= floor {
                continue;
            }
        }
        let event = page
            .event()
            .ok_or(AggregateError::MissingEvent { sequence })?;
        if page.is_no_op() {
            continue;
        }
        aggregate
            .apply(state, event)
            .map_err(|error| at_sequence(error, sequence))?;
    }
    Ok(())
}

fn apply_produced<A: Aggregate>(
    aggregate: &A,
    state: &mut A::State,
    events: &[Any],
) -> Result<(), AggregateError> {
    for event in events {
        aggregate.apply(state, event).map_err(|error| {
            AggregateError::Internal(format!(
                "aggregate {} produced an event it cannot apply: {error}",
                aggregate.name()
            ))
        })?;
    }
    Ok(())
}

fn at_sequence(error: AggregateError, at: Option<u32>) -> AggregateError {
    match error {
        AggregateError::UndecodableEvent {
            type_name, reason, ..
        } => AggregateError::UndecodableEvent {
            type_name,
            sequence: at,
            reason,
        },
        other => other,
    }
}

fn sequence_after(next_sequence: u32, produced: usize) -> u32 {
    next_sequence.saturating_add(u32::try_from(produced).unwrap_or(u32::MAX))
}

async fn compensate<A: Aggregate>(
    aggregate: &A,
    packed: &Any,
    mut state: A::State,
    cover: Option<&Cover>,
    next_sequence: u32,
) -> Result<BusinessResponse, AggregateError> {
    let malformed = |reason: String| AggregateError::MalformedNotification { reason };
    let notification = packed
        .unpack::<Notification>()
        .map_err(|error| malformed(error.to_string()))?;
    let payload = notification
        .payload
        .as_ref()
        .ok_or_else(|| malformed("the notification has no payload".to_owned()))?;
    let rejection = payload
        .unpack::<RejectionNotification>()
        .map_err(|error| malformed(error.to_string()))?;

    let rejected = rejection.rejected_command.as_ref();
    let rejected_domain = rejected.map_or("", |book| book.domain());
    let rejected_type = rejected
        .and_then(|book| book.first_page())
        .and_then(|page| page.command())
        .map_or("", |command| command.type_url.as_str());
    let route = aggregate
        .rejections()
        .iter()
        .position(|route| route.domain == rejected_domain && route.command.matches(rejected_type));

    let Some(route) = route else {
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

    let context = CommandContext::new(cover, next_sequence);
    let events = aggregate
        .compensate(route, &rejection, &state, context)
        .await?;
    apply_produced(aggregate, &mut state, &events)?;
    Ok(events_response(
        aggregate,
        &state,
        cover,
        next_sequence,
        events,
    ))
}

fn unknown_command<A: Aggregate>(aggregate: &A, type_url: &str) -> AggregateError {
    let known: Vec<String> = aggregate
        .commands()
        .iter()
        .map(MessageName::to_string)
        .collect();
    AggregateError::UnknownCommand {
        aggregate: aggregate.name().to_owned(),
        domain: aggregate.domain().to_owned(),
        type_url: type_url.to_owned(),
        known: if known.is_empty() {
            "nothing".to_owned()
        } else {
            known.join(", ")
        },
    }
}

/// Stamps produced events (`next_sequence + i`, one creation time, the cover
/// echoed) and adds the new state as a snapshot when the aggregate keeps them.
fn events_response<A: Aggregate>(
    aggregate: &A,
    state: &A::State,
    cover: Option<&Cover>,
    next_sequence: u32,
    events: Vec<Any>,
) -> BusinessResponse {
    let created_at = time::now();
    let count = events.len();
    let pages: Vec<EventPage> = events
        .into_iter()
        .enumerate()
        .map(|(index, event)| EventPage {
            header: Some(PageHeader::at_sequence(sequence_after(
                next_sequence,
                index,
            ))),
            created_at: Some(created_at),
            payload: Some(angzarr_proto::event_page::Payload::Event(event)),
            ..Default::default()
        })
        .collect();
    let snapshot = match pages.last().and_then(EventPage::sequence) {
        Some(last) => aggregate.snapshot(state).map(|packed| Snapshot {
            sequence: last,
            state: Some(packed),
            retention: 0,
        }),
        None => None,
    };
    BusinessResponse {
        result: Some(business_response::Result::Events(EventBook {
            cover: cover.cloned(),
            snapshot,
            pages,
            next_sequence: sequence_after(next_sequence, count),
        })),
    }
}
