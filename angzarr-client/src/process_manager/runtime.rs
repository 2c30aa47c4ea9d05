//! The process-manager runtime: `Prepare` and `Handle`, from request to
//! response, shared by the gRPC server, the test fixture and any custom host.
//!
//! - a trigger without a correlation id, of a domain the process manager
//!   does not consume, or empty, answers an empty response;
//! - `process_state` of another domain or another correlation id is
//!   INVALID_ARGUMENT, as is an undecodable event (naming type and sequence);
//! - state is rebuilt from `process_state` (snapshot, then later pages);
//! - each trigger page is handled in order with the state as the previous
//!   pages left it; `angzarr.Notification` pages go to `#[rejected]` handlers;
//! - the process manager's own events are stamped from
//!   `process_state.next_sequence` under its cover (root: the correlation id
//!   as a UUID, else [`process_root`]), then commands deferred to that cover,
//!   then facts.

use std::collections::HashMap;

use angzarr_proto::{
    Cover, Edition, EventBook, ProcessManagerHandleRequest, ProcessManagerHandleResponse,
    ProcessManagerPrepareRequest, ProcessManagerPrepareResponse, Snapshot, DEFAULT_EDITION,
};

use super::{PmContext, ProcessManager};
use crate::effects::wire::Origin;
use crate::history::{self, reported_sequence};
use crate::{consume, ComponentError, ComponentErrorKind, ComponentKind, Effects, MessageName};

/// The root of the process manager `name`'s history for `correlation_id`:
/// the correlation id itself when it is a UUID, else the UUIDv5 of
/// `{name}:{correlation_id}` in the OID namespace, so every coordinator and
/// every call agrees on it.
///
/// ```
/// use angzarr_client::process_manager::runtime::process_root;
///
/// let id = "6f1c2a8e-4a4b-4c7e-9a63-1f2d3c4b5a69";
/// assert_eq!(process_root("buy-in", id).to_string(), id);
/// assert_eq!(process_root("buy-in", "order-7"), process_root("buy-in", "order-7"));
/// assert_ne!(process_root("buy-in", "order-7"), process_root("refund", "order-7"));
/// ```
pub fn process_root(name: &str, correlation_id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(correlation_id).unwrap_or_else(|_| {
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{name}:{correlation_id}").as_bytes(),
        )
    })
}

/// Answers `ProcessManagerService.Prepare`: the aggregates whose sequences
/// handling the trigger needs, once each, on the trigger's edition.
pub fn prepare<P: ProcessManager>(
    pm: &P,
    request: &ProcessManagerPrepareRequest,
) -> Result<ProcessManagerPrepareResponse, ComponentError> {
    let trigger = request.trigger.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request: "ProcessManagerPrepareRequest",
            field: "trigger",
        })
    })?;
    let Some((cover, Trigger::Source)) = classify(pm, trigger, "ProcessManagerPrepareRequest")?
    else {
        return Ok(ProcessManagerPrepareResponse::default());
    };
    let workflow = Workflow::load(pm, request.process_state.as_ref(), cover)?;
    let mut destinations: Vec<Cover> = Vec::new();
    for delivered in consume::events(trigger) {
        if delivered.is_notification() {
            continue;
        }
        let Some(route) = MessageName::find(pm.prepared(), &delivered.event.type_url) else {
            continue;
        };
        let (sequence, event) = (delivered.sequence, delivered.event);
        let prepared = pm
            .prepare(route, event, &workflow.state)
            .map_err(|error| error.at_sequence(sequence))?;
        for mut destination in prepared {
            if destination.edition.is_none() {
                destination.edition = Some(workflow.process.edition.clone().unwrap_or_default());
            }
            if !destinations.contains(&destination) {
                destinations.push(destination);
            }
        }
    }
    Ok(ProcessManagerPrepareResponse { destinations })
}

