//! Accessors on covers, books and pages, so that callers need not walk
//! `Option`s and oneofs by hand.
//!
//! ```
//! use angzarr_proto::{Any, AnyExt, Cover, EventBook, EventPage, NoOp};
//!
//! let root = uuid::Uuid::from_u128(7);
//! let book = EventBook {
//!     cover: Some(Cover::new("player", root)),
//!     pages: vec![EventPage::new(0, Any::pack(&NoOp::default()))],
//!     ..Default::default()
//! };
//! assert_eq!(book.domain(), "player");
//! assert_eq!(book.root_uuid(), Ok(root));
//! assert_eq!(book.edition_name(), "angzarr");
//! assert_eq!(book.computed_next_sequence(), 1);
//! ```

use prost_types::Any;

use crate::identity::InvalidUuid;
use crate::{
    command_page, event_page, page_header, type_url, CommandBook, CommandPage, Cover,
    DomainDivergence, Edition, EventBook, EventPage, MergeStrategy, NoOp, PageHeader, Query, Uuid,
};
use crate::{AnyExt, UnpackError};

/// The name of the main timeline: a cover without an edition (or with an
/// empty edition name) is on it.
pub const DEFAULT_EDITION: &str = "angzarr";

impl Cover {
    /// A cover for the aggregate `root` of `domain`, on the main timeline,
    /// without a correlation id.
    pub fn new(domain: impl Into<String>, root: uuid::Uuid) -> Self {
        Cover {
            root: Some(Uuid::from(root)),
            domain: domain.into(),
            correlation_id: String::new(),
            edition: None,
        }
    }

    /// The same cover with `correlation_id` set.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = correlation_id.into();
        self
    }

    /// The same cover on the edition (timeline) named `name`.
    pub fn with_edition(mut self, name: impl Into<String>) -> Self {
        self.edition = Some(Edition {
            name: name.into(),
            divergences: Vec::new(),
        });
        self
    }

    /// The aggregate root, which must be present and hold 16 bytes.
    pub fn root_uuid(&self) -> Result<uuid::Uuid, InvalidUuid> {
        self.root.as_ref().ok_or(InvalidUuid::Missing)?.to_uuid()
    }

    /// The edition's name, or [`DEFAULT_EDITION`] for the main timeline.
    pub fn edition_name(&self) -> &str {
        match &self.edition {
            Some(edition) if !edition.name.is_empty() => &edition.name,
            _ => DEFAULT_EDITION,
        }
    }

    /// Whether the cover is on the main timeline (no edition, an empty name
    /// or [`DEFAULT_EDITION`]).
    pub fn is_main_timeline(&self) -> bool {
        self.edition.as_ref().is_none_or(Edition::is_main_timeline)
    }

    /// The same cover with `edition` set where it has none (or an unnamed
    /// one), as components stamp the edition of what caused them onto what
    /// they emit; a named edition is kept.
    ///
    /// ```
    /// use angzarr_proto::Cover;
    ///
    /// let main = Cover::new("player", uuid::Uuid::nil());
    /// assert!(main.is_main_timeline());
    /// assert_eq!(main.clone().or_edition("what-if").edition_name(), "what-if");
    /// let named = main.with_edition("x");
    /// assert_eq!(named.clone().or_edition("what-if").edition_name(), "x");
    /// assert_eq!(named.routing_key(), "player");
    /// ```
    pub fn or_edition(mut self, edition: &str) -> Self {
        self.fill_edition(edition);
        self
    }

    /// Sets the edition to `edition` (without divergences) when the cover
    /// has none or an unnamed one.
    pub fn fill_edition(&mut self, edition: &str) {
        if self.edition.as_ref().is_none_or(|e| e.name.is_empty()) {
            self.edition = Some(Edition::implicit(edition));
        }
    }

    /// The key a message bus routes the cover's books by: the domain.
    pub fn routing_key(&self) -> &str {
        &self.domain
    }

    /// A key naming one aggregate on one timeline, for caches of state:
    /// `{edition}:{domain}:{root as hex}`. Two timelines of one aggregate
    /// never share a key.
    ///
    /// ```
    /// use angzarr_proto::Cover;
    ///
    /// let cover = Cover::new("player", uuid::Uuid::from_u128(0xab));
    /// assert_eq!(cover.cache_key(), "angzarr:player:000000000000000000000000000000ab");
    /// assert_eq!(
    ///     cover.clone().with_edition("what-if").cache_key(),
    ///     "what-if:player:000000000000000000000000000000ab"
    /// );
    /// ```
    pub fn cache_key(&self) -> String {
        let root = self.root.as_ref().map(Uuid::to_hex).unwrap_or_default();
        format!("{}:{}:{root}", self.edition_name(), self.domain)
    }
}

