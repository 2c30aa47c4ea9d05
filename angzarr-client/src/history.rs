//! Folding a history into state: what aggregates and process managers share.
//! A snapshot first, then the pages above it in order; `angzarr.NoOp`
//! placeholders count for sequencing but are not applied.

use angzarr_proto::{Any, EventPage, Snapshot};

use crate::{ComponentError, ComponentErrorKind};

/// Applies every page of `pages` above `floor` (a snapshot's sequence) with
/// `apply`, reporting a failing page's sequence.
pub(crate) fn fold_pages(
    pages: &[EventPage],
    floor: Option<u32>,
    mut apply: impl FnMut(&Any) -> Result<(), ComponentError>,
) -> Result<(), ComponentError> {
    for page in pages {
        let sequence = page.sequence();
        if let (Some(floor), Some(sequence)) = (floor, sequence) {
            if sequence <= floor {
                continue;
            }
        }
        let event = page
            .event()
            .ok_or_else(|| ComponentError::from(ComponentErrorKind::MissingEvent { sequence }))?;
        if page.is_no_op() {
            continue;
        }
        apply(event).map_err(|error| error.at_sequence(sequence))?;
    }
    Ok(())
}

/// The state a snapshot holds, through `restore` (which answers `None` when
/// the component keeps no snapshots), with errors naming the snapshot.
pub(crate) fn restore_snapshot<S>(
    component: impl FnOnce() -> String,
    snapshot: &Snapshot,
    restore: impl FnOnce(&Any) -> Option<Result<S, ComponentError>>,
) -> Result<S, ComponentError> {
    let packed = snapshot.state.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::UndecodableSnapshot {
            sequence: snapshot.sequence,
            reason: "the snapshot holds no state".to_owned(),
        })
    })?;
    match restore(packed) {
        Some(Ok(state)) => Ok(state),
        Some(Err(error)) => {
            let reason = match error.into_kind() {
                ComponentErrorKind::UndecodableSnapshot { reason, .. } => reason,
                other => other.to_string(),
            };
            Err(ComponentError::from(
                ComponentErrorKind::UndecodableSnapshot {
                    sequence: snapshot.sequence,
                    reason,
                },
            ))
        }
        None => Err(ComponentError::from(
            ComponentErrorKind::SnapshotUnsupported {
                component: component(),
            },
        )),
    }
}

/// The sequence after `book`'s history (its last page, else its snapshot),
/// counted past the `u32` range so that an exhausted history stays visible.
pub(crate) fn next_after(book: &angzarr_proto::EventBook) -> u64 {
    match (book.last_sequence(), &book.snapshot) {
        (Some(last), _) => u64::from(last) + 1,
        (None, Some(snapshot)) => u64::from(snapshot.sequence) + 1,
        (None, None) => 0,
    }
}

/// Stamps `events` as pages from `first` on, all created now.
pub(crate) fn stamp(events: Vec<Any>, first: u64) -> Result<Vec<EventPage>, ComponentError> {
    // If the last sequence fits, every one before it does: checked once, the
    // pages are collected at their exact count.
    if let Some(last) = events.len().checked_sub(1) {
        sequence_after(first, last)?;
    }
    let created_at = angzarr_proto::time::now();
    Ok(events
        .into_iter()
        .enumerate()
        .map(|(index, event)| EventPage {
            header: Some(angzarr_proto::PageHeader::at_sequence(reported_sequence(
                first, index,
            ))),
            created_at: Some(created_at),
            payload: Some(angzarr_proto::event_page::Payload::Event(event)),
            ..Default::default()
        })
        .collect())
}

/// `first + offset` as a wire sequence, or an error once the `u32` sequence
/// space runs out: never a wrapped or repeated sequence.
pub(crate) fn sequence_after(first: u64, offset: usize) -> Result<u32, ComponentError> {
    let needed = first.saturating_add(offset as u64);
    u32::try_from(needed)
        .map_err(|_| ComponentError::from(ComponentErrorKind::SequenceExhausted { needed }))
}

/// `first + offset` for contexts, which only report it: the last sequence
/// when the space has run out (stamping then fails).
pub(crate) fn reported_sequence(first: u64, offset: usize) -> u32 {
    u32::try_from(first.saturating_add(offset as u64)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{AnyExt, EventBook, NoOp};

    #[test]
    fn the_sequence_space_ends_with_an_error() {
        let book = EventBook {
            pages: vec![EventPage::new(u32::MAX, Any::pack(&NoOp::default()))],
            ..Default::default()
        };
        let next = next_after(&book);
        assert_eq!(next, 1 << 32);
        let error = stamp(vec![Any::pack(&NoOp::default())], next).unwrap_err();
        assert_eq!(error.code(), tonic::Code::OutOfRange);
        assert_eq!(
            error.to_string(),
            "no sequence left: the event would need sequence 4294967296, past the last one (4294967295)"
        );
        assert_eq!(sequence_after(u64::from(u32::MAX), 0), Ok(u32::MAX));
        assert!(sequence_after(u64::from(u32::MAX), 1).is_err());
        assert_eq!(reported_sequence(1 << 32, 3), u32::MAX);

        // Two events where only one sequence is left: neither is stamped.
        let two = vec![Any::pack(&NoOp::default()), Any::pack(&NoOp::default())];
        let error = stamp(two.clone(), u64::from(u32::MAX)).unwrap_err();
        assert!(error.to_string().contains("4294967296"), "{error}");
        let pages = stamp(two, u64::from(u32::MAX) - 1).unwrap();
        let sequences: Vec<_> = pages.iter().map(EventPage::sequence).collect();
        assert_eq!(sequences, [Some(u32::MAX - 1), Some(u32::MAX)]);
        assert!(stamp(Vec::new(), 1 << 32).unwrap().is_empty());
    }
}
