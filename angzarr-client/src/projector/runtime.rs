//! The projector runtime: from a delivered book to a `Projection`, shared by
//! the gRPC server, the test fixture and any custom host.
//!
//! - books of `_`-prefixed (framework) domains, of domains the projector does
//!   not consume, and empty books answer a Projection without output;
//! - each event page is routed by type (`angzarr.NoOp` and unknown types are
//!   skipped); an undecodable event is INVALID_ARGUMENT naming its type and
//!   sequence;
//! - the answer is `Projection {cover, projector: name, sequence: the last
//!   page's, projection}` where the projection is the last message a handler
//!   returned, or every [`CloudEvent`](super::CloudEvent) returned, defaulted,
//!   as an `angzarr.CloudEventsResponse`.

use angzarr_proto::{AnyExt, CloudEventsResponse, EventBook, Projection};

use super::{Projected, ProjectionContext, Projector};
use crate::{consume, ComponentError, ComponentErrorKind};

/// Answers `ProjectorService.Handle` (`speculative = false`) and
/// `HandleSpeculative` (`true`, which handlers see in their context).
pub async fn handle<P: Projector>(
    projector: &P,
    book: &EventBook,
    speculative: bool,
) -> Result<Projection, ComponentError> {
    let cover = book.cover.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request: "EventBook",
            field: "cover",
        })
    })?;
    let mut projection = Projection {
        cover: Some(cover.clone()),
        projector: projector.name().to_owned(),
        sequence: book.last_sequence().unwrap_or(0),
        projection: None,
    };
    let consumed = !cover.domain.starts_with('_')
        && projector
            .domains()
            .iter()
            .any(|domain| *domain == cover.domain);
    if !consumed {
        return Ok(projection);
    }

    let root = cover.root_uuid().unwrap_or_default();
    let mut produced = Projected::new();
    let mut cloud_events = Vec::new();
    for delivered in consume::events(book) {
        if delivered.is_notification() {
            continue;
        }
        let Some(route) = projector.route(&delivered.event.type_url) else {
            continue;
        };
        let (sequence, event) = (delivered.sequence, delivered.event);
        let context = ProjectionContext::with_root(cover, root, sequence, speculative);
        projector
            .handle(route, event, context, &mut produced)
            .await
            .map_err(|error| error.at_sequence(sequence))?;
        // Defaults come from the page that produced the CloudEvent.
        for (position, cloud_event) in produced.cloud_events.drain(..).enumerate() {
            cloud_events.push(cloud_event.complete(cover, sequence, event, position));
        }
    }
    let message = produced.projection;
    projection.projection = match (message, cloud_events.is_empty()) {
        (Some(_), false) => {
            return Err(ComponentError::internal(format!(
                "projector {} returned both a projection message and CloudEvents for one book; \
                 a projector answers one or the other",
                projector.name()
            )))
        }
        (Some(message), true) => Some(message),
        (None, false) => Some(angzarr_proto::Any::pack(&CloudEventsResponse {
            events: cloud_events,
        })),
        (None, true) => None,
    };
    Ok(projection)
}
