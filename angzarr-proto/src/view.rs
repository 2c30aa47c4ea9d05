//! Requests read in place: the history of a `ContextualCommand` borrowed
//! from the request's bytes instead of decoded into owned pages.
//!
//! A history of a thousand events decodes into a thousand pages, each with
//! a type URL and a payload copied out of the request, only to be read once
//! and dropped. [`ContextualCommandView`] keeps each page's type URL and
//! payload as slices of the request, so that an aggregate decodes the
//! payloads it applies straight from there. The command book and the
//! snapshot, which are small and used whole, are decoded as usual.
//!
//! The reader accepts exactly what prost's decoding accepts, for the shapes
//! coordinators send. Anything unusual (a field given twice where it merges,
//! a group, a wire type that does not fit its field, malformed bytes) makes
//! [`ContextualCommandView::read`] answer `None`: decode with prost then,
//! which gives the usual result or the usual error.

use prost::Message;

use crate::{
    AngzarrDeferredSequence, CommandBook, ExternalDeferredSequence, PayloadReference, Snapshot,
};

/// A field's value on the wire.
#[derive(Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Fixed32,
    Bytes(&'a [u8]),
}

/// Reads a varint as prost does: at most ten bytes, the last holding one bit.
fn varint(buf: &mut &[u8]) -> Option<u64> {
    // Most varints on these paths (tags, lengths, sequences) fit one byte.
    let (&first, rest) = buf.split_first()?;
    if first < 0x80 {
        *buf = rest;
        return Some(u64::from(first));
    }
    let mut value: u64 = 0;
    for index in 0..10 {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        if index == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// The fields of one message, in wire order; `None` on malformed bytes or
/// a group (prost would decode the group; the caller falls back to it).
fn next_field<'a>(buf: &mut &'a [u8]) -> Option<Option<(u32, Value<'a>)>> {
    if buf.is_empty() {
        return Some(None);
    }
    let key = varint(buf)?;
    let field = u32::try_from(key >> 3).ok()?;
    if field == 0 {
        return None;
    }
    let value = match key & 7 {
        0 => Value::Varint(varint(buf)?),
        1 => {
            *buf = buf.get(8..)?;
            Value::Fixed64
        }
        2 => {
            let length = usize::try_from(varint(buf)?).ok()?;
            let bytes = buf.get(..length)?;
            *buf = &buf[length..];
            Value::Bytes(bytes)
        }
        5 => {
            *buf = buf.get(4..)?;
            Value::Fixed32
        }
        _ => return None,
    };
    Some(Some((field, value)))
}

/// Visits every field of `message`; `visit` answers `None` to give up.
fn fields<'a>(
    mut message: &'a [u8],
    mut visit: impl FnMut(u32, Value<'a>) -> Option<()>,
) -> Option<()> {
    while let Some((field, value)) = next_field(&mut message)? {
        visit(field, value)?;
    }
    Some(())
}

fn bytes(value: Value<'_>) -> Option<&[u8]> {
    match value {
        Value::Bytes(bytes) => Some(bytes),
        _ => None,
    }
}

/// Sets a singular field once: a second occurrence (which protobuf merges)
/// gives up.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// One event of a page: its type URL and encoded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventView<'a> {
    /// `type.googleapis.com/package.Message`.
    pub type_url: &'a str,
    /// The encoded message.
    pub value: &'a [u8],
}

/// One page of a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageView<'a> {
    /// The page's explicit sequence, if its header holds one.
    pub sequence: Option<u32>,
    /// The inline event, if the payload is one.
    pub event: Option<EventView<'a>>,
}

/// A history: the snapshot (decoded) and the pages (in place).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryView<'a> {
    /// The snapshot the pages continue.
    pub snapshot: Option<Snapshot>,
    /// The pages, in order.
    pub pages: Vec<PageView<'a>>,
}

