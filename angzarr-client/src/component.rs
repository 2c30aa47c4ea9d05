//! The five kinds of Angzarr business logic, and what each is called on the
//! wire, in health checks and in socket names.

use std::fmt;

/// The kind of a component: one of the five kinds of business logic an
/// Angzarr coordinator calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    /// Decides commands from its own history (`angzarr.CommandHandlerService`).
    Aggregate,
    /// Turns one domain's events into other domains' commands (`angzarr.SagaService`).
    Saga,
    /// Runs a workflow across domains, with state of its own
    /// (`angzarr.ProcessManagerService`).
    ProcessManager,
    /// Turns events into read models and outside effects (`angzarr.ProjectorService`).
    Projector,
    /// Upgrades old event versions as history is loaded (`angzarr.UpcasterService`).
    Upcaster,
}

impl ComponentKind {
    /// Every kind, in the order above.
    pub const ALL: [ComponentKind; 5] = [
        ComponentKind::Aggregate,
        ComponentKind::Saga,
        ComponentKind::ProcessManager,
        ComponentKind::Projector,
        ComponentKind::Upcaster,
    ];

    /// The fully qualified gRPC service this kind serves.
    pub const fn service_name(self) -> &'static str {
        match self {
            ComponentKind::Aggregate => "angzarr.CommandHandlerService",
            ComponentKind::Saga => "angzarr.SagaService",
            ComponentKind::ProcessManager => "angzarr.ProcessManagerService",
            ComponentKind::Projector => "angzarr.ProjectorService",
            ComponentKind::Upcaster => "angzarr.UpcasterService",
        }
    }

    /// The short name health checks also answer for (`CommandHandler`, `Saga`, ...).
    pub const fn health_name(self) -> &'static str {
        match self {
            ComponentKind::Aggregate => "CommandHandler",
            ComponentKind::Saga => "Saga",
            ComponentKind::ProcessManager => "ProcessManager",
            ComponentKind::Projector => "Projector",
            ComponentKind::Upcaster => "Upcaster",
        }
    }

    /// The `SERVICE_NAME` a server of this kind uses when the environment
    /// sets none: the prefix the real coordinator looks for in
    /// `{UDS_BASE_PATH}/{prefix}-{name}.sock`. An upcaster is served on its
    /// aggregate's address, so it shares the aggregate's prefix.
    pub const fn default_service_name(self) -> &'static str {
        match self {
            ComponentKind::Aggregate | ComponentKind::Upcaster => "business",
            ComponentKind::Saga => "saga",
            ComponentKind::ProcessManager => "process-manager",
            ComponentKind::Projector => "projector",
        }
    }

    /// The kind in words, lower case (`process manager`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Aggregate => "aggregate",
            ComponentKind::Saga => "saga",
            ComponentKind::ProcessManager => "process manager",
            ComponentKind::Projector => "projector",
            ComponentKind::Upcaster => "upcaster",
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_protocol() {
        let services: Vec<_> = ComponentKind::ALL
            .iter()
            .map(|kind| kind.service_name())
            .collect();
        for service in &services {
            assert!(
                angzarr_proto_service_exists(service),
                "{service} is not in the schema"
            );
        }
        assert_eq!(
            ComponentKind::ProcessManager.default_service_name(),
            "process-manager"
        );
    }

    fn angzarr_proto_service_exists(name: &str) -> bool {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(angzarr_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        set.file.iter().any(|file| {
            file.service
                .iter()
                .any(|service| format!("{}.{}", file.package(), service.name()) == name)
        })
    }
}
