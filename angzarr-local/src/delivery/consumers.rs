//! Delivering one book to one consumer, and executing what it emits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use angzarr_client::process_manager::runtime::process_root;
use angzarr_client::{CompensationContext, ComponentKind};
use angzarr_proto::{
    page_header, time, AngzarrDeferredSequence, CascadeError, CascadeErrorMode, CommandBook, Cover,
    Edition, EventBook, EventPage, PageHeader, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, SagaHandleRequest, SyncMode,
    DEFAULT_EDITION,
};
use prost::Message;
use tonic::Status;

use super::{is_rejection, ClaimGuard, Report, MAX_REJECTION_DEPTH};
use crate::component::{ProcessManagerLogic, SagaLogic};
use crate::coordinator::{key_of, Coordinator, Run};
use crate::registry::{Consumer, ConsumerLogic};
use crate::store::{OutboxEntry, Outcome, SyncReach, Undelivered};
use crate::validate;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a book is being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// By the outbox: failures are retried, nothing is reported.
    Outbox,
    /// Inside a CASCADE command: what follows is delivered depth first and
    /// failures are reported in `cascade_errors`.
    Cascade(CascadeErrorMode),
    /// Inside a SIMPLE command: projectors only.
    Simple,
}

/// The identity of a published book: its aggregate and last sequence.
fn trigger_id(book: &EventBook) -> String {
    let cover = book.cover.as_ref();
    format!(
        "{}:{}:{}:{}",
        book.domain(),
        book.edition_name(),
        cover
            .and_then(|cover| cover.root.as_ref())
            .map(|root| root.to_hex())
            .unwrap_or_default(),
        book.last_sequence().unwrap_or_default()
    )
}

/// Gives an emitted command the source's edition when it names none, and
/// the deferred header: a deferred one keeps its `source_seq` (and gets the
/// source when it names none); any other is replaced.
fn defer(mut command: CommandBook, source: &Cover, source_seq: u32) -> CommandBook {
    if let Some(cover) = &mut command.cover {
        if cover.edition.as_ref().is_none_or(|e| e.name.is_empty()) {
            cover.edition = Some(source.edition.clone().unwrap_or_else(|| Edition {
                name: DEFAULT_EDITION.to_owned(),
                divergences: Vec::new(),
            }));
        }
    }
    for page in &mut command.pages {
        let header = page.header.get_or_insert_with(PageHeader::default);
        match &mut header.sequence_type {
            Some(page_header::SequenceType::AngzarrDeferred(deferred)) => {
                if deferred.source.is_none() {
                    deferred.source = Some(source.clone());
                }
            }
            other => {
                *other = Some(page_header::SequenceType::AngzarrDeferred(
                    AngzarrDeferredSequence {
                        source: Some(source.clone()),
                        source_seq,
                    },
                ));
            }
        }
    }
    command
}

fn command_name(command: &CommandBook) -> String {
    command
        .first_page()
        .and_then(|page| page.command())
        .map_or_else(
            || "command".to_owned(),
            |any| angzarr_proto::type_url::type_name(&any.type_url).to_owned(),
        )
}

fn cascade_error(consumer: &Consumer, source_domain: &str, message: String) -> CascadeError {
    CascadeError {
        component_name: consumer.name.clone(),
        component_type: consumer.kind().default_service_name().to_owned(),
        error_message: message,
        source_domain: source_domain.to_owned(),
    }
}

/// How an emitted command ended.
enum Emitted {
    Done,
    Rejected(Status),
}

