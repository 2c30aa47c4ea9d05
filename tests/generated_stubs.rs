//! Every RPC of the coordinator's schema has a generated client method and a
//! server trait method. The function references below only compile if the
//! stubs exist; the test then checks that the list covers every RPC of the
//! reference listing (or of our own descriptors when the reference is absent).

use std::collections::BTreeSet;

use angzarr_proto as pb;
use prost::Message;
use tonic::transport::Channel;

/// `"/package.Service/Method" => client method, server trait method;`
macro_rules! rpc_stubs {
    ($($path:literal => $client_mod:ident :: $client:ident, $client_fn:ident($request:expr), $server:path, $server_fn:ident;)+) => {{
        // Type-checked where it is defined: each method must exist on its trait.
        #[allow(dead_code)]
        fn server_methods<S>()
        where
            S: pb::command_handler_service_server::CommandHandlerService
                + pb::command_handler_coordinator_service_server::CommandHandlerCoordinatorService
                + pb::event_query_service_server::EventQueryService
                + pb::event_stream_service_server::EventStreamService
                + pb::saga_service_server::SagaService
                + pb::saga_coordinator_service_server::SagaCoordinatorService
                + pb::projector_service_server::ProjectorService
                + pb::projector_coordinator_service_server::ProjectorCoordinatorService
                + pb::process_manager_service_server::ProcessManagerService
                + pb::process_manager_coordinator_service_server::ProcessManagerCoordinatorService
                + pb::upcaster_service_server::UpcasterService,
        {
            $( let _ = <S as $server>::$server_fn; )+
        }
        // Never called: it compiles only if every client method exists and
        // accepts its request type.
        #[allow(dead_code)]
        async fn client_methods(channel: Channel) {
            $( let _ = $client_mod::$client::<Channel>::new(channel.clone()).$client_fn($request).await; )+
        }
        [$($path),+]
    }};
}

