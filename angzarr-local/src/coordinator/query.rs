//! `EventQueryService`: one aggregate's pages (all, a range, a set of
//! sequences, or as of a point in time), or every page of a correlation id
//! across aggregates.

use angzarr_proto::{query, temporal_query, Cover, EventBook, EventPage, Query};
use tonic::Status;

use super::timeline::next_after;
use super::write::at_point;
use super::{key_of, Coordinator};
use crate::validate::{self, invalid};

/// Most sequences a query's `SequenceSet` may hold.
pub const MAX_QUERY_SEQUENCES: usize = 10_000;

pub(super) async fn query(
    coordinator: &Coordinator,
    query: &Query,
) -> Result<Vec<EventBook>, Status> {
    let cover = query
        .cover
        .as_ref()
        .ok_or_else(|| invalid("Query must have a cover with domain/root or correlation_id"))?;
    let selection = Selection::of(query)?;
    if !cover.correlation_id.is_empty() && cover.root.is_none() {
        return by_correlation(coordinator, cover, &selection).await;
    }
    if cover.domain.is_empty() || cover.root.is_none() {
        return Err(invalid(
            "Query must have a cover with domain/root or correlation_id",
        ));
    }
    let root = validate::root(cover)?;
    validate::edition(cover)?;
    let key = key_of(cover, root);
    let all = coordinator.timeline(&key, cover).await?;
    // A timeline that used the last sequence reads fine; it reports
    // u32::MAX as its next sequence, and commands on it are OUT_OF_RANGE.
    let next = next_after(&all).unwrap_or(u32::MAX);
    Ok(vec![EventBook {
        cover: Some(cover.clone()),
        snapshot: None,
        pages: all
            .into_iter()
            .filter(|page| selection.keeps(page))
            .collect(),
        next_sequence: next,
    }])
}

/// Every page of `cover.correlation_id`, one book per aggregate run, in the
/// order they were stored.
async fn by_correlation(
    coordinator: &Coordinator,
    cover: &Cover,
    selection: &Selection,
) -> Result<Vec<EventBook>, Status> {
    let correlation_id = cover.correlation_id.clone();
    let located = coordinator
        .blocking(move |store| store.correlated(&correlation_id))
        .await?;
    let mut books: Vec<EventBook> = Vec::new();
    for item in located {
        if !selection.keeps(&item.page) {
            continue;
        }
        let same = books.last().is_some_and(|book| {
            book.cover.as_ref().is_some_and(|c| {
                c.domain == item.key.domain
                    && c.edition_name() == item.key.edition
                    && c.root_uuid().ok() == Some(item.key.root)
            })
        });
        if !same {
            let mut book_cover = Cover::new(item.key.domain.clone(), item.key.root)
                .with_correlation_id(cover.correlation_id.clone());
            if item.key.edition != angzarr_proto::DEFAULT_EDITION {
                book_cover = book_cover.with_edition(item.key.edition.clone());
            }
            books.push(EventBook {
                cover: Some(book_cover),
                ..Default::default()
            });
        }
        if let Some(book) = books.last_mut() {
            if let Some(sequence) = item.page.sequence() {
                book.next_sequence = sequence.saturating_add(1).max(book.next_sequence);
            }
            book.pages.push(item.page);
        }
    }
    Ok(books)
}

/// Which pages a query selects.
enum Selection {
    All,
    Range {
        lower: u32,
        upper: Option<u32>,
    },
    /// Sorted, without repeats: membership is a binary search.
    Set(Vec<u32>),
    At(temporal_query::PointInTime),
}

impl Selection {
    fn of(query: &Query) -> Result<Self, Status> {
        Ok(match &query.selection {
            None => Selection::All,
            Some(query::Selection::Range(range)) => Selection::Range {
                lower: range.lower,
                upper: range.upper,
            },
            Some(query::Selection::Sequences(set)) => {
                if set.values.len() > MAX_QUERY_SEQUENCES {
                    return Err(invalid(format!(
                        "sequence set exceeds maximum size (max: {MAX_QUERY_SEQUENCES}, got: {})",
                        set.values.len()
                    )));
                }
                let mut values = set.values.clone();
                values.sort_unstable();
                values.dedup();
                Selection::Set(values)
            }
            Some(query::Selection::Temporal(temporal)) => {
                match temporal.point_in_time {
                    Some(point) => Selection::At(point),
                    None => return Err(invalid(
                        "temporal query needs a point in time: set as_of_sequence or as_of_time",
                    )),
                }
            }
        })
    }

    fn keeps(&self, page: &EventPage) -> bool {
        let sequence = page.sequence();
        match self {
            Selection::All => true,
            Selection::Range { lower, upper } => {
                sequence.is_some_and(|s| s >= *lower && upper.is_none_or(|upper| s <= upper))
            }
            Selection::Set(values) => sequence.is_some_and(|s| values.binary_search(&s).is_ok()),
            Selection::At(point) => at_point(page, point),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::SequenceSet;

    fn with_set(values: Vec<u32>) -> Query {
        Query {
            selection: Some(query::Selection::Sequences(SequenceSet { values })),
            ..Default::default()
        }
    }

    #[test]
    fn a_sequence_set_is_bounded_and_searched() {
        let too_many = with_set((0..=MAX_QUERY_SEQUENCES as u32).collect());
        let Err(status) = Selection::of(&too_many) else {
            panic!("a set over the limit is refused");
        };
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "sequence set exceeds maximum size (max: 10000, got: 10001)"
        );
        let selection = Selection::of(&with_set(vec![9, 2, 2, 5])).unwrap();
        let page = |s| EventPage::new(s, angzarr_proto::Any::default());
        let kept: Vec<u32> = (0..12).filter(|&s| selection.keeps(&page(s))).collect();
        assert_eq!(kept, [2, 5, 9]);
    }
}