impl Coordinator {
    /// Delivers a claimed book to every consumer the claim reaches, then
    /// settles the claim: projectors first, then sagas and process managers,
    /// each in registration order. Projectors see the book before anything
    /// it causes is stored, so that a read model receives each aggregate's
    /// books in order even when a cascade writes to the same aggregate again
    /// (a read model that skips what is at or below its stored position
    /// would otherwise lose the earlier book).
    pub(crate) fn deliver_claimed<'a>(
        &'a self,
        claim: ClaimGuard,
        book: &'a EventBook,
        mode: CascadeErrorMode,
        report: &'a mut Report,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let path = match claim.reach() {
                SyncReach::Projectors => Path::Simple,
                SyncReach::Everyone => Path::Cascade(mode),
            };
            let mut consumers: Vec<Arc<Consumer>> = self
                .registry()
                .consumers
                .iter()
                .filter(|consumer| super::claims::covers(claim.reach(), consumer))
                .filter(|consumer| consumer.wants(book))
                .filter(|consumer| !report.left_to_outbox.contains(&consumer.index))
                .cloned()
                .collect();
            // Stable: registration order within each group.
            consumers
                .sort_by_key(|consumer| !matches!(consumer.logic, ConsumerLogic::Projector(_)));
            let backlog = self.delivery().backlog();
            for consumer in consumers {
                if report.stopped {
                    break;
                }
                let patience = self.delivery().patience();
                if !backlog.caught_up(&consumer, book, patience).await {
                    // An earlier book of this aggregate is still queued for
                    // it: the outbox delivers both, in order.
                    report.left_to_outbox.push(consumer.index);
                    continue;
                }
                match self.deliver_to(&consumer, book, path, report).await {
                    Ok(()) if report.stopped => {}
                    Ok(()) => {
                        claim.handled(consumer.index);
                        backlog.received(&consumer, book);
                    }
                    Err(status) => {
                        report.errors.push(cascade_error(
                            &consumer,
                            book.domain(),
                            format!("{} failed: {}", consumer.describe(), status.message()),
                        ));
                        match mode {
                            CascadeErrorMode::CascadeErrorFailFast => report.stopped = true,
                            CascadeErrorMode::CascadeErrorCompensate if path != Path::Simple => {
                                // The failure is compensated at the book's
                                // aggregate: the outbox does not retry it.
                                match self.compensate_failure(&consumer, book, &status).await {
                                    Ok(()) => {
                                        // The outbox leaves the book alone
                                        // from now on: it is a dead letter
                                        // of this consumer, with its cause.
                                        self.set_aside(&claim, &consumer, book, &status).await;
                                        claim.handled(consumer.index);
                                        backlog.received(&consumer, book);
                                    }
                                    Err(failed) => {
                                        tracing::warn!(
                                            consumer = %consumer.name,
                                            error = failed.message(),
                                            "the failure could not be compensated: the outbox retries the book"
                                        );
                                        report.left_to_outbox.push(consumer.index);
                                    }
                                }
                            }
                            _ => report.left_to_outbox.push(consumer.index),
                        }
                    }
                }
            }
            drop(claim);
        })
    }

    /// Records a compensated failure as a dead letter of `consumer`, its
    /// position left where it is: the book is accounted for, and replayable.
    async fn set_aside(
        &self,
        claim: &ClaimGuard,
        consumer: &Consumer,
        book: &EventBook,
        status: &Status,
    ) {
        let Some(entry) = claim.entry() else {
            return;
        };
        let entry = OutboxEntry {
            id: entry,
            domain: book.domain().to_owned(),
            claim: None,
            consumer: None,
            book: book.clone(),
        };
        let key = consumer.position_key.clone();
        let (code, message) = (status.code() as i32, status.message().to_owned());
        let recorded = self
            .blocking(move |store| {
                store.dead_letter(&Undelivered {
                    consumer: &key,
                    entry: &entry,
                    code,
                    message: &message,
                    attempts: 1,
                    advance: false,
                })
            })
            .await;
        match recorded {
            Ok(id) => {
                tracing::warn!(consumer = %consumer.name, dead_letter = id, "the failure was compensated; the book is a dead letter of the consumer")
            }
            Err(failed) => {
                tracing::error!(consumer = %consumer.name, error = failed.message(), "cannot record the compensated book as a dead letter")
            }
        }
    }

    async fn compensate_failure(
        &self,
        consumer: &Consumer,
        book: &EventBook,
        status: &Status,
    ) -> Result<(), Status> {
        let Some(source) = book.cover.as_ref() else {
            return Ok(());
        };
        let once = format!("{}:{}:failure", consumer.position_key, trigger_id(book));
        let context = CompensationContext::failure(
            source.clone(),
            book.last_sequence(),
            format!(
                "{} {} failed: {}",
                consumer.kind(),
                consumer.name,
                status.message()
            ),
            consumer.kind(),
            consumer.name.clone(),
        );
        self.compensate(source, &context, once, None)
            .await
            .map(|_| ())
    }

    /// Delivers `book` to `consumer` and executes what it emits.
    pub(crate) fn deliver_to<'a>(
        &'a self,
        consumer: &'a Consumer,
        book: &'a EventBook,
        path: Path,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            tracing::debug!(
                consumer = %consumer.name,
                kind = %consumer.kind(),
                domain = book.domain(),
                last = book.last_sequence(),
                "delivering"
            );
            match &consumer.logic {
                ConsumerLogic::Projector(logic) => {
                    let projection = logic.handle(book.clone()).await?;
                    if path != Path::Outbox {
                        report.projections.push(projection);
                    }
                    Ok(())
                }
                ConsumerLogic::Saga(logic) => {
                    self.deliver_to_saga(consumer, logic, book, path, report)
                        .await
                }
                ConsumerLogic::ProcessManager(logic) => {
                    let trigger = trigger_id(book);
                    self.deliver_to_process_manager(
                        consumer, logic, book, &trigger, path, report, 0,
                    )
                    .await
                }
            }
        })
    }

    async fn deliver_to_saga(
        &self,
        consumer: &Consumer,
        logic: &Arc<dyn SagaLogic>,
        book: &EventBook,
        path: Path,
        report: &mut Report,
    ) -> Result<(), Status> {
        let response = logic
            .handle(SagaHandleRequest {
                source: Some(book.clone()),
                sync_mode: SyncMode::Simple.into(),
                cascade_error_mode: CascadeErrorMode::CascadeErrorFailFast.into(),
                destination_sequences: Default::default(),
            })
            .await?;
        let source = book.cover.clone().unwrap_or_default();
        let source_seq = book.last_sequence().unwrap_or_default();
        let once = format!("{}:{}", consumer.position_key, trigger_id(book));
        for (index, command) in response.commands.into_iter().enumerate() {
            let command = defer(command, &source, source_seq);
            let key = format!("{once}:command:{index}");
            if let Emitted::Rejected(status) =
                self.emit(&command, key.clone(), path, report).await?
            {
                self.rejected(consumer, &source, command, &status, &key, path, report)
                    .await?;
                if report.stopped {
                    return Ok(());
                }
            }
        }
        self.emit_facts(consumer, response.events, path, report)
            .await
    }

    /// Reports a rejected emitted command and compensates its source.
    #[allow(clippy::too_many_arguments)]
    async fn rejected(
        &self,
        consumer: &Consumer,
        source: &Cover,
        command: CommandBook,
        status: &Status,
        key: &str,
        path: Path,
        report: &mut Report,
    ) -> Result<(), Status> {
        let message = format!(
            "{} to {} rejected: {}",
            command_name(&command),
            command.domain(),
            status.message()
        );
        tracing::info!(consumer = %consumer.name, %message, "compensating");
        let claim = self.cascade_claim(path);
        let context = CompensationContext::new(
            command,
            status.message(),
            consumer.kind(),
            consumer.name.clone(),
        );
        let written = self
            .compensate(
                source,
                &context,
                format!("{key}:compensation"),
                claim.as_ref(),
            )
            .await;
        let written = match written {
            Ok(written) => written,
            Err(refused) if is_rejection(&refused) => {
                tracing::warn!(
                    consumer = %consumer.name,
                    source = source.domain,
                    error = refused.message(),
                    "the source aggregate refused the compensation"
                );
                None
            }
            Err(failed) => return Err(failed),
        };
        if let Path::Cascade(mode) = path {
            report
                .errors
                .push(cascade_error(consumer, &source.domain, message));
            if let (Some(claim), Some(written)) = (claim, written) {
                self.deliver_claimed(claim, &written.book, mode, report)
                    .await;
            }
            if mode == CascadeErrorMode::CascadeErrorFailFast {
                report.stopped = true;
            }
        }
        Ok(())
    }

    fn cascade_claim(&self, path: Path) -> Option<ClaimGuard> {
        match path {
            Path::Cascade(_) => Some(self.delivery().claim(SyncReach::Everyone)),
            Path::Outbox | Path::Simple => None,
        }
    }

    /// Runs one emitted command at most once under `key`; in a cascade, its
    /// book is delivered before this returns.
    async fn emit(
        &self,
        command: &CommandBook,
        key: String,
        path: Path,
        report: &mut Report,
    ) -> Result<Emitted, Status> {
        // A command angzarr-local cannot take as it is was never the
        // business's to refuse: it fails the delivery (retried, then a dead
        // letter), as any failure that is not a rejection.
        let root = validate::command_book(command)?.root;
        let claim = self.cascade_claim(path);
        match self
            .run_command(Run {
                book: command,
                root,
                claim: claim.as_ref(),
                once: Some(key),
            })
            .await
        {
            Ok(executed) => {
                if let (Path::Cascade(mode), Some(claim), Some(written)) =
                    (path, claim, executed.written)
                {
                    self.deliver_claimed(claim, &written.book, mode, report)
                        .await;
                }
                Ok(Emitted::Done)
            }
            Err(status) if is_rejection(&status) => Ok(Emitted::Rejected(status)),
            Err(status) => Err(status),
        }
    }

    /// Records emitted facts through the fact path (once per external id).
    async fn emit_facts(
        &self,
        consumer: &Consumer,
        facts: Vec<EventBook>,
        path: Path,
        report: &mut Report,
    ) -> Result<(), Status> {
        for fact in facts {
            let domain = fact.domain().to_owned();
            let claim = self.cascade_claim(path);
            match self.record_facts(fact, claim.as_ref()).await {
                Ok((_, written)) => {
                    if let (Path::Cascade(mode), Some(claim), Some(written)) =
                        (path, claim, written)
                    {
                        self.deliver_claimed(claim, &written.book, mode, report)
                            .await;
                    }
                }
                Err(status) if is_rejection(&status) => {
                    tracing::warn!(
                        consumer = %consumer.name,
                        domain,
                        error = status.message(),
                        "a fact was refused"
                    );
                    if let Path::Cascade(_) = path {
                        report.errors.push(cascade_error(
                            consumer,
                            &domain,
                            format!("fact for {domain} refused: {}", status.message()),
                        ));
                    }
                }
                Err(status) => return Err(status),
            }
        }
        Ok(())
    }

    /// A process manager's turn for one trigger: `Prepare`, `Handle`, its
    /// events stored (once per trigger), then its commands and facts.
    #[allow(clippy::too_many_arguments)]
    fn deliver_to_process_manager<'a>(
        &'a self,
        consumer: &'a Consumer,
        logic: &'a Arc<dyn ProcessManagerLogic>,
        trigger: &'a EventBook,
        trigger_key: &'a str,
        path: Path,
        report: &'a mut Report,
        depth: usize,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let once = format!("{}:{trigger_key}", consumer.position_key);
            let decided = self
                .decide_process(consumer, logic, trigger, &once, path)
                .await?;
            if let (Path::Cascade(mode), Some((claim, written))) = (path, decided.written) {
                self.deliver_claimed(claim, &written, mode, report).await;
            }
            let source = decided.cover;
            for (index, command) in decided.response.commands.into_iter().enumerate() {
                let command = defer(command, &source, decided.source_seq);
                let key = format!("{once}:command:{index}");
                let Emitted::Rejected(status) =
                    self.emit(&command, key.clone(), path, report).await?
                else {
                    continue;
                };
                // The process manager hears of it first (its #[rejected]
                // handlers), then the aggregate whose book triggered it.
                if depth < MAX_REJECTION_DEPTH {
                    let notice = self.rejection_trigger(&source, &command, &status).await?;
                    self.deliver_to_process_manager(
                        consumer,
                        logic,
                        &notice,
                        &format!("{key}:rejected"),
                        path,
                        report,
                        depth + 1,
                    )
                    .await?;
                } else {
                    tracing::warn!(
                        process_manager = %consumer.name,
                        "rejections keep coming: this one is not passed on to the process manager"
                    );
                }
                let trigger_cover = trigger.cover.clone().unwrap_or_default();
                if trigger_cover.domain != consumer.name {
                    self.rejected(
                        consumer,
                        &trigger_cover,
                        command,
                        &status,
                        &key,
                        path,
                        report,
                    )
                    .await?;
                }
                if report.stopped {
                    return Ok(());
                }
            }
            self.emit_facts(consumer, decided.response.facts, path, report)
                .await
        })
    }

    /// The trigger telling a process manager that one of its commands was
    /// rejected: a book of its own cover with one `angzarr.Notification`.
    async fn rejection_trigger(
        &self,
        process: &Cover,
        command: &CommandBook,
        status: &Status,
    ) -> Result<EventBook, Status> {
        let root = validate::root(process)?;
        let key = key_of(process, root);
        let next = self
            .blocking(move |store| store.next_sequence(&key))
            .await?;
        let payload = CompensationContext::new(
            command.clone(),
            status.message(),
            ComponentKind::ProcessManager,
            process.domain.clone(),
        )
        .notification_any();
        let mut page = EventPage::new(next, payload);
        page.created_at = Some(time::now());
        Ok(EventBook {
            cover: Some(process.clone()),
            snapshot: None,
            pages: vec![page],
            next_sequence: next,
        })
    }

    /// Under the workflow's lock: the recorded decision for this trigger,
    /// or a new one (`Prepare`, destination sequences, `Handle`) stored with
    /// the process events it produced.
    async fn decide_process(
        &self,
        consumer: &Consumer,
        logic: &Arc<dyn ProcessManagerLogic>,
        trigger: &EventBook,
        once: &str,
        path: Path,
    ) -> Result<Decided, Status> {
        let correlation_id = trigger.correlation_id().to_owned();
        let root = process_root(&consumer.name, &correlation_id);
        let trigger_cover = trigger.cover.clone().unwrap_or_default();
        let cover = Cover {
            domain: consumer.name.clone(),
            root: Some(root.into()),
            correlation_id: correlation_id.clone(),
            edition: trigger_cover.edition.clone(),
        };
        let key = key_of(&cover, root);
        let _held = self.lock(&key).await;
        let history = self.history(&key, &cover).await?;
        let next = history.book.next_sequence;
        let decision_key = format!("{once}:decision");
        let lookup = decision_key.clone();
        if let Some(outcome) = self.blocking(move |store| store.outcome(&lookup)).await? {
            let response =
                ProcessManagerHandleResponse::decode(outcome.body.as_slice()).map_err(|error| {
                    Status::internal(format!("a recorded decision does not decode: {error}"))
                })?;
            let source_seq = response
                .process_events
                .as_ref()
                .and_then(EventBook::last_sequence)
                .unwrap_or(next.saturating_sub(1));
            return Ok(Decided {
                cover,
                source_seq,
                response,
                written: None,
            });
        }
        let process_state = (!history.book.pages.is_empty() || history.book.snapshot.is_some())
            .then(|| history.book.clone());
        let prepared = logic
            .prepare(ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: process_state.clone(),
            })
            .await?;
        let mut destination_sequences = std::collections::HashMap::new();
        for destination in prepared.destinations {
            let Ok(destination_root) = validate::root(&destination) else {
                continue;
            };
            let destination_key = key_of(&destination, destination_root);
            let next = self
                .blocking(move |store| store.next_sequence(&destination_key))
                .await?;
            // The protocol's value: the highest page sequence + 1, which is
            // 1 for an aggregate without events.
            destination_sequences.insert(destination.domain.clone(), next.max(1));
        }
        let response = logic
            .handle(ProcessManagerHandleRequest {
                trigger: Some(trigger.clone()),
                process_state,
                destination_sequences,
            })
            .await?;
        let outcome = Outcome {
            code: 0,
            message: String::new(),
            body: response.encode_to_vec(),
        };
        let events = response.process_events.clone().unwrap_or_default();
        if events.pages.is_empty() {
            // A decision with commands or facts is remembered, so that a
            // redelivery sends the same ones (under the same keys); one
            // with nothing at all would be decided the same way again, and
            // remembering it would grow the store by a row for every book
            // the process manager ignores.
            if !response.commands.is_empty() || !response.facts.is_empty() {
                let outcome_key = decision_key.clone();
                self.blocking(move |store| store.record_outcome(&outcome_key, &outcome))
                    .await?;
            }
            return Ok(Decided {
                cover,
                source_seq: next.saturating_sub(1),
                response,
                written: None,
            });
        }
        if events.domain() != consumer.name
            || events
                .cover
                .as_ref()
                .and_then(|c| c.root_uuid().ok())
                .is_some_and(|r| r != root)
        {
            return Err(Status::internal(format!(
                "{} returned process events for {}/{}, not for its own workflow {}/{}",
                consumer.describe(),
                events.domain(),
                events
                    .cover
                    .as_ref()
                    .and_then(|c| c.root.as_ref())
                    .map(|r| r.to_hex())
                    .unwrap_or_default(),
                consumer.name,
                root.simple()
            )));
        }
        let last = events.last_sequence();
        let snapshot = events
            .snapshot
            .clone()
            .filter(|snapshot| snapshot.state.is_some() && Some(snapshot.sequence) == last);
        let persisted = EventBook {
            cover: Some(cover.clone()),
            snapshot: None,
            next_sequence: events.next_sequence.max(next),
            pages: events
                .pages
                .into_iter()
                .map(|mut page| {
                    page.created_at.get_or_insert_with(time::now);
                    page
                })
                .collect(),
        };
        let claim = self.cascade_claim(path);
        let written = self
            .append_book(
                &key,
                history.inherited,
                persisted,
                snapshot,
                &correlation_id,
                None,
                Some((decision_key, outcome)),
                claim.as_ref(),
            )
            .await
            .map_err(|status| {
                Status::internal(format!(
                    "{} process events not stored: {}",
                    consumer.describe(),
                    status.message()
                ))
            })?;
        Ok(Decided {
            cover,
            source_seq: last.unwrap_or_default(),
            response,
            written: claim.map(|claim| (claim, written.book)),
        })
    }
}