impl Edition {
    /// The main timeline: an edition without a name.
    pub fn main_timeline() -> Self {
        Edition::default()
    }

    /// A named edition that diverges implicitly: no divergence points, so
    /// each domain's history is shared up to the edition's first write.
    pub fn implicit(name: impl Into<String>) -> Self {
        Edition {
            name: name.into(),
            divergences: Vec::new(),
        }
    }

    /// A named edition that diverges from the main timeline at the given
    /// `(domain, sequence)` points.
    ///
    /// ```
    /// use angzarr_proto::Edition;
    ///
    /// let edition = Edition::explicit("what-if", [("player", 3), ("table", 10)]);
    /// assert_eq!(edition.divergence_for("table"), Some(10));
    /// assert_eq!(edition.divergence_for("hand"), None);
    /// assert!(!edition.is_main_timeline());
    /// assert!(Edition::main_timeline().is_main_timeline());
    /// ```
    pub fn explicit<D: Into<String>>(
        name: impl Into<String>,
        divergences: impl IntoIterator<Item = (D, u32)>,
    ) -> Self {
        Edition {
            name: name.into(),
            divergences: divergences
                .into_iter()
                .map(|(domain, sequence)| DomainDivergence {
                    domain: domain.into(),
                    sequence,
                })
                .collect(),
        }
    }

    /// Whether this is the main timeline: an empty name or [`DEFAULT_EDITION`].
    pub fn is_main_timeline(&self) -> bool {
        self.name.is_empty() || self.name == DEFAULT_EDITION
    }

    /// The name, or [`DEFAULT_EDITION`] when it is empty.
    pub fn canonical_name(&self) -> &str {
        if self.name.is_empty() {
            DEFAULT_EDITION
        } else {
            &self.name
        }
    }

    /// Where the edition diverges from the main timeline in `domain`, if it
    /// names a point for it.
    pub fn divergence_for(&self, domain: &str) -> Option<u32> {
        self.divergences
            .iter()
            .find(|divergence| divergence.domain == domain)
            .map(|divergence| divergence.sequence)
    }
}

/// Cover accessors for messages that carry an optional cover; a missing
/// cover reads as empty strings and the main timeline.
macro_rules! cover_accessors {
    ($($message:ty),+) => {$(
        impl $message {
            /// The cover's domain, or `""` without a cover.
            pub fn domain(&self) -> &str {
                self.cover.as_ref().map_or("", |cover| cover.domain.as_str())
            }

            /// The cover's aggregate root (see [`Cover::root_uuid`]).
            pub fn root_uuid(&self) -> Result<uuid::Uuid, InvalidUuid> {
                self.cover.as_ref().ok_or(InvalidUuid::Missing)?.root_uuid()
            }

            /// The cover's correlation id, or `""`.
            pub fn correlation_id(&self) -> &str {
                self.cover.as_ref().map_or("", |cover| cover.correlation_id.as_str())
            }

            /// The cover's edition name (see [`Cover::edition_name`]).
            pub fn edition_name(&self) -> &str {
                self.cover.as_ref().map_or(DEFAULT_EDITION, Cover::edition_name)
            }

            /// Whether the cover is on the main timeline (no cover is).
            pub fn is_main_timeline(&self) -> bool {
                self.cover.as_ref().is_none_or(Cover::is_main_timeline)
            }

            /// The cover's routing key (its domain), or `""`.
            pub fn routing_key(&self) -> &str {
                self.domain()
            }

            /// The cover's cache key (see [`Cover::cache_key`]); without a
            /// cover, that of an empty one.
            pub fn cache_key(&self) -> String {
                self.cover.as_ref().map_or_else(|| Cover::default().cache_key(), Cover::cache_key)
            }
        }
    )+};
}

