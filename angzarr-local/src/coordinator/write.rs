//! The write path: commands, compensation, facts and speculative commands.
//!
//! A command runs under its timeline's lock: history, sequence check (or
//! deferred stamping), the aggregate's decision, then one atomic append of
//! the new pages with their snapshot, the book for consumers (outbox) and,
//! for a command run at most once, its outcome.

use std::sync::Arc;

use angzarr_client::CompensationContext;
use angzarr_proto::{
    business_response, page_header, temporal_query, time, Any, AnyExt, BusinessResponse,
    CascadeErrorMode, CommandBook, CommandPage, CommandRequest, CommandResponse, ContextualCommand,
    Cover, EventBook, EventPage, EventRequest, FactInjectionResponse, FactRequest, MergeStrategy,
    PageHeader, Revocation, Snapshot, SpeculateCommandHandlerRequest, SyncMode,
};
use prost::Message;
use tonic::{Code, Status};

use super::timeline::{next_after, History};
use super::{key_of, sequence_at, Coordinator};
use crate::delivery::{is_rejection, ClaimGuard, Report};
use crate::store::{AggregateKey, Outcome, QueuedAppend, SyncReach};
use crate::validate::{self, invalid};

/// Largest encoded EventBook a sequence mismatch carries in its status
/// details. The details travel base64-encoded in the `grpc-status-details-bin`
/// trailer; 4 KiB become about 5.5 KiB there, under the 8 KiB that gRPC
/// clients accept for metadata by default.
pub const MAX_CONFLICT_DETAILS: usize = 4096;

/// The domain revocations are recorded in (a framework stream: projectors
/// skip it unless they name it).
pub const REVOCATION_DOMAIN: &str = "_revocation";

/// A book that reached the store, for delivery.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// What consumers receive: the cover, the new pages, the new snapshot,
    /// the next sequence.
    pub book: EventBook,
}

/// What running a command produced.
pub(crate) struct Executed {
    /// The aggregate's answer (events replaced by the persisted ones).
    pub response: BusinessResponse,
    /// The persisted book, when the command stored events.
    pub written: Option<Written>,
}

/// How to run one command.
pub(crate) struct Run<'a> {
    pub book: &'a CommandBook,
    pub root: uuid::Uuid,
    /// Whom the caller delivers the book to itself.
    pub claim: Option<&'a ClaimGuard>,
    /// Run at most once under this key; a repeat answers the first outcome.
    pub once: Option<String>,
}

fn is_deferred(page: &CommandPage) -> bool {
    matches!(
        page.header.as_ref().and_then(|h| h.sequence_type.as_ref()),
        Some(page_header::SequenceType::AngzarrDeferred(_))
    )
}

/// What a deferred command received from outside is run at most once as.
#[derive(Clone, Copy)]
enum Once {
    /// `HandleCommand`.
    Command,
    /// `HandleCompensation`: keyed apart from commands, so that a command
    /// and the compensation sent back about it never answer for each other.
    Compensation,
}

/// The at-most-once key of a deferred command received from outside.
///
/// The seed protocol names the source page (domain, root, sequence) but not
/// which of that page's commands this is, so the key adds the target
/// (domain, edition, root) and a SHA-256 digest of the command's pages: two
/// commands that say different things never share a key, while a
/// redelivered command, byte for byte the same, runs once. (Two identical
/// commands from one source page to one aggregate are one command.)
fn once_key(once: Once, book: &CommandBook, root: uuid::Uuid) -> Option<String> {
    use sha2::Digest;
    use std::fmt::Write;
    let first = book.first_page()?;
    let Some(page_header::SequenceType::AngzarrDeferred(deferred)) =
        first.header.as_ref().and_then(|h| h.sequence_type.as_ref())
    else {
        return None;
    };
    let source = deferred.source.as_ref()?;
    let source_root = source.root.as_ref()?.to_hex();
    let mut digest = sha2::Sha256::new();
    let mut bytes = Vec::new();
    for page in &book.pages {
        bytes.clear();
        page.encode_raw(&mut bytes);
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(&bytes);
    }
    let kind = match once {
        Once::Command => "deferred",
        Once::Compensation => "compensation",
    };
    let edition = book.edition_name();
    let mut key = format!(
        "{kind}:{}:{}:{}:{}:{}:{}:",
        source.domain,
        source_root,
        deferred.source_seq,
        book.domain(),
        edition,
        root.simple()
    );
    for byte in digest.finalize() {
        let _ = write!(key, "{byte:02x}");
    }
    Some(key)
}