impl HistoryView<'_> {
    /// The sequence of the last page that has one, as
    /// [`EventBook::last_sequence`](crate::EventBook::last_sequence).
    pub fn last_sequence(&self) -> Option<u32> {
        self.pages.iter().rev().find_map(|page| page.sequence)
    }
}

/// A `ContextualCommand` with its history read in place.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextualCommandView<'a> {
    /// The history, if the request has one.
    pub events: Option<HistoryView<'a>>,
    /// The command book, decoded.
    pub command: Option<CommandBook>,
}

impl<'a> ContextualCommandView<'a> {
    /// Reads an encoded `angzarr.ContextualCommand`; `None` when the bytes
    /// are not of the shape this reader takes (decode them with prost).
    ///
    /// ```
    /// use angzarr_proto::view::ContextualCommandView;
    /// use angzarr_proto::{Any, AnyExt, ContextualCommand, EventBook, EventPage, NoOp};
    /// use prost::Message;
    ///
    /// let request = ContextualCommand {
    ///     events: Some(EventBook {
    ///         pages: vec![EventPage::new(0, Any::pack(&NoOp::default()))],
    ///         ..Default::default()
    ///     }),
    ///     command: None,
    /// };
    /// let bytes = request.encode_to_vec();
    /// let view = ContextualCommandView::read(&bytes).unwrap();
    /// let page = view.events.unwrap().pages[0];
    /// assert_eq!(page.sequence, Some(0));
    /// assert_eq!(page.event.unwrap().type_url, "type.googleapis.com/angzarr.NoOp");
    /// assert!(ContextualCommandView::read(&[0xff]).is_none());
    /// ```
    pub fn read(bytes: &'a [u8]) -> Option<Self> {
        let (mut events, mut command) = (None, None);
        fields(bytes, |field, value| match field {
            1 => once(&mut events, history(bytes_of(value)?)?),
            2 => once(&mut command, CommandBook::decode(bytes_of(value)?).ok()?),
            _ => Some(()),
        })?;
        Some(ContextualCommandView { events, command })
    }
}

fn bytes_of(value: Value<'_>) -> Option<&[u8]> {
    bytes(value)
}

fn history(book: &[u8]) -> Option<HistoryView<'_>> {
    let (mut cover, mut snapshot, mut next_sequence) = (None, None, None);
    // Pages are counted first so that one allocation holds them all.
    let mut count = 0;
    fields(book, |field, _| {
        count += usize::from(field == 3);
        Some(())
    })?;
    let mut pages = Vec::with_capacity(count);
    fields(book, |field, value| match field {
        1 => once(&mut cover, cover_is_valid(bytes(value)?)?),
        2 => once(&mut snapshot, Snapshot::decode(bytes(value)?).ok()?),
        3 => {
            pages.push(page(bytes(value)?)?);
            Some(())
        }
        6 => match value {
            Value::Varint(_) => once(&mut next_sequence, ()),
            _ => None,
        },
        _ => Some(()),
    })?;
    Some(HistoryView { snapshot, pages })
}

fn page(page: &[u8]) -> Option<PageView<'_>> {
    let (mut header, mut created_at, mut no_commit, mut cascade_id) = (None, None, None, None);
    // The payload is a oneof: a second member, or a member twice, gives up.
    let mut payload: Option<Option<EventView<'_>>> = None;
    fields(page, |field, value| match field {
        1 => once(&mut header, sequence_of(bytes(value)?)?),
        2 => once(&mut created_at, timestamp(bytes(value)?)?),
        3 => once(&mut payload, Some(event(bytes(value)?)?)),
        4 => {
            PayloadReference::decode(bytes(value)?).ok()?;
            once(&mut payload, None)
        }
        6 => match value {
            Value::Varint(_) => once(&mut no_commit, ()),
            _ => None,
        },
        7 => once(
            &mut cascade_id,
            std::str::from_utf8(bytes(value)?).ok().map(drop)?,
        ),
        _ => Some(()),
    })?;
    Some(PageView {
        sequence: header.flatten(),
        event: payload.flatten(),
    })
}

