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
    let mut effects = Effects::new();
    for delivered in consume::events(source) {
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
    }
    if !effects.events.is_empty() {
        return Err(ComponentError::internal(format!(
            "saga {} produced events of its own; a saga is stateless and emits commands and facts only",
            saga.name()
        )));
    }

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
    Ok(SagaResponse {
        commands: origin.command_books(effects.commands)?,
        events: origin.fact_books(effects.facts)?,
    })
}
