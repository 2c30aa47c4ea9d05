//! The upcaster runtime: `UpcasterService.Upcast`, and the upgrade of one
//! event that aggregates naming an upcaster use while rebuilding.
//!
//! The response holds the same pages in the same order with every field
//! kept (header, `created_at`, `no_commit`, `cascade_id`, external payloads);
//! only a matched event's payload changes. Unmatched pages are moved through
//! untouched: no copy, no allocation. Another domain's request comes back
//! unchanged. A page whose payload does not decode as the matched old type
//! is INVALID_ARGUMENT naming type and sequence.

use std::borrow::Cow;

use angzarr_proto::{event_page, Any, EventPage, PageHeader, UpcastRequest, UpcastResponse};

use super::Upcaster;
use crate::ComponentError;

/// Upgrades `event` through the rules until none matches; borrows it
/// unchanged when no rule applies. A chain longer than the number of rules
/// has gone round in a circle and is an error.
pub fn upcast_event<'e, U: Upcaster>(
    upcaster: &U,
    event: &'e Any,
) -> Result<Cow<'e, Any>, ComponentError> {
    match upcaster.route(&event.type_url) {
        None => Ok(Cow::Borrowed(event)),
        Some(route) => upgrade(upcaster, route, event).map(Cow::Owned),
    }
}

/// Upgrades `event`, which the rule of `route` matches, through every rule
/// that matches what comes out, until none does.
fn upgrade<U: Upcaster>(upcaster: &U, route: usize, event: &Any) -> Result<Any, ComponentError> {
    let mut current = upcaster.upcast(route, event)?;
    for _ in 0..upcaster.sources().len() {
        match upcaster.route(&current.type_url) {
            None => return Ok(current),
            Some(route) => current = upcaster.upcast(route, &current)?,
        }
    }
    Err(ComponentError::internal(format!(
        "upcaster {}: upgrading `{}` never settles; its rules form a cycle",
        upcaster.name(),
        angzarr_proto::type_url::type_name(&event.type_url)
    )))
}

/// Answers `UpcasterService.Upcast`, taking the request by value so that
/// pages no rule matches are moved through untouched.
pub fn upcast<U: Upcaster>(
    upcaster: &U,
    request: UpcastRequest,
) -> Result<UpcastResponse, ComponentError> {
    let mut events = request.events;
    if request.domain != upcaster.domain() {
        return Ok(UpcastResponse { events });
    }
    for page in &mut events {
        let EventPage {
            header, payload, ..
        } = page;
        let Some(event_page::Payload::Event(event)) = payload else {
            continue;
        };
        let Some(route) = upcaster.route(&event.type_url) else {
            continue;
        };
        // The header is read only to name a failing page: upcasting touches
        // nothing but the payloads it rewrites.
        *event = upgrade(upcaster, route, event)
            .map_err(|error| error.at_sequence(header.as_ref().and_then(PageHeader::sequence)))?;
    }
    Ok(UpcastResponse { events })
}