cover_accessors!(EventBook, CommandBook, Query);

impl EventBook {
    /// The sequence of the last page that has an explicit one.
    pub fn last_sequence(&self) -> Option<u32> {
        self.pages.iter().rev().find_map(EventPage::sequence)
    }

    /// The sequence the next event gets, derived from the book's contents:
    /// the last page's sequence + 1, else the snapshot's sequence + 1, else 0.
    ///
    /// Unlike the `next_sequence` field, this does not trust the sender.
    pub fn computed_next_sequence(&self) -> u32 {
        match (self.last_sequence(), &self.snapshot) {
            (Some(last), _) => last.saturating_add(1),
            (None, Some(snapshot)) => snapshot.sequence.saturating_add(1),
            (None, None) => 0,
        }
    }
}

impl EventBook {
    /// The events of type `M`, decoded, in order; pages of other types are
    /// skipped, and a page of type `M` that does not decode is an error.
    ///
    /// ```
    /// use angzarr_proto::{Any, AnyExt, Cover, EventBook, EventPage, NoOp};
    ///
    /// let book = EventBook {
    ///     pages: vec![
    ///         EventPage::new(0, Any::pack(&NoOp { reason: "a".into(), ..Default::default() })),
    ///         EventPage::new(1, Any::pack(&Cover::default())),
    ///     ],
    ///     ..Default::default()
    /// };
    /// let reasons: Vec<String> = book.events_of::<NoOp>().map(|e| e.unwrap().reason).collect();
    /// assert_eq!(reasons, ["a"]);
    /// ```
    pub fn events_of<M: prost::Name + Default>(
        &self,
    ) -> impl Iterator<Item = Result<M, UnpackError>> + '_ {
        self.pages
            .iter()
            .filter_map(EventPage::event)
            .filter(|event| event.is::<M>())
            .map(|event| event.unpack::<M>())
    }
}

impl crate::CommandResponse {
    /// The pages of the events the command stored (empty when it stored
    /// none).
    ///
    /// ```
    /// use angzarr_proto::CommandResponse;
    ///
    /// assert!(CommandResponse::default().pages().is_empty());
    /// ```
    pub fn pages(&self) -> &[EventPage] {
        self.events
            .as_ref()
            .map_or(&[], |book| book.pages.as_slice())
    }
}

impl PageHeader {
    /// A header holding an explicit sequence.
    pub fn at_sequence(sequence: u32) -> Self {
        PageHeader {
            sequence_type: Some(page_header::SequenceType::Sequence(sequence)),
        }
    }

    /// The explicit sequence, if the header holds one (deferred ones do not).
    pub fn sequence(&self) -> Option<u32> {
        match self.sequence_type {
            Some(page_header::SequenceType::Sequence(sequence)) => Some(sequence),
            _ => None,
        }
    }
}

impl EventPage {
    /// A page holding `event` at `sequence`, without a creation time.
    pub fn new(sequence: u32, event: Any) -> Self {
        EventPage {
            header: Some(PageHeader::at_sequence(sequence)),
            payload: Some(event_page::Payload::Event(event)),
            ..Default::default()
        }
    }

    /// The page's explicit sequence, if it has one.
    pub fn sequence(&self) -> Option<u32> {
        self.header.as_ref().and_then(PageHeader::sequence)
    }

    /// The inline event, if the payload is one (not an external reference).
    pub fn event(&self) -> Option<&Any> {
        match &self.payload {
            Some(event_page::Payload::Event(event)) => Some(event),
            _ => None,
        }
    }

