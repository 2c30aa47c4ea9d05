//! Fault isolation: a panicking handler fails its own call, not the server;
//! and every call's outcome logged in its span.

use std::any::Any as PanicPayload;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Instrument;

use crate::{ComponentError, ComponentErrorKind};

/// Runs one gRPC call's work inside `span`: a panic becomes INTERNAL "the
/// handler panicked: ...", and the outcome is logged (rejections at info,
/// internal errors at error, other refusals at warn; `subject` names what
/// was handled, e.g. "command").
pub(crate) async fn guarded<T>(
    span: tracing::Span,
    subject: &'static str,
    work: impl Future<Output = Result<T, ComponentError>>,
) -> Result<T, tonic::Status> {
    let outcome = CatchUnwind::new(work).instrument(span.clone()).await;
    let _entered = span.enter();
    let result = outcome.unwrap_or_else(|panic| {
        Err(ComponentError::internal(format!(
            "the handler panicked: {panic}"
        )))
    });
    match &result {
        Ok(_) => tracing::debug!("{subject} handled"),
        Err(error) => match error.kind() {
            ComponentErrorKind::Rejected(rejection) => {
                tracing::info!(code = ?rejection.code(), reason = rejection.message(), "{subject} rejected");
            }
            ComponentErrorKind::Internal(_) => tracing::error!(%error, "{subject} failed"),
            _ => tracing::warn!(code = ?error.code(), %error, "{subject} refused"),
        },
    }
    result.map_err(tonic::Status::from)
}

/// Polls `inner`, turning a panic into `Err(message)`.
pub(crate) struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchUnwind {
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        // The future is dropped after a panic and never polled again, so a
        // broken invariant inside it cannot be observed.
        match catch_unwind(AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The text a panic was raised with, when it was a string.
pub(crate) fn panic_message(payload: &(dyn PanicPayload + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;

    #[test]
    fn a_panic_becomes_its_message() {
        let caught = block_on(CatchUnwind::new(async { panic!("boom {}", 7) }));
        assert_eq!(caught, Err::<(), _>("boom 7".to_owned()));
        let fine = block_on(CatchUnwind::new(async { 3 }));
        assert_eq!(fine, Ok(3));
    }
}