impl Coordinator {
    /// Runs one command book under its timeline's lock.
    pub(crate) async fn run_command(&self, run: Run<'_>) -> Result<Executed, Status> {
        let cover = run.book.cover.clone().unwrap_or_default();
        let aggregate = Arc::clone(self.aggregate(&cover.domain)?);
        let key = key_of(&cover, run.root);
        let _held = self.locks.lock(&key).await;

        if let Some(once) = &run.once {
            let lookup = once.clone();
            if let Some(outcome) = self.blocking(move |store| store.outcome(&lookup)).await? {
                return repeat(outcome);
            }
        }
        let history = self.history(&key, &cover).await?;
        let next = history.next_sequence();
        let first = run.book.first_page().ok_or_else(|| {
            crate::validate::coded(
                angzarr_client::coded::MISSING_COMMAND_PAGE,
                "command book has no pages",
            )
        })?;
        let mut command = run.book.clone();
        if is_deferred(first) {
            // Deferred pages get the sequences the aggregate is at; the
            // merge check does not apply.
            for (index, page) in command.pages.iter_mut().enumerate() {
                if is_deferred(page) {
                    page.header = Some(PageHeader::at_sequence(sequence_at(next, index)?));
                }
            }
        } else {
            let expected = first.expected_sequence();
            if run.book.merge_strategy() != MergeStrategy::MergeAggregateHandles && expected != next
            {
                return Err(sequence_mismatch(&history, expected));
            }
        }
        let correlation_id = cover.correlation_id.clone();
        let History {
            book: events,
            inherited,
        } = history;
        let decided = aggregate
            .handle(ContextualCommand {
                events: Some(events),
                command: Some(command),
            })
            .await;
        let response = match decided {
            Ok(response) => response,
            Err(status) => {
                if let (Some(once), true) = (&run.once, is_rejection(&status)) {
                    self.record_outcome(once, refused(&status)).await?;
                }
                return Err(status);
            }
        };
        let Some(business_response::Result::Events(produced)) = &response.result else {
            if let Some(once) = &run.once {
                self.record_outcome(once, accepted(&response)).await?;
            }
            return Ok(Executed {
                response,
                written: None,
            });
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
        let persisted = EventBook {
            cover: Some(cover),
            snapshot: None,
            next_sequence: match last {
                None => next,
                Some(last) => crate::store::after(last).map_err(super::store_status)?,
            },
            pages,
        };
        let response = BusinessResponse {
            result: Some(business_response::Result::Events(persisted.clone())),
        };
        if persisted.pages.is_empty() {
            if let Some(once) = &run.once {
                self.record_outcome(once, accepted(&response)).await?;
            }
            return Ok(Executed {
                response,
                written: None,
            });
        }
        let outcome = run
            .once
            .as_ref()
            .map(|key| (key.clone(), accepted(&response)));
        let written = self
            .append_book(
                &key,
                inherited,
                persisted,
                snapshot,
                &correlation_id,
                None,
                outcome,
                run.claim,
            )
            .await?;
        Ok(Executed {
            response,
            written: Some(written),
        })
    }

    /// Appends `persisted`'s pages (after the prefix a new edition copies)
    /// with everything that goes with them, atomically.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append_book(
        &self,
        key: &AggregateKey,
        inherited: Vec<EventPage>,
        persisted: EventBook,
        snapshot: Option<Snapshot>,
        correlation_id: &str,
        fact_id: Option<String>,
        outcome: Option<(String, Outcome)>,
        claim: Option<&ClaimGuard>,
    ) -> Result<Written, Status> {
        let published = EventBook {
            snapshot: snapshot.clone(),
            ..persisted
        };
        let consumed = self.registry().is_consumed(&key.domain);
        let bytes = if consumed {
            published.encode_to_vec()
        } else {
            Vec::new()
        };
        let first = published
            .pages
            .first()
            .and_then(EventPage::sequence)
            .unwrap_or_default();
        // A named edition's first write copies the main timeline below its
        // divergence, in the same transaction.
        let (at, pages) = if inherited.is_empty() {
            (first, published.pages.clone())
        } else {
            let mut all = inherited;
            all.extend(published.pages.iter().cloned());
            (0, all)
        };
        let outbox = self
            .committer
            .append(QueuedAppend {
                key: key.clone(),
                at,
                pages,
                snapshot,
                correlation_id: correlation_id.to_owned(),
                fact: fact_id.map(|id| (id, first)),
                publish: consumed.then(|| (bytes, claim.map(ClaimGuard::claim))),
                outcome,
            })
            .await
            .map_err(super::store_status)?;
        if let Some(id) = outbox {
            self.delivery()
                .backlog()
                .published(&self.registry().consumers, &published);
            if let Some(claim) = claim {
                claim.published(self.registry(), &published, id);
            }
            self.delivery().wake(id);
        }
        Ok(Written { book: published })
    }

