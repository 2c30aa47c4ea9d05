//! Every call angzarr-local makes to business logic, in process or over
//! gRPC, ends by a deadline: a component that hangs holds its aggregate's
//! lock, or its consumer's place in the outbox, only that long. A call past
//! it fails with DEADLINE_EXCEEDED naming the component, which delivery
//! retries as it does any failure that may pass; the abandoned call is
//! dropped (over gRPC, the stream is reset).
//!
//! Components are registered wrapped in [`Bounded`], so that no call site
//! can forget; the deadline itself is shared, so that the builder can set it
//! before or after the components.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use angzarr_proto::{
    BusinessResponse, ContextualCommand, EventBook, FactRequest, ProcessManagerHandleRequest,
    ProcessManagerHandleResponse, ProcessManagerPrepareRequest, ProcessManagerPrepareResponse,
    Projection, SagaHandleRequest, SagaResponse, UpcastRequest, UpcastResponse,
};
use tonic::Status;

use super::{AggregateLogic, ProcessManagerLogic, ProjectorLogic, SagaLogic, UpcasterLogic};

/// How long a call to a component may take unless told otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The deadline of every call, shared by the components of one coordinator.
#[derive(Clone)]
pub(crate) struct Deadline(Arc<AtomicU64>);

impl Default for Deadline {
    fn default() -> Self {
        let deadline = Deadline(Arc::new(AtomicU64::new(0)));
        deadline.set(DEFAULT_CALL_TIMEOUT);
        deadline
    }
}

impl Deadline {
    pub(crate) fn set(&self, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.0.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }

    /// `call`, or DEADLINE_EXCEEDED naming the component (as `describe`
    /// says) and `method` once the deadline passes.
    async fn bound<T>(
        &self,
        describe: impl FnOnce() -> String,
        method: &str,
        call: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let timeout = self.get();
        match tokio::time::timeout(timeout, call).await {
            Ok(answered) => answered,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{} did not answer {method} within {timeout:?}",
                describe()
            ))),
        }
    }
}

/// A component whose every call ends by the shared deadline.
pub(crate) struct Bounded<T: ?Sized> {
    inner: Arc<T>,
    deadline: Deadline,
}

impl<T: ?Sized> Bounded<T> {
    pub(crate) fn new(inner: Arc<T>, deadline: &Deadline) -> Arc<Self> {
        Arc::new(Bounded {
            inner,
            deadline: deadline.clone(),
        })
    }
}

/// The trait of a kind for [`Bounded`]: each method bounded, under its
/// gRPC name.
macro_rules! bounded {
    ($logic:ident { $($method:ident($request:ty) -> $response:ty as $name:literal;)* }) => {
        #[tonic::async_trait]
        impl $logic for Bounded<dyn $logic> {
            $(
                async fn $method(&self, request: $request) -> Result<$response, Status> {
                    let call = self.inner.$method(request);
                    self.deadline
                        .bound(|| self.inner.describe(), $name, call)
                        .await
                }
            )*

            fn describe(&self) -> String {
                self.inner.describe()
            }
        }
    };
}

bounded!(AggregateLogic {
    handle(ContextualCommand) -> BusinessResponse as "Handle";
    handle_fact(FactRequest) -> EventBook as "HandleFact";
});
bounded!(SagaLogic {
    handle(SagaHandleRequest) -> SagaResponse as "Handle";
});
bounded!(ProcessManagerLogic {
    prepare(ProcessManagerPrepareRequest) -> ProcessManagerPrepareResponse as "Prepare";
    handle(ProcessManagerHandleRequest) -> ProcessManagerHandleResponse as "Handle";
});
bounded!(ProjectorLogic {
    handle(EventBook) -> Projection as "Handle";
    handle_speculative(EventBook) -> Projection as "HandleSpeculative";
});
bounded!(UpcasterLogic {
    upcast(UpcastRequest) -> UpcastResponse as "Upcast";
});

#[cfg(test)]
mod tests {
    use super::*;

    struct Hung;

    #[tonic::async_trait]
    impl UpcasterLogic for Hung {
        async fn upcast(&self, _: UpcastRequest) -> Result<UpcastResponse, Status> {
            std::future::pending().await
        }

        fn describe(&self) -> String {
            "upcaster hung".into()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_the_deadline_fails_naming_the_component() {
        let deadline = Deadline::default();
        assert_eq!(deadline.get(), DEFAULT_CALL_TIMEOUT);
        deadline.set(Duration::from_millis(250));
        let hung: Arc<dyn UpcasterLogic> = Arc::new(Hung);
        let bounded = Bounded::new(hung, &deadline);
        let status = bounded.upcast(UpcastRequest::default()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(
            status.message(),
            "upcaster hung did not answer Upcast within 250ms"
        );
    }
}