/// The explicit sequence a header holds (`None` for a deferred one).
fn sequence_of(header: &[u8]) -> Option<Option<u32>> {
    let mut member: Option<Option<u32>> = None;
    fields(header, |field, value| match field {
        // uint32 on the wire: prost keeps the low 32 bits.
        1 => match value {
            Value::Varint(raw) => once(&mut member, Some(raw as u32)),
            _ => None,
        },
        2 => {
            ExternalDeferredSequence::decode(bytes(value)?).ok()?;
            once(&mut member, None)
        }
        3 => {
            AngzarrDeferredSequence::decode(bytes(value)?).ok()?;
            once(&mut member, None)
        }
        _ => Some(()),
    })?;
    Some(member.flatten())
}

/// Checks a `Cover` as prost would decode it, without building one: the
/// history's cover is not used, only required to be well-formed.
fn cover_is_valid(cover: &[u8]) -> Option<()> {
    let utf8 = |value: Value<'_>| std::str::from_utf8(bytes(value)?).ok().map(drop);
    fields(cover, |field, value| match field {
        1 => fields(bytes(value)?, |field, value| match field {
            1 => bytes(value).map(drop),
            _ => Some(()),
        }),
        2 | 3 => utf8(value),
        4 => fields(bytes(value)?, |field, value| match field {
            1 => utf8(value),
            2 => fields(bytes(value)?, |field, value| match (field, value) {
                (1, value) => utf8(value),
                (2, Value::Varint(_)) => Some(()),
                (2, _) => None,
                _ => Some(()),
            }),
            _ => Some(()),
        }),
        _ => Some(()),
    })
}

fn timestamp(timestamp: &[u8]) -> Option<()> {
    fields(timestamp, |field, value| match (field, value) {
        (1 | 2, Value::Varint(_)) => Some(()),
        (1 | 2, _) => None,
        _ => Some(()),
    })
}

