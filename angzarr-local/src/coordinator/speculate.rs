//! Dry runs of sagas, process managers and projectors: what each would
//! answer for the books a client supplies, with nothing executed, stored or
//! written. One coordinator runs many components of a kind, so a request
//! names its component (`x-angzarr-component`), or the book's domain must
//! be read by exactly one.

use std::sync::Arc;

use angzarr_client::ComponentKind;
use angzarr_proto::{
    EventBook, ProcessManagerHandleResponse, Projection, SagaResponse, SpeculatePmRequest,
    SpeculateProjectorRequest, SpeculateSagaRequest,
};
use tonic::Status;

use super::Coordinator;
use crate::registry::{Consumer, ConsumerLogic};
use crate::validate::invalid;

impl Coordinator {
    /// The component of `kind` a speculative request is for: the one
    /// `named`, else the only one subscribed to `book`'s domain.
    fn speculative_target(
        &self,
        kind: ComponentKind,
        named: Option<&str>,
        book: &EventBook,
    ) -> Result<&Arc<Consumer>, Status> {
        let of_kind = || {
            self.registry()
                .consumers
                .iter()
                .filter(move |c| c.kind() == kind)
        };
        if let Some(name) = named {
            return self.registry().consumer(kind, name).ok_or_else(|| {
                let known: Vec<&str> = of_kind().map(|c| c.name.as_str()).collect();
                unknown(format!(
                    "no {kind} called `{name}`; this coordinator runs: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            });
        }
        let domain = book.domain();
        let readers: Vec<&Arc<Consumer>> = of_kind()
            .filter(|c| c.subscriptions.iter().any(|s| s.domain == domain))
            .collect();
        match readers.as_slice() {
            [one] => Ok(one),
            [] => Err(unknown(format!("no {kind} reads domain `{domain}`"))),
            several => Err(invalid(format!(
                "several {kind}s read domain `{domain}` ({}): name one with `{}` metadata",
                several
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                angzarr_client::COMPONENT_METADATA_KEY
            ))),
        }
    }

    /// `ProjectorCoordinatorService.HandleSpeculative`: the projection the
    /// projector would make of the events, its read model untouched.
    pub async fn speculate_projector(
        &self,
        named: Option<&str>,
        request: SpeculateProjectorRequest,
    ) -> Result<Projection, Status> {
        let book = request
            .events
            .ok_or_else(|| invalid("SpeculateProjectorRequest must have events"))?;
        let consumer = self.speculative_target(ComponentKind::Projector, named, &book)?;
        match &consumer.logic {
            ConsumerLogic::Projector(logic) => logic.handle_speculative(book).await,
            _ => unreachable_kind(consumer),
        }
    }

    /// `SagaCoordinatorService.ExecuteSpeculative`: the commands and facts
    /// the saga would emit, none of them sent.
    pub async fn speculate_saga(
        &self,
        named: Option<&str>,
        request: SpeculateSagaRequest,
    ) -> Result<SagaResponse, Status> {
        let request = request
            .request
            .ok_or_else(|| invalid("SpeculateSagaRequest must have a request"))?;
        let source = request
            .source
            .as_ref()
            .ok_or_else(|| invalid("SagaHandleRequest must have a source book"))?;
        let consumer = self.speculative_target(ComponentKind::Saga, named, source)?;
        match &consumer.logic {
            ConsumerLogic::Saga(logic) => logic.handle(request).await,
            _ => unreachable_kind(consumer),
        }
    }

    /// `ProcessManagerCoordinatorService.HandleSpeculative`: the process
    /// events, commands and facts the process manager would decide, none
    /// of them stored or sent.
    pub async fn speculate_process_manager(
        &self,
        named: Option<&str>,
        request: SpeculatePmRequest,
    ) -> Result<ProcessManagerHandleResponse, Status> {
        let request = request
            .request
            .ok_or_else(|| invalid("SpeculatePmRequest must have a request"))?;
        let trigger = request
            .trigger
            .as_ref()
            .ok_or_else(|| invalid("ProcessManagerHandleRequest must have a trigger"))?;
        let consumer = self.speculative_target(ComponentKind::ProcessManager, named, trigger)?;
        if trigger.correlation_id().is_empty() {
            return Err(invalid(format!(
                "process manager `{}` runs one workflow per correlation id, and the trigger has none",
                consumer.name
            )));
        }
        match &consumer.logic {
            ConsumerLogic::ProcessManager(logic) => logic.handle(request).await,
            _ => unreachable_kind(consumer),
        }
    }
}

fn unreachable_kind<T>(consumer: &Consumer) -> Result<T, Status> {
    Err(Status::internal(format!(
        "{} was registered as a {} but is not one",
        consumer.name,
        consumer.kind()
    )))
}

/// NOT_FOUND, coded [`UNKNOWN_COMPONENT`](angzarr_client::coded::UNKNOWN_COMPONENT).
fn unknown(message: String) -> Status {
    angzarr_client::coded::with_error_code(
        Status::not_found(message),
        angzarr_client::coded::UNKNOWN_COMPONENT,
    )
}
