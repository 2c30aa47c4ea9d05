//! Reading a delivered book: what sagas, process managers and projectors
//! share.

use angzarr_proto::{Any, EventBook, NoOp, Notification};

use crate::{ComponentError, ComponentErrorKind, MessageName};

const NO_OP: MessageName = MessageName::of::<NoOp>();
const NOTIFICATION: MessageName = MessageName::of::<Notification>();

/// One event of a delivered book.
pub(crate) struct Delivered<'a> {
    /// The page's sequence.
    pub sequence: Option<u32>,
    /// The packed event.
    pub event: &'a Any,
}

impl Delivered<'_> {
    /// Whether it is a rejection notification (`angzarr.Notification`)
    /// rather than a domain event.
    pub fn is_notification(&self) -> bool {
        NOTIFICATION.matches(&self.event.type_url)
    }
}

/// The events of `book` in order: `angzarr.NoOp` placeholders and pages
/// without an inline event are skipped, since there is nothing to react to.
pub(crate) fn events(book: &EventBook) -> impl Iterator<Item = Delivered<'_>> {
    book.pages.iter().filter_map(|page| {
        let event = page.event()?;
        (!NO_OP.matches(&event.type_url)).then(|| Delivered {
            sequence: page.sequence(),
            event,
        })
    })
}

/// The rejection a notification carries: an `angzarr.Notification` whose
/// payload is an `angzarr.RejectionNotification`.
pub(crate) fn unpack_rejection(
    packed: &Any,
) -> Result<angzarr_proto::RejectionNotification, ComponentError> {
    use angzarr_proto::AnyExt;
    let malformed =
        |reason: String| ComponentError::from(ComponentErrorKind::MalformedNotification { reason });
    let notification = packed
        .unpack::<Notification>()
        .map_err(|error| malformed(error.to_string()))?;
    let payload = notification
        .payload
        .as_ref()
        .ok_or_else(|| malformed("the notification has no payload".to_owned()))?;
    payload
        .unpack::<angzarr_proto::RejectionNotification>()
        .map_err(|error| malformed(error.to_string()))
}

/// The rejected command's domain and type URL (empty when absent).
pub(crate) fn rejected_command(rejection: &angzarr_proto::RejectionNotification) -> (&str, &str) {
    let rejected = rejection.rejected_command.as_ref();
    let domain = rejected.map_or("", |book| book.domain());
    let type_url = rejected
        .and_then(|book| book.first_page())
        .and_then(|page| page.command())
        .map_or("", |command| command.type_url.as_str());
    (domain, type_url)
}

/// The `#[rejected]` route answering `rejection`, if any.
pub(crate) fn rejection_route(
    routes: &[crate::RejectionRoute],
    rejection: &angzarr_proto::RejectionNotification,
) -> Option<usize> {
    let (domain, type_url) = rejected_command(rejection);
    routes
        .iter()
        .position(|route| route.domain == domain && route.command.matches(type_url))
}
