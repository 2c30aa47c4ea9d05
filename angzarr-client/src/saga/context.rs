//! What a saga handler may know about the event besides its payload.

use std::collections::HashMap;

use angzarr_proto::{Cover, DEFAULT_EDITION};

/// The event's circumstances: the aggregate it happened to, the
/// conversation it belongs to, and where the destinations stand.
///
/// Take it as a `&SagaContext` parameter of a `#[handles]` method:
///
/// ```
/// # use angzarr_client::SagaContext;
/// fn describe(ctx: &SagaContext) -> String {
///     format!("{}/{} at {:?} ({})", ctx.domain(), ctx.root(), ctx.sequence(), ctx.correlation_id())
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SagaContext<'a> {
    source: &'a Cover,
    root: uuid::Uuid,
    sequence: Option<u32>,
    destination_sequences: &'a HashMap<String, u32>,
}

impl<'a> SagaContext<'a> {
    /// A context for the page at `sequence` of the book covered by `source`.
    pub fn new(
        source: &'a Cover,
        sequence: Option<u32>,
        destination_sequences: &'a HashMap<String, u32>,
    ) -> Self {
        let root = source.root_uuid().unwrap_or_default();
        Self::with_root(source, root, sequence, destination_sequences)
    }

    /// [`new`](Self::new) with the cover's root already read (once per book).
    pub(crate) fn with_root(
        source: &'a Cover,
        root: uuid::Uuid,
        sequence: Option<u32>,
        destination_sequences: &'a HashMap<String, u32>,
    ) -> Self {
        SagaContext {
            source,
            root,
            sequence,
            destination_sequences,
        }
    }

    /// The source book's cover.
    pub fn source(&self) -> &'a Cover {
        self.source
    }

    /// The source aggregate's domain.
    pub fn domain(&self) -> &'a str {
        &self.source.domain
    }

    /// The source aggregate's root (the nil UUID if the cover carried a malformed one).
    pub fn root(&self) -> uuid::Uuid {
        self.root
    }

    /// The correlation id of the conversation, which every command keeps.
    pub fn correlation_id(&self) -> &'a str {
        &self.source.correlation_id
    }

    /// The edition (timeline) the event happened on.
    pub fn edition(&self) -> &'a str {
        match &self.source.edition {
            Some(edition) if !edition.name.is_empty() => &edition.name,
            _ => DEFAULT_EDITION,
        }
    }

    /// The sequence of the page that holds the event.
    pub fn sequence(&self) -> Option<u32> {
        self.sequence
    }

    /// The next sequence of a destination domain, when the coordinator sent
    /// one (the real coordinator sends none to sagas).
    pub fn destination_sequence(&self, domain: &str) -> Option<u32> {
        self.destination_sequences.get(domain).copied()
    }

    /// Every destination sequence the coordinator sent.
    pub fn destination_sequences(&self) -> &'a HashMap<String, u32> {
        self.destination_sequences
    }
}