/// Answers `ProcessManagerService.Handle`.
pub async fn handle<P: ProcessManager>(
    pm: &P,
    request: &ProcessManagerHandleRequest,
) -> Result<ProcessManagerHandleResponse, ComponentError> {
    let trigger = request.trigger.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request: "ProcessManagerHandleRequest",
            field: "trigger",
        })
    })?;
    let Some((cover, from)) = classify(pm, trigger, "ProcessManagerHandleRequest")? else {
        return Ok(ProcessManagerHandleResponse::default());
    };
    let mut workflow = Workflow::load(pm, request.process_state.as_ref(), cover)?;
    let effects = workflow
        .react(pm, trigger, cover, from, &request.destination_sequences)
        .await?;
    workflow.respond(pm, trigger, cover, effects)
}

/// Where a trigger comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// A source domain: its events go to `#[handles]`.
    Source,
    /// The process manager's own domain: only rejection notifications count.
    Own,
}

/// The trigger's cover and origin, or `None` when the process manager has
/// nothing to do with it.
fn classify<'t, P: ProcessManager>(
    pm: &P,
    trigger: &'t EventBook,
    request: &'static str,
) -> Result<Option<(&'t Cover, Trigger)>, ComponentError> {
    let cover = trigger.cover.as_ref().ok_or_else(|| {
        ComponentError::from(ComponentErrorKind::MissingField {
            request,
            field: "trigger cover",
        })
    })?;
    if cover.correlation_id.is_empty() || trigger.pages.is_empty() {
        return Ok(None);
    }
    if cover.domain == pm.name() {
        return Ok(Some((cover, Trigger::Own)));
    }
    if pm.sources().iter().any(|source| *source == cover.domain) {
        return Ok(Some((cover, Trigger::Source)));
    }
    Ok(None)
}

/// One workflow: its cover, its state, and where its history ends.
struct Workflow<S> {
    process: Cover,
    state: S,
    next: u64,
    produced: usize,
}

impl<S> Workflow<S> {
    fn load<P: ProcessManager<State = S>>(
        pm: &P,
        process_state: Option<&EventBook>,
        trigger: &Cover,
    ) -> Result<Self, ComponentError> {
        let own = process_state.and_then(|book| book.cover.as_ref());
        if let Some(own) = own {
            if !own.domain.is_empty() && own.domain != pm.name() {
                return Err(ComponentError::from(
                    ComponentErrorKind::ForeignProcessState {
                        reason: format!(
                            "belongs to domain `{}`, not to process manager `{}`",
                            crate::observe::clip(&own.domain),
                            pm.name()
                        ),
                    },
                ));
            }
            if !own.correlation_id.is_empty() && own.correlation_id != trigger.correlation_id {
                return Err(ComponentError::from(
                    ComponentErrorKind::ForeignProcessState {
                        reason: format!(
                            "belongs to correlation id `{}`, the trigger to `{}`",
                            crate::observe::clip(&own.correlation_id),
                            crate::observe::clip(&trigger.correlation_id)
                        ),
                    },
                ));
            }
        }
        let root = own
            .and_then(|cover| cover.root_uuid().ok())
            .unwrap_or_else(|| process_root(pm.name(), &trigger.correlation_id));
        let edition = match &trigger.edition {
            Some(edition) if !edition.name.is_empty() => edition.clone(),
            _ => Edition {
                name: DEFAULT_EDITION.to_owned(),
                divergences: Vec::new(),
            },
        };
        let process = Cover {
            domain: pm.name().to_owned(),
            root: Some(root.into()),
            correlation_id: trigger.correlation_id.clone(),
            edition: Some(edition),
        };
        let (state, next) = match process_state {
            None => (pm.new_state(), 0),
            Some(history) => (fold(pm, history)?, history::next_after(history)),
        };
        Ok(Workflow {
            process,
            state,
            next,
            produced: 0,
        })
    }