    /// The event decoded as `M` (an error if the page holds another type, no
    /// inline event, or bytes that do not decode).
    pub fn event_as<M: prost::Name + Default>(&self) -> Result<M, UnpackError> {
        match self.event() {
            Some(event) => event.unpack::<M>(),
            None => Err(UnpackError::TypeMismatch {
                expected: M::full_name(),
                found: String::new(),
            }),
        }
    }

    /// The event decoded as `M` when the page holds an inline `M`:
    /// `Ok(None)` for another type or no inline event (an external
    /// reference), an error only for bytes that do not decode.
    ///
    /// ```
    /// use angzarr_proto::{Any, AnyExt, Cover, EventPage, NoOp};
    ///
    /// let page = EventPage::new(0, Any::pack(&NoOp::default()));
    /// assert_eq!(page.event_if::<NoOp>().unwrap(), Some(NoOp::default()));
    /// assert_eq!(page.event_if::<Cover>().unwrap(), None);
    /// assert_eq!(EventPage::default().event_if::<NoOp>().unwrap(), None);
    /// ```
    pub fn event_if<M: prost::Name + Default>(&self) -> Result<Option<M>, UnpackError> {
        match self.event() {
            Some(event) => event.unpack_if::<M>(),
            None => Ok(None),
        }
    }

    /// Whether the page is an `angzarr.NoOp` placeholder: it counts for
    /// sequencing but carries no event to apply.
    pub fn is_no_op(&self) -> bool {
        self.event()
            .is_some_and(|event| type_url::matches::<NoOp>(&event.type_url))
    }
}

impl CommandPage {
    /// A page holding `command`, expecting the aggregate at `sequence`.
    pub fn new(sequence: u32, command: Any) -> Self {
        CommandPage {
            header: Some(PageHeader::at_sequence(sequence)),
            merge_strategy: MergeStrategy::MergeCommutative.into(),
            payload: Some(command_page::Payload::Command(command)),
        }
    }

    /// The sequence the sender expects the aggregate to be at; a missing
    /// header (or a deferred one) means 0.
    pub fn expected_sequence(&self) -> u32 {
        self.header
            .as_ref()
            .and_then(PageHeader::sequence)
            .unwrap_or(0)
    }

    /// The inline command, if the payload is one.
    pub fn command(&self) -> Option<&Any> {
        match &self.payload {
            Some(command_page::Payload::Command(command)) => Some(command),
            _ => None,
        }
    }
}

impl CommandBook {
    /// The first page, whose header and merge strategy govern the whole book.
    pub fn first_page(&self) -> Option<&CommandPage> {
        self.pages.first()
    }

    /// The expected sequence of the first page; 0 without pages.
    pub fn expected_sequence(&self) -> u32 {
        self.first_page().map_or(0, CommandPage::expected_sequence)
    }

