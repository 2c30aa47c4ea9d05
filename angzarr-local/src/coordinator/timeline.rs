//! The history a command is decided on, and the pages a read sees.
//!
//! Editions follow the real coordinator's storage rules: a named edition
//! with events of its own reads them (its first write copied the main
//! timeline below its divergence); one without events reads the main
//! timeline below its explicit divergence for the domain, or the whole main
//! timeline when it names none (it has not diverged yet).

use angzarr_proto::{Cover, EventBook, EventPage, UpcastRequest, DEFAULT_EDITION};
use tonic::Status;

use super::{store_status, Coordinator};
use crate::store::{self, AggregateKey};

/// A command's history: the book the aggregate sees, and the prefix a new
/// edition copies from the main timeline on its first write.
pub(crate) struct History {
    pub book: EventBook,
    pub inherited: Vec<EventPage>,
}

impl History {
    pub fn next_sequence(&self) -> u32 {
        self.book.next_sequence
    }
}

/// Where a named edition leaves the main timeline for `domain`, when it says.
fn divergence(cover: &Cover, domain: &str) -> Option<u32> {
    cover
        .edition
        .as_ref()
        .and_then(|edition| edition.divergences.iter().find(|d| d.domain == domain))
        .map(|d| d.sequence)
}

fn main_key(key: &AggregateKey) -> AggregateKey {
    AggregateKey {
        edition: DEFAULT_EDITION.to_owned(),
        ..key.clone()
    }
}

/// The main timeline's pages a named edition without events of its own shows.
fn inherited(
    store: &dyn store::EventStore,
    key: &AggregateKey,
    below: Option<u32>,
) -> Result<Vec<EventPage>, store::StoreError> {
    let mut pages = store.pages(&main_key(key), None)?;
    if let Some(below) = below {
        pages.retain(|page| page.sequence().is_some_and(|s| s < below));
    }
    Ok(pages)
}

/// The sequence after the last of `pages` (0 for none), or OUT_OF_RANGE.
pub(super) fn next_after(pages: &[EventPage]) -> Result<u32, Status> {
    match pages.iter().rev().find_map(EventPage::sequence) {
        None => Ok(0),
        Some(last) => store::after(last).map_err(store_status),
    }
}

impl Coordinator {
    /// Every page of a timeline as reads see it.
    pub(crate) async fn timeline(
        &self,
        key: &AggregateKey,
        cover: &Cover,
    ) -> Result<Vec<EventPage>, Status> {
        let key = key.clone();
        let below = divergence(cover, &key.domain);
        self.blocking(move |store| {
            let own = store.pages(&key, None)?;
            if key.edition == DEFAULT_EDITION || !own.is_empty() {
                return Ok(own);
            }
            inherited(store, &key, below)
        })
        .await
    }

    /// The history a command is decided on: the latest snapshot and the
    /// pages after it (upcast when the domain has an upcaster), read in one
    /// blocking call, with the timeline's next sequence.
    pub(crate) async fn history(
        &self,
        key: &AggregateKey,
        cover: &Cover,
    ) -> Result<History, Status> {
        let key = key.clone();
        let below = divergence(cover, &key.domain);
        let book_cover = cover.clone();
        let mut history = self
            .blocking(move |store| {
                let own_next = store.next_sequence(&key)?;
                if own_next == 0 && key.edition != DEFAULT_EDITION {
                    let inherited = inherited(store, &key, below)?;
                    return Ok(History {
                        book: EventBook {
                            cover: Some(book_cover),
                            snapshot: None,
                            pages: inherited.clone(),
                            next_sequence: 0,
                        },
                        inherited,
                    });
                }
                let snapshot = store.snapshot(&key)?;
                let pages = store.pages(&key, snapshot.as_ref().map(|s| s.sequence))?;
                Ok(History {
                    book: EventBook {
                        cover: Some(book_cover),
                        snapshot,
                        pages,
                        next_sequence: own_next,
                    },
                    inherited: Vec::new(),
                })
            })
            .await?;
        if !history.inherited.is_empty() {
            history.book.next_sequence = next_after(&history.inherited)?;
        }
        let domain = cover.domain.clone();
        history.book.pages = self
            .upcast(&domain, std::mem::take(&mut history.book.pages))
            .await?;
        Ok(history)
    }

    /// Runs the domain's upcaster, if it has one, over `pages`. The answer
    /// must hold the same pages in the same order; anything else, or an
    /// error, is INTERNAL "Upcaster failed: ...".
    pub(crate) async fn upcast(
        &self,
        domain: &str,
        pages: Vec<EventPage>,
    ) -> Result<Vec<EventPage>, Status> {
        let Some(upcaster) = self.registry().upcasters.get(domain) else {
            return Ok(pages);
        };
        if pages.is_empty() {
            return Ok(pages);
        }
        let sequences: Vec<Option<u32>> = pages.iter().map(EventPage::sequence).collect();
        let answer = upcaster
            .upcast(UpcastRequest {
                domain: domain.to_owned(),
                events: pages,
            })
            .await
            .map_err(|status| {
                Status::internal(format!(
                    "Upcaster failed: {} ({}): {}",
                    upcaster.describe(),
                    status.code(),
                    status.message()
                ))
            })?;
        if answer.events.len() != sequences.len() {
            return Err(Status::internal(format!(
                "Upcaster failed: {} answered {} pages for {}",
                upcaster.describe(),
                answer.events.len(),
                sequences.len()
            )));
        }
        if let Some(index) = answer
            .events
            .iter()
            .zip(&sequences)
            .position(|(page, sequence)| page.sequence() != *sequence)
        {
            return Err(Status::internal(format!(
                "Upcaster failed: {} changed the sequence of page {index}",
                upcaster.describe()
            )));
        }
        Ok(answer.events)
    }
}