    /// Handles every trigger page in order, applying the events each produces
    /// before the next page is handled.
    async fn react<P: ProcessManager<State = S>>(
        &mut self,
        pm: &P,
        trigger: &EventBook,
        cover: &Cover,
        from: Trigger,
        destination_sequences: &HashMap<String, u32>,
    ) -> Result<Effects, ComponentError> {
        let mut effects = Effects::new();
        for delivered in consume::events(trigger) {
            let (sequence, event) = (delivered.sequence, delivered.event);
            let context = PmContext::new(
                cover,
                &self.process,
                sequence,
                reported_sequence(self.next, self.produced),
                destination_sequences,
            );
            let before = effects.events.len();
            if delivered.is_notification() {
                let rejection = consume::unpack_rejection(event)?;
                let Some(route) = consume::rejection_route(pm.rejections(), &rejection) else {
                    continue;
                };
                pm.compensate(route, &rejection, &self.state, context, &mut effects)
                    .await?;
            } else if from == Trigger::Source {
                let Some(route) = pm.route(&event.type_url) else {
                    continue;
                };
                pm.handle(route, event, &self.state, context, &mut effects)
                    .await
                    .map_err(|error| error.at_sequence(sequence))?;
            } else {
                continue;
            }
            for own in &effects.events[before..] {
                pm.apply(&mut self.state, own).map_err(|error| {
                    ComponentError::internal(format!(
                        "process manager {} produced an event it cannot apply: {error}",
                        pm.name()
                    ))
                })?;
            }
            self.produced = effects.events.len();
        }
        Ok(effects)
    }

    /// Its own events, stamped; then commands and facts.
    fn respond<P: ProcessManager<State = S>>(
        self,
        pm: &P,
        trigger: &EventBook,
        cover: &Cover,
        effects: Effects,
    ) -> Result<ProcessManagerHandleResponse, ComponentError> {
        let pages = history::stamp(effects.events, self.next)?;
        let last_own = pages.last().and_then(|page| page.sequence()).or_else(|| {
            self.next
                .checked_sub(1)
                .and_then(|last| u32::try_from(last).ok())
        });
        let process_events = match pages.last().and_then(|page| page.sequence()) {
            None => None,
            Some(last) => Some(EventBook {
                cover: Some(self.process.clone()),
                snapshot: pm.snapshot(&self.state).map(|packed| Snapshot {
                    sequence: last,
                    state: Some(packed),
                    retention: 0,
                }),
                next_sequence: reported_sequence(self.next, pages.len()),
                pages,
            }),
        };
        let trigger_seq = trigger.last_sequence().unwrap_or(0);
        let origin = Origin {
            kind: ComponentKind::ProcessManager,
            component: pm.name(),
            targets: pm.targets(),
            source: &self.process,
            source_seq: last_own.unwrap_or(0),
            trigger: cover,
            trigger_seq,
        };
        Ok(ProcessManagerHandleResponse {
            process_events,
            commands: origin.command_books(effects.commands)?,
            facts: origin.fact_books(effects.facts)?,
        })
    }
}

/// The state of the workflow whose history is `history`.
fn fold<P: ProcessManager>(pm: &P, history: &EventBook) -> Result<P::State, ComponentError> {
    let mut state = match &history.snapshot {
        Some(snapshot) => history::restore_snapshot(
            || format!("process manager {}", pm.name()),
            snapshot,
            |packed| pm.restore(packed),
        )?,
        None => pm.new_state(),
    };
    let floor = history.snapshot.as_ref().map(|snapshot| snapshot.sequence);
    history::fold_pages(&history.pages, floor, |event| {
        pm.apply(&mut state, event).map(drop)
    })?;
    Ok(state)
}

/// Rebuilds a workflow's state from its history (snapshot, then later pages),
/// as `Handle` does before reacting.
pub fn rebuild<P: ProcessManager>(
    pm: &P,
    history: Option<&EventBook>,
) -> Result<P::State, ComponentError> {
    match history {
        None => Ok(pm.new_state()),
        Some(history) => fold(pm, history),
    }
}
