//! What a projector handler may know besides the event.

use angzarr_proto::{Cover, DEFAULT_EDITION};

/// The event's circumstances: the aggregate it happened to, its place in
/// that aggregate's history, and whether the call may write anything.
///
/// ```
/// # use angzarr_client::ProjectionContext;
/// fn key(ctx: &ProjectionContext) -> String {
///     let position = ctx.position();
///     format!("{}/{}@{}", position.domain, position.root, position.sequence)
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProjectionContext<'a> {
    cover: &'a Cover,
    root: uuid::Uuid,
    sequence: Option<u32>,
    speculative: bool,
}

/// Where an event sits: enough to recognise it when it is delivered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position<'a> {
    /// The aggregate's domain.
    pub domain: &'a str,
    /// The edition (timeline), `angzarr` for the main one.
    pub edition: &'a str,
    /// The aggregate's root.
    pub root: uuid::Uuid,
    /// The event's sequence in that aggregate's history.
    pub sequence: u32,
}

impl<'a> ProjectionContext<'a> {
    /// A context for the page at `sequence` of the book covered by `cover`.
    pub fn new(cover: &'a Cover, sequence: Option<u32>, speculative: bool) -> Self {
        Self::with_root(
            cover,
            cover.root_uuid().unwrap_or_default(),
            sequence,
            speculative,
        )
    }

    /// [`new`](Self::new) with the cover's root already read (once per book).
    pub(crate) fn with_root(
        cover: &'a Cover,
        root: uuid::Uuid,
        sequence: Option<u32>,
        speculative: bool,
    ) -> Self {
        ProjectionContext {
            cover,
            root,
            sequence,
            speculative,
        }
    }

    /// The book's cover.
    pub fn cover(&self) -> &'a Cover {
        self.cover
    }

    /// The aggregate's domain.
    pub fn domain(&self) -> &'a str {
        &self.cover.domain
    }

    /// The aggregate's root (the nil UUID if the cover carried a malformed one).
    pub fn root(&self) -> uuid::Uuid {
        self.root
    }

    /// The correlation id of the conversation the event belongs to.
    pub fn correlation_id(&self) -> &'a str {
        &self.cover.correlation_id
    }

    /// The edition (timeline) the event happened on.
    pub fn edition(&self) -> &'a str {
        match &self.cover.edition {
            Some(edition) if !edition.name.is_empty() => &edition.name,
            _ => DEFAULT_EDITION,
        }
    }

    /// The event's sequence (absent only for pages the coordinator has not
    /// sequenced).
    pub fn sequence(&self) -> Option<u32> {
        self.sequence
    }

    /// The event's position, for idempotent read models: store it with the
    /// rows it produced, and skip events at or below it.
    pub fn position(&self) -> Position<'a> {
        Position {
            domain: &self.cover.domain,
            edition: self.edition(),
            root: self.root,
            sequence: self.sequence.unwrap_or(0),
        }
    }

    /// Whether this is `HandleSpeculative`: compute the answer, write nothing.
    pub fn is_speculative(&self) -> bool {
        self.speculative
    }
}