#[allow(clippy::type_complexity)]
fn stub_paths() -> BTreeSet<&'static str> {
    use pb::*;
    let paths = rpc_stubs! {
        "/angzarr.CommandHandlerService/Handle" => command_handler_service_client::CommandHandlerServiceClient, handle(ContextualCommand::default()), command_handler_service_server::CommandHandlerService, handle;
        "/angzarr.CommandHandlerService/HandleFact" => command_handler_service_client::CommandHandlerServiceClient, handle_fact(FactRequest::default()), command_handler_service_server::CommandHandlerService, handle_fact;
        "/angzarr.CommandHandlerService/Replay" => command_handler_service_client::CommandHandlerServiceClient, replay(ReplayRequest::default()), command_handler_service_server::CommandHandlerService, replay;
        "/angzarr.CommandHandlerCoordinatorService/HandleCommand" => command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient, handle_command(CommandRequest::default()), command_handler_coordinator_service_server::CommandHandlerCoordinatorService, handle_command;
        "/angzarr.CommandHandlerCoordinatorService/HandleEvent" => command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient, handle_event(EventRequest::default()), command_handler_coordinator_service_server::CommandHandlerCoordinatorService, handle_event;
        "/angzarr.CommandHandlerCoordinatorService/HandleSyncSpeculative" => command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient, handle_sync_speculative(SpeculateCommandHandlerRequest::default()), command_handler_coordinator_service_server::CommandHandlerCoordinatorService, handle_sync_speculative;
        "/angzarr.CommandHandlerCoordinatorService/HandleCompensation" => command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient, handle_compensation(CommandRequest::default()), command_handler_coordinator_service_server::CommandHandlerCoordinatorService, handle_compensation;
        "/angzarr.EventQueryService/GetEventBook" => event_query_service_client::EventQueryServiceClient, get_event_book(Query::default()), event_query_service_server::EventQueryService, get_event_book;
        "/angzarr.EventQueryService/GetEvents" => event_query_service_client::EventQueryServiceClient, get_events(Query::default()), event_query_service_server::EventQueryService, get_events;
        "/angzarr.EventQueryService/Synchronize" => event_query_service_client::EventQueryServiceClient, synchronize(tokio_stream::empty::<Query>()), event_query_service_server::EventQueryService, synchronize;
        "/angzarr.EventQueryService/GetAggregateRoots" => event_query_service_client::EventQueryServiceClient, get_aggregate_roots(()), event_query_service_server::EventQueryService, get_aggregate_roots;
        "/angzarr.EventStreamService/Subscribe" => event_stream_service_client::EventStreamServiceClient, subscribe(EventStreamFilter::default()), event_stream_service_server::EventStreamService, subscribe;
        "/angzarr.SagaService/Handle" => saga_service_client::SagaServiceClient, handle(SagaHandleRequest::default()), saga_service_server::SagaService, handle;
        "/angzarr.SagaCoordinatorService/Execute" => saga_coordinator_service_client::SagaCoordinatorServiceClient, execute(SagaHandleRequest::default()), saga_coordinator_service_server::SagaCoordinatorService, execute;
        "/angzarr.SagaCoordinatorService/ExecuteSpeculative" => saga_coordinator_service_client::SagaCoordinatorServiceClient, execute_speculative(SpeculateSagaRequest::default()), saga_coordinator_service_server::SagaCoordinatorService, execute_speculative;
        "/angzarr.ProjectorService/Handle" => projector_service_client::ProjectorServiceClient, handle(EventBook::default()), projector_service_server::ProjectorService, handle;
        "/angzarr.ProjectorService/HandleSpeculative" => projector_service_client::ProjectorServiceClient, handle_speculative(EventBook::default()), projector_service_server::ProjectorService, handle_speculative;
        "/angzarr.ProjectorCoordinatorService/Handle" => projector_coordinator_service_client::ProjectorCoordinatorServiceClient, handle(EventBook::default()), projector_coordinator_service_server::ProjectorCoordinatorService, handle;
        "/angzarr.ProjectorCoordinatorService/HandleSync" => projector_coordinator_service_client::ProjectorCoordinatorServiceClient, handle_sync(EventRequest::default()), projector_coordinator_service_server::ProjectorCoordinatorService, handle_sync;
        "/angzarr.ProjectorCoordinatorService/HandleSpeculative" => projector_coordinator_service_client::ProjectorCoordinatorServiceClient, handle_speculative(SpeculateProjectorRequest::default()), projector_coordinator_service_server::ProjectorCoordinatorService, handle_speculative;
        "/angzarr.ProcessManagerService/Prepare" => process_manager_service_client::ProcessManagerServiceClient, prepare(ProcessManagerPrepareRequest::default()), process_manager_service_server::ProcessManagerService, prepare;
        "/angzarr.ProcessManagerService/Handle" => process_manager_service_client::ProcessManagerServiceClient, handle(ProcessManagerHandleRequest::default()), process_manager_service_server::ProcessManagerService, handle;
        "/angzarr.ProcessManagerCoordinatorService/Handle" => process_manager_coordinator_service_client::ProcessManagerCoordinatorServiceClient, handle(ProcessManagerCoordinatorRequest::default()), process_manager_coordinator_service_server::ProcessManagerCoordinatorService, handle;
        "/angzarr.ProcessManagerCoordinatorService/HandleSpeculative" => process_manager_coordinator_service_client::ProcessManagerCoordinatorServiceClient, handle_speculative(SpeculatePmRequest::default()), process_manager_coordinator_service_server::ProcessManagerCoordinatorService, handle_speculative;
        "/angzarr.UpcasterService/Upcast" => upcaster_service_client::UpcasterServiceClient, upcast(UpcastRequest::default()), upcaster_service_server::UpcasterService, upcast;
    };
    paths.into_iter().collect()
}

/// RPC paths declared by a descriptor set, for package `angzarr`.
fn declared_paths(bytes: &[u8]) -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(bytes).expect("descriptor set decodes");
    set.file
        .iter()
        .filter(|file| file.package() == "angzarr")
        .flat_map(|file| {
            file.service.iter().flat_map(move |service| {
                service
                    .method
                    .iter()
                    .map(move |method| format!("/angzarr.{}/{}", service.name(), method.name()))
            })
        })
        .collect()
}

#[test]
fn every_rpc_has_client_and_server_stubs() {
    let stubs: BTreeSet<String> = stub_paths().into_iter().map(str::to_owned).collect();

    let ours = declared_paths(pb::FILE_DESCRIPTOR_SET);
    assert_eq!(stubs, ours, "the stub list and our descriptors disagree");

    let reference = tests::wire::reference_dir().join("angzarr.fds.bin");
    match std::fs::read(&reference) {
        Ok(bytes) => assert_eq!(
            stubs,
            declared_paths(&bytes),
            "stubs vs the reference schema"
        ),
        Err(err) => eprintln!(
            "{}: {err}; compared with our own descriptors only",
            reference.display()
        ),
    }
    assert_eq!(stubs.len(), 25);
}
