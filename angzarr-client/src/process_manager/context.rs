//! What a process-manager handler may know besides the event and its state.

use std::collections::HashMap;

use angzarr_proto::{Cover, DEFAULT_EDITION};

/// A trigger's circumstances: the event's aggregate, the workflow it belongs
/// to, and where the destinations stand.
///
/// Take it as a `&PmContext` parameter of a `#[handles]` or `#[rejected]` method:
///
/// ```
/// # use angzarr_client::PmContext;
/// fn describe(ctx: &PmContext) -> String {
///     format!("workflow {} ({}), player at {:?}", ctx.correlation_id(), ctx.process_root(),
///         ctx.destination_sequence("player"))
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PmContext<'a> {
    trigger: &'a Cover,
    process: &'a Cover,
    sequence: Option<u32>,
    next_sequence: u32,
    destination_sequences: &'a HashMap<String, u32>,
}

impl<'a> PmContext<'a> {
    /// A context for the page at `sequence` of the trigger book covered by
    /// `trigger`, for the workflow whose own events go under `process`, the
    /// next of which gets `next_sequence`.
    pub fn new(
        trigger: &'a Cover,
        process: &'a Cover,
        sequence: Option<u32>,
        next_sequence: u32,
        destination_sequences: &'a HashMap<String, u32>,
    ) -> Self {
        PmContext {
            trigger,
            process,
            sequence,
            next_sequence,
            destination_sequences,
        }
    }

    /// The triggering book's cover.
    pub fn trigger(&self) -> &'a Cover {
        self.trigger
    }

    /// The triggering aggregate's domain.
    pub fn domain(&self) -> &'a str {
        &self.trigger.domain
    }

    /// The triggering aggregate's root (the nil UUID if malformed).
    pub fn root(&self) -> uuid::Uuid {
        self.trigger.root_uuid().unwrap_or_default()
    }

    /// The correlation id: which workflow this is.
    pub fn correlation_id(&self) -> &'a str {
        &self.trigger.correlation_id
    }

    /// The edition (timeline) the trigger happened on.
    pub fn edition(&self) -> &'a str {
        match &self.trigger.edition {
            Some(edition) if !edition.name.is_empty() => &edition.name,
            _ => DEFAULT_EDITION,
        }
    }

    /// The sequence of the triggering page.
    pub fn sequence(&self) -> Option<u32> {
        self.sequence
    }

    /// The cover the process manager's own events are stored under.
    pub fn process(&self) -> &'a Cover {
        self.process
    }

    /// The root of the process manager's own history.
    pub fn process_root(&self) -> uuid::Uuid {
        self.process.root_uuid().unwrap_or_default()
    }

    /// The sequence its next own event gets.
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
    }

    /// Whether the workflow has no events of its own yet.
    pub fn is_new(&self) -> bool {
        self.next_sequence == 0
    }

    /// A prepared destination domain's next sequence, as the coordinator
    /// computed it.
    pub fn destination_sequence(&self, domain: &str) -> Option<u32> {
        self.destination_sequences.get(domain).copied()
    }

    /// Every destination sequence the coordinator sent.
    pub fn destination_sequences(&self) -> &'a HashMap<String, u32> {
        self.destination_sequences
    }
}
