//! The client crate's services, called in this process.

use angzarr_client::proto::command_handler_service_server::CommandHandlerService;
use angzarr_client::proto::process_manager_service_server::ProcessManagerService as PmRpc;
use angzarr_client::proto::projector_service_server::ProjectorService as ProjectorRpc;
use angzarr_client::proto::saga_service_server::SagaService as SagaRpc;
use angzarr_client::proto::upcaster_service_server::UpcasterService as UpcasterRpc;
use angzarr_client::{
    Aggregate, AggregateService, ProcessManager, ProcessManagerService, Projector,
    ProjectorService, Saga, SagaService, Upcaster, UpcasterService,
};
use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, SagaHandleRequest, SagaResponse, UpcastRequest, UpcastResponse,
};
use tonic::{Request, Status};

use super::{AggregateLogic, ProcessManagerLogic, ProjectorLogic, SagaLogic, UpcasterLogic};

#[tonic::async_trait]
impl<A: Aggregate> AggregateLogic for AggregateService<A> {
    async fn handle(&self, command: ContextualCommand) -> Result<BusinessResponse, Status> {
        Ok(CommandHandlerService::handle(self, Request::new(command))
            .await?
            .into_inner())
    }

    async fn handle_fact(&self, facts: FactRequest) -> Result<EventBook, Status> {
        Ok(
            CommandHandlerService::handle_fact(self, Request::new(facts))
                .await?
                .into_inner(),
        )
    }

    fn describe(&self) -> String {
        format!("in-process aggregate {}", self.aggregate().name())
    }
}

#[tonic::async_trait]
impl<S: Saga> SagaLogic for SagaService<S> {
    async fn handle(&self, request: SagaHandleRequest) -> Result<SagaResponse, Status> {
        Ok(SagaRpc::handle(self, Request::new(request))
            .await?
            .into_inner())
    }

    fn describe(&self) -> String {
        format!("in-process saga {}", self.saga().name())
    }
}

#[tonic::async_trait]
impl<P: ProcessManager> ProcessManagerLogic for ProcessManagerService<P> {
    async fn prepare(
        &self,
        request: ProcessManagerPrepareRequest,
    ) -> Result<ProcessManagerPrepareResponse, Status> {
        Ok(PmRpc::prepare(self, Request::new(request))
            .await?
            .into_inner())
    }

    async fn handle(
        &self,
        request: ProcessManagerHandleRequest,
    ) -> Result<ProcessManagerHandleResponse, Status> {
        Ok(PmRpc::handle(self, Request::new(request))
            .await?
            .into_inner())
    }

    fn describe(&self) -> String {
        format!(
            "in-process process manager {}",
            self.process_manager().name()
        )
    }
}

#[tonic::async_trait]
impl<P: Projector> ProjectorLogic for ProjectorService<P> {
    async fn handle(&self, book: EventBook) -> Result<Projection, Status> {
        Ok(ProjectorRpc::handle(self, Request::new(book))
            .await?
            .into_inner())
    }

    async fn handle_speculative(&self, book: EventBook) -> Result<Projection, Status> {
        Ok(ProjectorRpc::handle_speculative(self, Request::new(book))
            .await?
            .into_inner())
    }

    fn describe(&self) -> String {
        format!("in-process projector {}", self.projector().name())
    }
}

#[tonic::async_trait]
impl<U: Upcaster> UpcasterLogic for UpcasterService<U> {
    async fn upcast(&self, request: UpcastRequest) -> Result<UpcastResponse, Status> {
        Ok(UpcasterRpc::upcast(self, Request::new(request))
            .await?
            .into_inner())
    }

    fn describe(&self) -> String {
        format!("in-process upcaster {}", self.upcaster().name())
    }
}
