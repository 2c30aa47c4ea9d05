//! Fault isolation: a panicking handler fails its own call, not the server;
//! and every call's outcome logged in its span.

use std::any::Any as PanicPayload;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

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
    let outcome = catch_unwind_async(work).instrument(span.clone()).await;
    concluded(&span, subject, outcome)
}

/// [`guarded`] for work done at once, without awaiting.
pub(crate) fn guarded_now<T>(
    span: &tracing::Span,
    subject: &'static str,
    work: impl FnOnce() -> Result<T, ComponentError>,
) -> Result<T, tonic::Status> {
    let outcome = span
        .in_scope(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| panic_message(payload.as_ref()));
    concluded(span, subject, outcome)
}

/// The call's answer from its work's outcome (`Err` holding a panic's
/// message), logged inside `span`.
fn concluded<T>(
    span: &tracing::Span,
    subject: &'static str,
    outcome: Result<Result<T, ComponentError>, String>,
) -> Result<T, tonic::Status> {
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

/// Runs `work`, turning a panic while it is polled into `Err(message)`.
/// The future is pinned in place (no allocation) and, after a panic, dropped
/// without being polled again, so a broken invariant inside it cannot be
/// observed.
pub(crate) async fn catch_unwind_async<F: Future>(work: F) -> Result<F::Output, String> {
    let mut work = pin!(work);
    poll_fn(
        move |cx| match catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        },
    )
    .await
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
    fn a_panic_at_once_becomes_internal() {
        let span = tracing::Span::none();
        let status = guarded_now::<()>(&span, "command", || panic!("boom {}", 8))
            .expect_err("a panic fails the call");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(
            status.message(),
            "internal error: the handler panicked: boom 8"
        );
        assert_eq!(guarded_now(&span, "command", || Ok(5)).ok(), Some(5));
    }

    #[test]
    fn a_panic_becomes_its_message() {
        let caught = block_on(catch_unwind_async(async { panic!("boom {}", 7) }));
        assert_eq!(caught, Err::<(), _>("boom 7".to_owned()));
        let fine = block_on(catch_unwind_async(async { 3 }));
        assert_eq!(fine, Ok(3));
    }
}
