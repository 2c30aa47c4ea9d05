//! The coordinator's behaviour: commands (with optimistic concurrency),
//! speculative commands, facts, compensation and queries, over an
//! [`EventStore`] and the domains' business logic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use angzarr_proto::{
    business_response, page_header, query, temporal_query, time, BusinessResponse, CommandBook,
    CommandRequest, CommandResponse, ContextualCommand, Cover, EventBook, EventPage, EventRequest,
    FactInjectionResponse, FactRequest, MergeStrategy, PageHeader, Query, Snapshot,
    SpeculateCommandHandlerRequest, DEFAULT_EDITION,
};
use prost::Message;
use tonic::Status;

use crate::route::DomainHandler;
use crate::store::{AggregateKey, EventStore, StoreError};
use crate::validate::{self, invalid};

/// The coordinator: the store, the domains, and one lock per aggregate.
pub struct Coordinator {
    store: Arc<dyn EventStore>,
    domains: BTreeMap<String, Arc<dyn DomainHandler>>,
    locks: Mutex<HashMap<AggregateKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl Coordinator {
    /// A coordinator over `store`, routing each domain to its handler.
    pub fn new(
        store: Arc<dyn EventStore>,
        domains: BTreeMap<String, Arc<dyn DomainHandler>>,
    ) -> Self {
        Coordinator {
            store,
            domains,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The registered domains, sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    fn handler(&self, domain: &str) -> Result<&Arc<dyn DomainHandler>, Status> {
        self.domains.get(domain).ok_or_else(|| {
            let known: Vec<_> = self.domains().collect();
            Status::not_found(format!(
                "unknown domain `{domain}`; this coordinator serves: {}",
                if known.is_empty() {
                    "no domains".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    fn lock_for(&self, key: &AggregateKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn EventStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(|error| Status::internal(format!("the store task failed: {error}")))?
            .map_err(|error| Status::internal(format!("event store: {error}")))
    }

    /// All pages of a timeline as reads see it: a named edition with no
    /// events yet shows the main timeline below its divergence.
    async fn timeline(&self, key: &AggregateKey, cover: &Cover) -> Result<Vec<EventPage>, Status> {
        let own_key = key.clone();
        let own = self
            .blocking(move |store| store.pages(&own_key, None))
            .await?;
        if key.edition == DEFAULT_EDITION || !own.is_empty() {
            return Ok(own);
        }
        let below = divergence(cover, &key.domain);
        let main = main_key(key);
        let main_pages = self.blocking(move |store| store.pages(&main, None)).await?;
        Ok(main_pages
            .into_iter()
            .filter(|page| page.sequence().is_some_and(|s| s < below))
            .collect())
    }

    /// The history a command is decided on: the latest snapshot and the pages
    /// after it, read in one blocking call. Returns it with the timeline's next
    /// sequence, and the prefix a new edition must copy when it first writes.
    async fn history(&self, key: &AggregateKey, cover: &Cover) -> Result<History, Status> {
        let key = key.clone();
        let below = divergence(cover, &key.domain);
        let book_cover = cover.clone();
        self.blocking(move |store| {
            let own_next = store.next_sequence(&key)?;
            if own_next == 0 && key.edition != DEFAULT_EDITION {
                let inherited: Vec<EventPage> = store
                    .pages(&main_key(&key), None)?
                    .into_iter()
                    .filter(|page| page.sequence().is_some_and(|s| s < below))
                    .collect();
                let next = inherited
                    .last()
                    .and_then(EventPage::sequence)
                    .map_or(0, |last| last + 1);
                return Ok(History {
                    book: EventBook {
                        cover: Some(book_cover),
                        snapshot: None,
                        pages: inherited.clone(),
                        next_sequence: next,
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
        .await
    }

    /// `HandleCommand`.
    pub async fn handle_command(&self, request: CommandRequest) -> Result<CommandResponse, Status> {
        let valid = validate::command_request(&request)?;
        let (book, persisted) = self.execute(valid.book, valid.root).await?;
        Ok(CommandResponse {
            events: Some(events_only(book, persisted)),
            projections: Vec::new(),
            cascade_errors: Vec::new(),
        })
    }

    /// `HandleCompensation`: like a command, answering with the aggregate's
    /// own response (events persisted first).
    pub async fn handle_compensation(
        &self,
        request: CommandRequest,
    ) -> Result<BusinessResponse, Status> {
        let valid = validate::command_request(&request)?;
        let (response, persisted) = self.execute(valid.book, valid.root).await?;
        Ok(match persisted {
            Some(book) => BusinessResponse {
                result: Some(business_response::Result::Events(book)),
            },
            None => response,
        })
    }

    /// Decides and persists one command book under its aggregate's lock.
    /// Returns the aggregate's response and, when it produced events, the
    /// book of newly persisted pages.
    async fn execute(
        &self,
        book: &CommandBook,
        root: uuid::Uuid,
    ) -> Result<(BusinessResponse, Option<EventBook>), Status> {
        let cover = book.cover.clone().unwrap_or_default();
        let handler = Arc::clone(self.handler(&cover.domain)?);
        let key = key_of(&cover, root);
        let lock = self.lock_for(&key);
        let _serialized = lock.lock().await;

        let history = self.history(&key, &cover).await?;
        let next = history.book.next_sequence;
        let first = book
            .first_page()
            .ok_or_else(|| invalid("command book has no pages"))?;
        let expected = first.expected_sequence();
        let strategy = MergeStrategy::try_from(first.merge_strategy).unwrap_or_default();
        if strategy != MergeStrategy::MergeAggregateHandles && expected != next {
            let current = self.current_book(&key, &cover).await?;
            return Err(Status::with_details(
                tonic::Code::FailedPrecondition,
                format!("Sequence mismatch: command expects {expected}, aggregate at {next}"),
                current.encode_to_vec().into(),
            ));
        }

        let response = handler
            .handle(ContextualCommand {
                events: Some(history.book),
                command: Some(book.clone()),
            })
            .await?;
        let Some(business_response::Result::Events(produced)) = &response.result else {
            return Ok((response, None));
        };
        let pages: Vec<EventPage> = produced
            .pages
            .iter()
            .filter(|page| page.sequence().is_some_and(|s| s >= next))
            .cloned()
            .collect();
        let last = pages.last().and_then(EventPage::sequence);
        let snapshot = produced
            .snapshot
            .clone()
            .filter(|snapshot| snapshot.state.is_some() && Some(snapshot.sequence) == last);
        self.append(
            &key,
            history.inherited,
            next,
            pages.clone(),
            snapshot,
            &cover.correlation_id,
            None,
        )
        .await?;
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        let persisted = EventBook {
            cover: Some(cover),
            snapshot: None,
            pages,
            next_sequence: next + count,
        };
        Ok((response, Some(persisted)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        key: &AggregateKey,
        inherited: Vec<EventPage>,
        at: u32,
        pages: Vec<EventPage>,
        snapshot: Option<Snapshot>,
        correlation_id: &str,
        fact_id: Option<String>,
    ) -> Result<(), Status> {
        if pages.is_empty() {
            return Ok(());
        }
        let key = key.clone();
        let correlation_id = correlation_id.to_owned();
        let store = Arc::clone(&self.store);
        let result = tokio::task::spawn_blocking(move || {
            // A named edition's first write copies the main timeline below
            // its divergence, in the same transaction.
            let (start, all) = if inherited.is_empty() {
                (at, pages)
            } else {
                let mut all = inherited;
                all.extend(pages);
                (0, all)
            };
            store.append(
                &key,
                start,
                &all,
                snapshot.as_ref(),
                &correlation_id,
                fact_id.as_deref(),
            )
        })
        .await
        .map_err(|error| Status::internal(format!("the store task failed: {error}")))?;
        match result {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { expected, actual }) => {
                Err(Status::failed_precondition(format!(
                    "Sequence conflict: expected to append at {expected}, aggregate at {actual}"
                )))
            }
            Err(StoreError::BadSequence {
                index,
                found,
                expected,
            }) => Err(Status::internal(format!(
                "the aggregate returned event {index} with sequence {found:?}; expected {expected}"
            ))),
            Err(other) => Err(Status::internal(format!("event store: {other}"))),
        }
    }

    async fn current_book(&self, key: &AggregateKey, cover: &Cover) -> Result<EventBook, Status> {
        let pages = self.timeline(key, cover).await?;
        let next = pages
            .last()
            .and_then(EventPage::sequence)
            .map_or(0, |last| last + 1);
        Ok(EventBook {
            cover: Some(cover.clone()),
            snapshot: None,
            pages,
            next_sequence: next,
        })
    }

    /// `HandleSyncSpeculative`: decides against history at a point in time;
    /// persists nothing.
    pub async fn handle_speculative(
        &self,
        request: SpeculateCommandHandlerRequest,
    ) -> Result<CommandResponse, Status> {
        let book = request
            .command
            .as_ref()
            .ok_or_else(|| invalid("SpeculateCommandHandlerRequest must have a command"))?;
        let valid = validate::command_book(book)?;
        let point = request
            .point_in_time
            .and_then(|temporal| temporal.point_in_time)
            .ok_or_else(|| {
                invalid("Speculative requires either as_of_sequence or as_of_timestamp")
            })?;
        let handler = Arc::clone(self.handler(&valid.cover.domain)?);
        let key = key_of(valid.cover, valid.root);
        let pages: Vec<EventPage> = self
            .timeline(&key, valid.cover)
            .await?
            .into_iter()
            .filter(|page| at_point(page, &point))
            .collect();
        let next = pages
            .last()
            .and_then(EventPage::sequence)
            .map_or(0, |last| last + 1);
        let response = handler
            .handle(ContextualCommand {
                events: Some(EventBook {
                    cover: Some(valid.cover.clone()),
                    snapshot: None,
                    pages,
                    next_sequence: next,
                }),
                command: Some(book.clone()),
            })
            .await?;
        let events = match response.result {
            Some(business_response::Result::Events(mut produced)) => {
                for page in &mut produced.pages {
                    page.no_commit = true;
                }
                produced.snapshot = None;
                produced
            }
            _ => EventBook {
                cover: Some(valid.cover.clone()),
                next_sequence: next,
                ..Default::default()
            },
        };
        Ok(CommandResponse {
            events: Some(events),
            projections: Vec::new(),
            cascade_errors: Vec::new(),
        })
    }

    /// `HandleEvent`: records external facts once per external id.
    pub async fn handle_event(
        &self,
        request: EventRequest,
    ) -> Result<FactInjectionResponse, Status> {
        let facts = request
            .events
            .ok_or_else(|| invalid("EventRequest must have events"))?;
        let cover = facts
            .cover
            .clone()
            .ok_or_else(|| invalid("EventBook must have a cover"))?;
        let root = validate::root(&cover)?;
        validate::domain(&cover.domain)?;
        validate::correlation_id(&cover.correlation_id)?;
        let mut external_ids = Vec::with_capacity(facts.pages.len());
        for page in &facts.pages {
            match page.header.as_ref().and_then(|h| h.sequence_type.as_ref()) {
                Some(page_header::SequenceType::ExternalDeferred(deferred)) => {
                    external_ids.push(deferred.external_id.clone());
                }
                _ => {
                    return Err(invalid(
                        "Fact events must have ExternalDeferredSequence markers",
                    ))
                }
            }
        }
        if facts.pages.is_empty() {
            return Err(invalid("fact book has no pages"));
        }
        let fact_id = external_ids.iter().find(|id| !id.is_empty()).cloned();
        let handler = Arc::clone(self.handler(&cover.domain)?);
        let key = key_of(&cover, root);
        let lock = self.lock_for(&key);
        let _serialized = lock.lock().await;

        if let Some(fact_id) = &fact_id {
            let (seen_key, seen_id) = (key.clone(), fact_id.clone());
            if let Some(pages) = self
                .blocking(move |store| store.fact(&seen_key, &seen_id))
                .await?
            {
                let next = pages
                    .last()
                    .and_then(EventPage::sequence)
                    .map_or(0, |s| s + 1);
                return Ok(FactInjectionResponse {
                    events: Some(EventBook {
                        cover: Some(cover),
                        snapshot: None,
                        pages,
                        next_sequence: next,
                    }),
                    already_processed: true,
                    projections: Vec::new(),
                });
            }
        }
        let history = self.history(&key, &cover).await?;
        let next = history.book.next_sequence;
        let recorded = handler
            .handle_fact(FactRequest {
                facts: Some(facts),
                prior_events: Some(history.book),
            })
            .await?;
        let now = time::now();
        let pages: Vec<EventPage> = recorded
            .pages
            .into_iter()
            .enumerate()
            .map(|(index, mut page)| {
                page.header = Some(PageHeader::at_sequence(
                    next + u32::try_from(index).unwrap_or(u32::MAX),
                ));
                page.created_at.get_or_insert(now);
                page
            })
            .collect();
        self.append(
            &key,
            history.inherited,
            next,
            pages.clone(),
            None,
            &cover.correlation_id,
            fact_id,
        )
        .await?;
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        Ok(FactInjectionResponse {
            events: Some(EventBook {
                cover: Some(cover),
                snapshot: None,
                pages,
                next_sequence: next + count,
            }),
            already_processed: false,
            projections: Vec::new(),
        })
    }

    /// `GetEventBook`, and each answer of `GetEvents` and `Synchronize`.
    pub async fn query(&self, query: &Query) -> Result<Vec<EventBook>, Status> {
        let cover = query
            .cover
            .as_ref()
            .ok_or_else(|| invalid("Query must have a cover with domain/root or correlation_id"))?;
        let selection = Selection::of(query)?;
        if !cover.correlation_id.is_empty() && cover.root.is_none() {
            let correlation_id = cover.correlation_id.clone();
            let located = self
                .blocking(move |store| store.correlated(&correlation_id))
                .await?;
            let mut books: Vec<EventBook> = Vec::new();
            for item in located {
                if !selection.keeps(&item.page) {
                    continue;
                }
                let same = books.last().is_some_and(|book| {
                    book.cover.as_ref().is_some_and(|c| {
                        c.domain == item.key.domain && c.root_uuid().ok() == Some(item.key.root)
                    })
                });
                if !same {
                    books.push(EventBook {
                        cover: Some(
                            Cover::new(item.key.domain.clone(), item.key.root)
                                .with_correlation_id(cover.correlation_id.clone()),
                        ),
                        ..Default::default()
                    });
                }
                if let Some(book) = books.last_mut() {
                    book.next_sequence = item.page.sequence().map_or(book.next_sequence, |s| s + 1);
                    book.pages.push(item.page);
                }
            }
            return Ok(books);
        }
        if cover.domain.is_empty() || cover.root.is_none() {
            return Err(invalid(
                "Query must have a cover with domain/root or correlation_id",
            ));
        }
        let root = validate::root(cover)?;
        let key = key_of(cover, root);
        let all = self.timeline(&key, cover).await?;
        let next = all
            .last()
            .and_then(EventPage::sequence)
            .map_or(0, |last| last + 1);
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

    /// `GetAggregateRoots`: every aggregate with events, once each.
    pub async fn roots(&self) -> Result<Vec<(String, uuid::Uuid)>, Status> {
        let keys = self.blocking(|store| store.roots()).await?;
        let mut roots: Vec<(String, uuid::Uuid)> =
            keys.into_iter().map(|key| (key.domain, key.root)).collect();
        roots.sort();
        roots.dedup();
        Ok(roots)
    }
}

struct History {
    book: EventBook,
    /// Pages a new edition copies from the main timeline on its first write.
    inherited: Vec<EventPage>,
}

fn key_of(cover: &Cover, root: uuid::Uuid) -> AggregateKey {
    AggregateKey {
        domain: cover.domain.clone(),
        edition: cover.edition_name().to_owned(),
        root,
    }
}

fn main_key(key: &AggregateKey) -> AggregateKey {
    AggregateKey {
        edition: DEFAULT_EDITION.to_owned(),
        ..key.clone()
    }
}

/// Where a named edition leaves the main timeline for `domain` (0: it shares nothing).
fn divergence(cover: &Cover, domain: &str) -> u32 {
    cover
        .edition
        .as_ref()
        .and_then(|edition| edition.divergences.iter().find(|d| d.domain == domain))
        .map_or(0, |d| d.sequence)
}

fn events_only(response: BusinessResponse, persisted: Option<EventBook>) -> EventBook {
    persisted.unwrap_or_else(|| match response.result {
        Some(business_response::Result::Events(book)) => book,
        _ => EventBook::default(),
    })
}

fn at_point(page: &EventPage, point: &temporal_query::PointInTime) -> bool {
    match point {
        temporal_query::PointInTime::AsOfSequence(sequence) => {
            page.sequence().is_some_and(|s| s <= *sequence)
        }
        temporal_query::PointInTime::AsOfTime(at) => page
            .created_at
            .is_some_and(|created| (created.seconds, created.nanos) <= (at.seconds, at.nanos)),
    }
}

/// Which pages a query selects.
enum Selection {
    All,
    Range { lower: u32, upper: Option<u32> },
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
            Some(query::Selection::Sequences(set)) => Selection::Set(set.values.clone()),
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
            Selection::Set(values) => sequence.is_some_and(|s| values.contains(&s)),
            Selection::At(point) => at_point(page, point),
        }
    }
}