    async fn record_outcome(&self, key: &str, outcome: Outcome) -> Result<(), Status> {
        let key = key.to_owned();
        self.blocking(move |store| store.record_outcome(&key, &outcome))
            .await
    }

    /// Tells `source`'s aggregate that a command it caused was rejected
    /// (`HandleCompensation` with an `angzarr.Notification` page), at most
    /// once per `once` key. Its events are stored and published; a
    /// revocation asking for it is recorded in [`REVOCATION_DOMAIN`].
    pub(crate) async fn compensate(
        &self,
        source: &Cover,
        context: &CompensationContext,
        once: String,
        claim: Option<&ClaimGuard>,
    ) -> Result<Option<Written>, Status> {
        let root = validate::root(source)?;
        let book = context
            .clone()
            .with_source(source.clone())
            .command_book()
            .ok_or_else(|| Status::internal("a compensation with a source has a command book"))?;
        let executed = self
            .run_command(Run {
                book: &book,
                root,
                claim,
                once: Some(once.clone()),
            })
            .await?;
        if let Some(business_response::Result::Revocation(revocation)) = &executed.response.result {
            if revocation.emit_system_revocation {
                return self
                    .record_revocation(source, root, &revocation.reason, &once, claim)
                    .await
                    .map(Some);
            }
        }
        Ok(executed.written)
    }

    /// Stores an `angzarr.Revocation` for `source` in [`REVOCATION_DOMAIN`],
    /// once per `once` key.
    async fn record_revocation(
        &self,
        source: &Cover,
        root: uuid::Uuid,
        reason: &str,
        once: &str,
        claim: Option<&ClaimGuard>,
    ) -> Result<Written, Status> {
        let cover = Cover {
            domain: REVOCATION_DOMAIN.to_owned(),
            ..source.clone()
        };
        let key = key_of(&cover, root);
        let _held = self.locks.lock(&key).await;
        let recorded = format!("{once}:revocation");
        let lookup = recorded.clone();
        if self
            .blocking(move |store| store.outcome(&lookup))
            .await?
            .is_some()
        {
            return Ok(Written {
                book: EventBook {
                    cover: Some(cover),
                    ..Default::default()
                },
            });
        }
        let history = self.history(&key, &cover).await?;
        let next = history.next_sequence();
        let mut page = EventPage::new(
            next,
            Any::pack(&Revocation {
                target: Some(source.clone()),
                sequences: Vec::new(),
                cascade_id: source.correlation_id.clone(),
                reason: reason.to_owned(),
            }),
        );
        page.created_at = Some(time::now());
        let persisted = EventBook {
            cover: Some(cover),
            snapshot: None,
            pages: vec![page],
            next_sequence: sequence_at(next, 1)?,
        };
        let outcome = Outcome {
            code: 0,
            message: String::new(),
            body: Vec::new(),
        };
        self.append_book(
            &key,
            history.inherited,
            persisted,
            None,
            &source.correlation_id,
            None,
            Some((recorded, outcome)),
            claim,
        )
        .await
    }