/// A process manager's decision for one trigger.
struct Decided {
    /// The workflow's cover.
    cover: Cover,
    /// Its highest sequence, the source_seq of its commands.
    source_seq: u32,
    response: ProcessManagerHandleResponse,
    /// The stored process events, claimed for a cascade.
    written: Option<(ClaimGuard, EventBook)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Any, AnyExt, CommandPage};

    #[test]
    fn defer_rewrites_headers_and_fills_the_edition() {
        let source = Cover::new("table", uuid::Uuid::from_u128(1)).with_edition("what-if");
        let mut kept = CommandPage::new(0, Any::pack(&Cover::default()));
        kept.header = Some(PageHeader {
            sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                AngzarrDeferredSequence {
                    source: None,
                    source_seq: 3,
                },
            )),
        });
        let command = CommandBook {
            cover: Some(Cover::new("player", uuid::Uuid::from_u128(2))),
            pages: vec![CommandPage::new(7, Any::pack(&Cover::default())), kept],
        };
        let deferred = defer(command, &source, 9);
        assert_eq!(deferred.cover.as_ref().unwrap().edition_name(), "what-if");
        let sequences: Vec<_> = deferred
            .pages
            .iter()
            .map(|page| match &page.header.as_ref().unwrap().sequence_type {
                Some(page_header::SequenceType::AngzarrDeferred(d)) => {
                    (d.source.as_ref().unwrap().domain.clone(), d.source_seq)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sequences, [("table".into(), 9), ("table".into(), 3)]);
    }
}