    /// The merge strategy the coordinator applies to the book: its first
    /// page's, COMMUTATIVE (the protocol's default) without pages or for a
    /// value this version does not know.
    ///
    /// ```
    /// use angzarr_proto::{CommandBook, MergeStrategy};
    ///
    /// assert_eq!(CommandBook::default().merge_strategy(), MergeStrategy::MergeCommutative);
    /// ```
    pub fn merge_strategy(&self) -> MergeStrategy {
        self.first_page()
            .map_or(MergeStrategy::MergeCommutative, CommandPage::merge_strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AngzarrDeferredSequence, AnyExt, Snapshot};

    fn page(sequence: u32) -> EventPage {
        EventPage::new(sequence, Any::pack(&NoOp::default()))
    }

    #[test]
    fn next_sequence_prefers_pages_then_snapshot_then_zero() {
        let mut book = EventBook::default();
        assert_eq!(book.computed_next_sequence(), 0);
        book.snapshot = Some(Snapshot {
            sequence: 4,
            ..Default::default()
        });
        assert_eq!(book.computed_next_sequence(), 5);
        book.pages = vec![page(5), page(6)];
        assert_eq!(book.computed_next_sequence(), 7);
    }

    #[test]
    fn deferred_pages_do_not_count_as_sequences() {
        let mut deferred = page(0);
        deferred.header = Some(PageHeader {
            sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                AngzarrDeferredSequence::default(),
            )),
        });
        let book = EventBook {
            pages: vec![page(2), deferred],
            ..Default::default()
        };
        assert_eq!(book.last_sequence(), Some(2));
        assert_eq!(book.computed_next_sequence(), 3);
    }

    #[test]
    fn cover_accessors_default_sensibly() {
        let book = CommandBook::default();
        assert_eq!(book.domain(), "");
        assert_eq!(book.correlation_id(), "");
        assert_eq!(book.edition_name(), DEFAULT_EDITION);
        assert_eq!(book.root_uuid(), Err(InvalidUuid::Missing));
        assert_eq!(book.expected_sequence(), 0);

        let root = uuid::Uuid::from_u128(1);
        let cover = Cover::new("table", root)
            .with_correlation_id("c-1")
            .with_edition("what-if");
        let query = Query {
            cover: Some(cover),
            selection: None,
        };
        assert_eq!(query.domain(), "table");
        assert_eq!(query.root_uuid(), Ok(root));
        assert_eq!(query.correlation_id(), "c-1");
        assert_eq!(query.edition_name(), "what-if");
    }

    #[test]
    fn empty_edition_name_is_the_main_timeline() {
        let cover = Cover::new("player", uuid::Uuid::nil()).with_edition("");
        assert_eq!(cover.edition_name(), DEFAULT_EDITION);
    }

    #[test]
    fn editions_and_keys() {
        let root = uuid::Uuid::from_u128(0x0102);
        let main = Cover::new("player", root);
        assert!(main.is_main_timeline());
        assert!(main.clone().with_edition("").is_main_timeline());
        assert!(main
            .clone()
            .with_edition(DEFAULT_EDITION)
            .is_main_timeline());
        assert!(!main.clone().with_edition("x").is_main_timeline());
        assert_eq!(main.routing_key(), "player");
        assert_eq!(
            main.cache_key(),
            "angzarr:player:00000000000000000000000000000102"
        );

        // Filling keeps a named edition and names an unnamed one.
        let filled = main.clone().or_edition(DEFAULT_EDITION);
        assert_eq!(filled.edition, Some(Edition::implicit("angzarr")));
        let named = main.clone().with_edition("x").or_edition(DEFAULT_EDITION);
        assert_eq!(named.edition_name(), "x");
        let mut unnamed = main.clone();
        unnamed.edition = Some(Edition::explicit("", [("player", 1)]));
        assert_eq!(
            unnamed.or_edition("y").edition,
            Some(Edition::implicit("y"))
        );

        let book = EventBook::default();
        assert!(book.is_main_timeline());
        assert_eq!(book.routing_key(), "");
        assert_eq!(book.cache_key(), "angzarr::");
        assert_eq!(Edition::main_timeline().canonical_name(), DEFAULT_EDITION);
        assert_eq!(Edition::implicit("b").canonical_name(), "b");
    }

    #[test]
    fn bad_root_length_is_reported() {
        let mut cover = Cover::new("player", uuid::Uuid::nil());
        cover.root = Some(Uuid { value: vec![0; 5] });
        assert_eq!(cover.root_uuid(), Err(InvalidUuid::Length { found: 5 }));
    }

    #[test]
    fn pages_expose_payloads_and_no_ops() {
        assert!(page(0).is_no_op());
        let cover_page = EventPage::new(1, Any::pack(&Cover::default()));
        assert!(!cover_page.is_no_op());
        assert_eq!(cover_page.sequence(), Some(1));
        assert!(EventPage::default().event().is_none());

        let command = CommandPage::new(3, Any::pack(&Cover::default()));
        assert_eq!(command.expected_sequence(), 3);
        assert!(command.command().is_some_and(|any| any.is::<Cover>()));
        assert_eq!(CommandPage::default().expected_sequence(), 0);
    }
}