    /// Records facts: the aggregate's `HandleFact`, its pages stamped at the
    /// next sequences, once per external id. Returns the answer and, when
    /// something was stored, the book for delivery.
    pub(crate) async fn record_facts(
        &self,
        facts: EventBook,
        claim: Option<&ClaimGuard>,
    ) -> Result<(FactInjectionResponse, Option<Written>), Status> {
        let cover = facts
            .cover
            .clone()
            .ok_or_else(|| invalid("EventBook must have a cover"))?;
        let root = validate::root(&cover)?;
        validate::domain(&cover.domain)?;
        validate::correlation_id(&cover.correlation_id)?;
        validate::edition(&cover)?;
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
        let aggregate = Arc::clone(self.aggregate(&cover.domain)?);
        let key = key_of(&cover, root);
        let _held = self.locks.lock(&key).await;

        if let Some(fact_id) = &fact_id {
            let (seen_key, seen_id) = (key.clone(), fact_id.clone());
            if let Some(pages) = self
                .blocking(move |store| store.fact(&seen_key, &seen_id))
                .await?
            {
                let next = next_after(&pages)?;
                return Ok((
                    FactInjectionResponse {
                        events: Some(EventBook {
                            cover: Some(cover),
                            snapshot: None,
                            pages,
                            next_sequence: next,
                        }),
                        already_processed: true,
                        projections: Vec::new(),
                    },
                    None,
                ));
            }
        }
        let history = self.history(&key, &cover).await?;
        let next = history.next_sequence();
        let recorded = aggregate
            .handle_fact(FactRequest {
                facts: Some(facts),
                prior_events: Some(history.book.clone()),
            })
            .await?;
        let now = time::now();
        let mut pages = Vec::with_capacity(recorded.pages.len());
        for (index, mut page) in recorded.pages.into_iter().enumerate() {
            page.header = Some(PageHeader::at_sequence(sequence_at(next, index)?));
            page.created_at.get_or_insert(now);
            pages.push(page);
        }
        let next_sequence = sequence_at(next, pages.len())?;
        let persisted = EventBook {
            cover: Some(cover.clone()),
            snapshot: None,
            pages,
            next_sequence,
        };
        let written = if persisted.pages.is_empty() {
            None
        } else {
            Some(
                self.append_book(
                    &key,
                    history.inherited,
                    persisted.clone(),
                    None,
                    &cover.correlation_id,
                    fact_id,
                    None,
                    claim,
                )
                .await?,
            )
        };
        Ok((
            FactInjectionResponse {
                events: Some(persisted),
                already_processed: false,
                projections: Vec::new(),
            },
            written,
        ))
    }
}

/// Whom a command's sync mode delivers its book to before answering.
fn reach_of(sync_mode: i32) -> Option<SyncReach> {
    match SyncMode::try_from(sync_mode).unwrap_or_default() {
        SyncMode::Simple => Some(SyncReach::Projectors),
        SyncMode::Cascade => Some(SyncReach::Everyone),
        _ => None,
    }
}

fn accepted(response: &BusinessResponse) -> Outcome {
    Outcome {
        code: 0,
        message: String::new(),
        body: response.encode_to_vec(),
    }
}

/// A refusal's outcome: its code, message and details (a rejection's
/// coded `ErrorInfo`), so that a repeat answers the same status.
fn refused(status: &Status) -> Outcome {
    Outcome {
        code: status.code() as i32,
        message: status.message().to_owned(),
        body: status.details().to_vec(),
    }
}

/// The first outcome of a command run at most once, answered again.
fn repeat(outcome: Outcome) -> Result<Executed, Status> {
    if outcome.code != 0 {
        return Err(Status::with_details(
            Code::from_i32(outcome.code),
            outcome.message,
            outcome.body.into(),
        ));
    }
    let response = BusinessResponse::decode(outcome.body.as_slice()).map_err(|error| {
        Status::internal(format!("a recorded outcome does not decode: {error}"))
    })?;
    Ok(Executed {
        response,
        written: None,
    })
}

/// FAILED_PRECONDITION "Sequence mismatch: ..." with the current book in
/// the details: always the cover and `next_sequence`; the pages from the
/// command's expected sequence on, or else the snapshot, when they fit in
/// [`MAX_CONFLICT_DETAILS`].
fn sequence_mismatch(history: &History, expected: u32) -> Status {
    let next = history.next_sequence();
    let base = EventBook {
        cover: history.book.cover.clone(),
        snapshot: None,
        pages: Vec::new(),
        next_sequence: next,
    };
    let loaded_from = history
        .book
        .snapshot
        .as_ref()
        .map_or(0, |snapshot| snapshot.sequence.saturating_add(1));
    let mut candidates = Vec::with_capacity(2);
    if expected >= loaded_from || history.book.snapshot.is_none() {
        let pages: Vec<EventPage> = history
            .book
            .pages
            .iter()
            .filter(|page| page.sequence().is_some_and(|s| s >= expected))
            .cloned()
            .collect();
        candidates.push(EventBook {
            pages,
            ..base.clone()
        });
    }
    if let Some(snapshot) = &history.book.snapshot {
        candidates.push(EventBook {
            snapshot: Some(snapshot.clone()),
            ..base.clone()
        });
    }
    let details = candidates
        .iter()
        .map(Message::encode_to_vec)
        .find(|bytes| bytes.len() <= MAX_CONFLICT_DETAILS)
        .unwrap_or_else(|| base.encode_to_vec());
    Status::with_details(
        Code::FailedPrecondition,
        format!("Sequence mismatch: command expects {expected}, aggregate at {next}"),
        details.into(),
    )
}