fn event(any: &[u8]) -> Option<EventView<'_>> {
    let (mut type_url, mut value) = (None, None);
    fields(any, |field, raw| match field {
        1 => once(&mut type_url, std::str::from_utf8(bytes(raw)?).ok()?),
        2 => once(&mut value, bytes(raw)?),
        _ => Some(()),
    })?;
    Some(EventView {
        type_url: type_url.unwrap_or_default(),
        value: value.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        page_header, AnyExt, ContextualCommand, Cover, EventBook, EventPage, NoOp, PageHeader,
    };
    use prost_types::Any;

    fn request(pages: Vec<EventPage>, snapshot: Option<Snapshot>) -> ContextualCommand {
        ContextualCommand {
            events: Some(EventBook {
                cover: Some({
                    let mut cover = Cover::new("player", uuid::Uuid::from_u128(7))
                        .with_correlation_id("c-1")
                        .with_edition("what-if");
                    if let Some(edition) = cover.edition.as_mut() {
                        edition.divergences.push(crate::DomainDivergence {
                            domain: "player".into(),
                            sequence: 3,
                        });
                    }
                    cover
                }),
                snapshot,
                pages,
                next_sequence: 9,
            }),
            command: Some(CommandBook {
                cover: Some(Cover::new("player", uuid::Uuid::from_u128(7))),
                pages: Vec::new(),
            }),
        }
    }

    /// A history page as both readers see it: its sequence and its event.
    type Page = (Option<u32>, Option<(String, Vec<u8>)>);

    /// What prost decodes, in the view's terms.
    fn decoded(request: &ContextualCommand) -> Vec<Page> {
        request
            .events
            .as_ref()
            .map(|book| {
                book.pages
                    .iter()
                    .map(|page| {
                        (
                            page.sequence(),
                            page.event().map(|e| (e.type_url.clone(), e.value.clone())),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn viewed(view: &ContextualCommandView<'_>) -> Vec<Page> {
        view.events
            .as_ref()
            .map(|history| {
                history
                    .pages
                    .iter()
                    .map(|page| {
                        (
                            page.sequence,
                            page.event
                                .map(|e| (e.type_url.to_owned(), e.value.to_vec())),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn reads_what_prost_decodes() {
        let mut deferred = EventPage::new(3, Any::pack(&NoOp::default()));
        deferred.header = Some(PageHeader {
            sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                AngzarrDeferredSequence {
                    source: Some(Cover::new("table", uuid::Uuid::nil())),
                    source_seq: 4,
                },
            )),
        });
        let mut external = EventPage::new(5, Any::default());
        external.payload = Some(crate::event_page::Payload::External(
            PayloadReference::default(),
        ));
        let mut dated = EventPage::new(
            6,
            Any::pack(&NoOp {
                reason: "x".into(),
                ..Default::default()
            }),
        );
        dated.created_at = Some(crate::time::now());
        dated.cascade_id = Some("c".into());
        dated.no_commit = true;
        let snapshot = Snapshot {
            sequence: 1,
            state: Some(Any::pack(&NoOp::default())),
            retention: 0,
        };
        let request = request(
            vec![
                EventPage::new(2, Any::pack(&NoOp::default())),
                deferred,
                external,
                EventPage {
                    header: None,
                    ..Default::default()
                },
                dated,
            ],
            Some(snapshot.clone()),
        );
        let bytes = request.encode_to_vec();
        let view = ContextualCommandView::read(&bytes).expect("a usual request");
        assert_eq!(viewed(&view), decoded(&request));
        assert_eq!(view.events.as_ref().unwrap().snapshot, Some(snapshot));
        assert_eq!(view.command, request.command);
        assert_eq!(
            view.events.as_ref().unwrap().last_sequence(),
            request.events.as_ref().unwrap().last_sequence()
        );
    }

    #[test]
    fn unusual_or_broken_bytes_are_left_to_prost() {
        let bytes =
            request(vec![EventPage::new(0, Any::pack(&NoOp::default()))], None).encode_to_vec();
        // Every truncation either reads as prost decodes it, or is left to prost.
        for end in 0..bytes.len() {
            let cut = &bytes[..end];
            let prost = ContextualCommand::decode(cut);
            if let Some(view) = ContextualCommandView::read(cut) {
                let decoded = prost.expect("the view read what prost can decode");
                assert_eq!(viewed(&view), super::tests::decoded(&decoded));
            }
        }
        // A field given twice (which protobuf merges) is left to prost.
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes);
        assert!(ContextualCommandView::read(&twice).is_none());
        // A wire type that does not fit the field.
        assert!(ContextualCommandView::read(&[0x08, 0x01]).is_none());
        // Unknown fields are skipped, as prost skips them.
        let mut unknown = bytes.clone();
        unknown.extend_from_slice(&[0xf8, 0x01, 0x05]);
        assert!(ContextualCommandView::read(&unknown).is_some());
        assert!(ContextualCommand::decode(unknown.as_slice()).is_ok());
    }

    #[test]
    fn bit_flips_never_read_what_prost_refuses() {
        let bytes = request(
            (0..4)
                .map(|s| {
                    EventPage::new(
                        s,
                        Any::pack(&NoOp {
                            reason: "r".into(),
                            ..Default::default()
                        }),
                    )
                })
                .collect(),
            None,
        )
        .encode_to_vec();
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[index] ^= 1 << bit;
                if let Some(view) = ContextualCommandView::read(&flipped) {
                    let decoded = ContextualCommand::decode(flipped.as_slice())
                        .unwrap_or_else(|error| panic!("byte {index} bit {bit}: prost refuses ({error}) what the view read"));
                    assert_eq!(
                        viewed(&view),
                        super::tests::decoded(&decoded),
                        "byte {index} bit {bit}"
                    );
                }
            }
        }
    }
}
