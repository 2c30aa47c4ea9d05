//! The saga runtime: one code path from a `SagaHandleRequest` to a
//! `SagaResponse`, shared by the gRPC server, the test fixture and any
//! custom host.
//!
//! - books of another domain, and empty books, answer an empty response;
//! - each event page is routed by its type: `angzarr.NoOp` placeholders,
//!   rejection notifications (a saga's rejected commands are compensated by
//!   the source aggregate) and unknown types are skipped;
//! - an undecodable event is INVALID_ARGUMENT naming its type and sequence;
//! - commands become one book each, facts one book each (see
//!   [`Command`](crate::Command), [`Fact`](crate::Fact)).

use angzarr_proto::{SagaHandleRequest, SagaResponse};

use super::{Saga, SagaContext};
use crate::consume;
use crate::effects::wire::Origin;
use crate::{ComponentError, ComponentErrorKind, ComponentKind, Effects};

/// The most command books reserved ahead of a book's handling.
const EXPECTED_BOOKS_CAP: usize = 256;

/// Answers `SagaService.Handle`.
pub async fn handle<S: Saga>(
    saga: &S,
    request: &SagaHandleRequest,
) -> Result<SagaResponse, ComponentError> {
    let source = request.source.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request: "SagaHandleRequest",
            field: "source",
        })
    })?;
    let cover = source.cover.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request: "SagaHandleRequest.source",
            field: "cover",
        })
    })?;
    if cover.domain != saga.source() {
        return Ok(SagaResponse::default());
    }

    let root = cover.root_uuid().unwrap_or_default();
    let source_seq = source.last_sequence().unwrap_or(0);
    let origin = Origin {
        kind: ComponentKind::Saga,
        component: saga.name(),
        targets: saga.targets(),
        source: cover,
        source_seq,
        trigger: cover,
        trigger_seq: source_seq,
    };
    let mut commands = Vec::new();
    let mut effects = Effects::new();
    let pages = source.pages.len();
    for (index, delivered) in consume::events(source).enumerate() {
        if delivered.is_notification() {
            continue;
        }
        let Some(route) = saga.route(&delivered.event.type_url) else {
            continue;
        };
        let sequence = delivered.sequence;
        let context = SagaContext::with_root(cover, root, sequence, &request.destination_sequences);
        saga.handle(route, delivered.event, context, &mut effects)
            .await
            .map_err(|error| error.at_sequence(sequence))?;
        // Each page's commands become books at once: the scratch list
        // stays as short as one page's output, and warm in cache.
        if commands.capacity() == 0 && !effects.commands.is_empty() {
            // Sagas typically answer each event they handle alike: room for
            // that many books up front (bounded, for sagas that handle few
            // of many events), so that they are not moved as the list grows.
            let expected = effects
                .commands
                .len()
                .saturating_mul(pages.saturating_sub(index));
            commands.reserve(expected.min(EXPECTED_BOOKS_CAP));
        }
        origin.add_command_books(effects.commands.drain(..), &mut commands)?;
    }
    if !effects.events.is_empty() {
        return Err(ComponentError::internal(format!(
            "saga {} produced events of its own; a saga is stateless and emits commands and facts only",
            saga.name()
        )));
    }
    Ok(SagaResponse {
        commands,
        events: origin.fact_books(effects.facts)?,
    })
}