/// `HandleCommand`.
pub(super) async fn handle_command(
    coordinator: &Coordinator,
    request: CommandRequest,
) -> Result<CommandResponse, Status> {
    let valid = validate::command_request(&request)?;
    let reach = reach_of(request.sync_mode);
    let mode = CascadeErrorMode::try_from(request.cascade_error_mode).unwrap_or_default();
    let claim = reach.map(|reach| coordinator.delivery().claim(reach));
    let executed = coordinator
        .run_command(Run {
            book: valid.book,
            root: valid.root,
            claim: claim.as_ref(),
            once: once_key(Once::Command, valid.book, valid.root),
        })
        .await?;
    let mut report = Report::default();
    if let (Some(claim), Some(written)) = (claim, &executed.written) {
        coordinator
            .deliver_claimed(claim, &written.book, mode, &mut report)
            .await;
    }
    let events = match (executed.written, executed.response.result) {
        (Some(written), _) => EventBook {
            snapshot: None,
            ..written.book
        },
        (None, Some(business_response::Result::Events(book))) => book,
        _ => EventBook::default(),
    };
    Ok(CommandResponse {
        events: Some(events),
        projections: report.projections,
        cascade_errors: report.errors,
    })
}

/// `HandleCompensation`.
pub(super) async fn handle_compensation(
    coordinator: &Coordinator,
    request: CommandRequest,
) -> Result<BusinessResponse, Status> {
    let valid = validate::command_request(&request)?;
    let once = once_key(Once::Compensation, valid.book, valid.root);
    let executed = coordinator
        .run_command(Run {
            book: valid.book,
            root: valid.root,
            claim: None,
            once: once.clone(),
        })
        .await?;
    if let Some(business_response::Result::Revocation(revocation)) = &executed.response.result {
        if revocation.emit_system_revocation {
            // Without a key the compensation cannot be recognised again, and
            // each one is recorded.
            let once =
                once.unwrap_or_else(|| format!("compensation:{}", uuid::Uuid::new_v4().simple()));
            coordinator
                .record_revocation(valid.cover, valid.root, &revocation.reason, &once, None)
                .await?;
        }
    }
    Ok(executed.response)
}

/// `HandleSyncSpeculative`.
pub(super) async fn handle_speculative(
    coordinator: &Coordinator,
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
        .ok_or_else(|| invalid("Speculative requires either as_of_sequence or as_of_timestamp"))?;
    let aggregate = Arc::clone(coordinator.aggregate(&valid.cover.domain)?);
    let key = key_of(valid.cover, valid.root);
    let pages: Vec<EventPage> = coordinator
        .timeline(&key, valid.cover)
        .await?
        .into_iter()
        .filter(|page| at_point(page, &point))
        .collect();
    let next = next_after(&pages)?;
    let pages = coordinator.upcast(&valid.cover.domain, pages).await?;
    let response = aggregate
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

/// `HandleEvent`.
pub(super) async fn handle_event(
    coordinator: &Coordinator,
    request: EventRequest,
) -> Result<FactInjectionResponse, Status> {
    let facts = request
        .events
        .ok_or_else(|| invalid("EventRequest must have events"))?;
    let claim = reach_of(request.sync_mode).map(|reach| coordinator.delivery().claim(reach));
    let (mut response, written) = coordinator.record_facts(facts, claim.as_ref()).await?;
    if let (Some(claim), Some(written)) = (claim, written) {
        let mut report = Report::default();
        coordinator
            .deliver_claimed(
                claim,
                &written.book,
                CascadeErrorMode::CascadeErrorContinue,
                &mut report,
            )
            .await;
        response.projections = report.projections;
    }
    Ok(response)
}

pub(super) fn at_point(page: &EventPage, point: &temporal_query::PointInTime) -> bool {
    match point {
        temporal_query::PointInTime::AsOfSequence(sequence) => {
            page.sequence().is_some_and(|s| s <= *sequence)
        }
        temporal_query::PointInTime::AsOfTime(at) => page
            .created_at
            .is_some_and(|created| (created.seconds, created.nanos) <= (at.seconds, at.nanos)),
    }
}
