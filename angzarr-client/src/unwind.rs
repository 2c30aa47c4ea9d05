//! Fault isolation: a panicking handler fails its own call, not the server;
//! and every call's outcome worth a line logged with what identifies it.

use std::any::Any as PanicPayload;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::observe;
use crate::{ComponentError, ComponentErrorKind};

/// How one call is logged: the DEBUG span of its detail, entered while it
/// runs, and how to make the INFO span that identifies it, called only when
/// a line about the call is written and the detail span is off.
pub(crate) struct CallLog<F> {
    detail: tracing::Span,
    identify: F,
    started: Instant,
    slow: Duration,
}

impl<F: FnOnce() -> tracing::Span> CallLog<F> {
    /// The log of a call starting now, slow past the process's threshold.
    pub(crate) fn new(detail: tracing::Span, identify: F) -> Self {
        CallLog {
            detail,
            identify,
            started: Instant::now(),
            slow: observe::slow_call(),
        }
    }

    /// The call's answer from its work's outcome (`Err` holding a panic's
    /// message). A refusal or failure is logged (rejections at info,
    /// internal errors at error, other refusals at warn; `subject` names
    /// what was handled, e.g. "command"), and so is a call slower than the
    /// threshold (at warn), each inside a span naming the call. A call that
    /// went well writes nothing unless DEBUG is on.
    fn concluded<T>(
        self,
        subject: &'static str,
        outcome: Result<Result<T, ComponentError>, String>,
    ) -> Result<T, tonic::Status> {
        let result = outcome.unwrap_or_else(|panic| {
            Err(ComponentError::internal(format!(
                "the handler panicked: {panic}"
            )))
        });
        let elapsed = self.started.elapsed();
        let slow = elapsed >= self.slow;
        if result.is_ok() && !slow {
            if !self.detail.is_disabled() {
                self.detail
                    .in_scope(|| tracing::debug!(?elapsed, "{subject} handled"));
            }
            return result.map_err(tonic::Status::from);
        }
        let span = if self.detail.is_disabled() {
            (self.identify)()
        } else {
            self.detail
        };
        let _entered = span.enter();
        if let Err(error) = &result {
            match error.kind() {
                ComponentErrorKind::Rejected(rejection) => {
                    tracing::info!(code = ?rejection.code(), reason = rejection.message(), "{subject} rejected");
                }
                ComponentErrorKind::Internal(_) => tracing::error!(%error, "{subject} failed"),
                _ => tracing::warn!(code = ?error.code(), %error, "{subject} refused"),
            }
        }
        if slow {
            tracing::warn!(?elapsed, threshold = ?self.slow, "{subject} slow");
        }
        result.map_err(tonic::Status::from)
    }
}

/// Runs one gRPC call's work inside its detail span: a panic becomes
/// INTERNAL "the handler panicked: ...", and the outcome is logged as
/// [`CallLog::concluded`] says.
pub(crate) async fn guarded<T>(
    log: CallLog<impl FnOnce() -> tracing::Span>,
    subject: &'static str,
    work: impl Future<Output = Result<T, ComponentError>>,
) -> Result<T, tonic::Status> {
    let outcome = catch_unwind_async(work)
        .instrument(log.detail.clone())
        .await;
    log.concluded(subject, outcome)
}

/// [`guarded`] for work done at once, without awaiting.
pub(crate) fn guarded_now<T>(
    log: CallLog<impl FnOnce() -> tracing::Span>,
    subject: &'static str,
    work: impl FnOnce() -> Result<T, ComponentError>,
) -> Result<T, tonic::Status> {
    let outcome = log
        .detail
        .in_scope(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| panic_message(payload.as_ref()));
    log.concluded(subject, outcome)
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    fn quiet() -> CallLog<impl FnOnce() -> tracing::Span> {
        CallLog::new(tracing::Span::none(), tracing::Span::none)
    }

    #[test]
    fn a_panic_at_once_becomes_internal() {
        let status = guarded_now::<()>(quiet(), "command", || panic!("boom {}", 8))
            .expect_err("a panic fails the call");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(
            status.message(),
            "internal error: the handler panicked: boom 8"
        );
        assert_eq!(guarded_now(quiet(), "command", || Ok(5)).ok(), Some(5));
    }

    /// What a subscriber at `level` prints while `run` runs.
    fn printed(level: tracing::Level, run: impl FnOnce()) -> String {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(Arc::clone(&sink)))
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let bytes = lines.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A call's log whose identifying span counts how often it is made.
    fn counted(made: &AtomicUsize, slow: Duration) -> CallLog<impl FnOnce() -> tracing::Span + '_> {
        let mut log = CallLog::new(
            tracing::debug_span!("handle", domain = "player", root = "ab"),
            move || {
                made.fetch_add(1, Ordering::SeqCst);
                tracing::info_span!("handle", domain = "player", root = "ab")
            },
        );
        log.slow = slow;
        log
    }

    #[test]
    fn a_call_that_goes_well_writes_nothing_and_names_nothing_at_info() {
        let made = AtomicUsize::new(0);
        let text = printed(tracing::Level::INFO, || {
            let log = counted(&made, Duration::from_secs(60));
            assert!(log.detail.is_disabled(), "the detail span is off at INFO");
            assert_eq!(guarded_now(log, "command", || Ok(1)).ok(), Some(1));
        });
        assert_eq!(text, "");
        assert_eq!(made.load(Ordering::SeqCst), 0, "no span was made");
    }

    #[test]
    fn a_refusal_is_logged_inside_the_span_that_names_the_call() {
        let made = AtomicUsize::new(0);
        let text = printed(tracing::Level::INFO, || {
            let log = counted(&made, Duration::from_secs(60));
            let refused = guarded_now::<()>(log, "command", || {
                Err(crate::Rejection::precondition("insufficient funds").into())
            });
            assert!(refused.is_err());
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
        let line = text.lines().next().unwrap_or_default();
        assert!(line.contains(" INFO "), "{text}");
        assert!(
            line.contains("handle{domain=\"player\" root=\"ab\"}"),
            "{text}"
        );
        assert!(line.contains("command rejected"), "{text}");
        assert!(line.contains("reason=\"insufficient funds\""), "{text}");
    }

    #[test]
    fn a_slow_call_is_logged_at_warn_with_what_names_it() {
        let made = AtomicUsize::new(0);
        let text = printed(tracing::Level::INFO, || {
            let log = counted(&made, Duration::ZERO);
            assert_eq!(guarded_now(log, "command", || Ok(2)).ok(), Some(2));
        });
        let line = text.lines().next().unwrap_or_default();
        assert!(line.contains(" WARN "), "{text}");
        assert!(line.contains("handle{domain=\"player\""), "{text}");
        assert!(line.contains("command slow"), "{text}");
        assert!(line.contains("threshold=0ns"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn at_debug_the_detail_span_names_every_call_and_nothing_is_made_twice() {
        let made = AtomicUsize::new(0);
        let text = printed(tracing::Level::DEBUG, || {
            let log = counted(&made, Duration::from_secs(60));
            assert_eq!(guarded_now(log, "command", || Ok(3)).ok(), Some(3));
            let log = counted(&made, Duration::from_secs(60));
            let failed =
                guarded_now::<()>(log, "command", || Err(ComponentError::internal("disk")));
            assert!(failed.is_err());
        });
        assert_eq!(made.load(Ordering::SeqCst), 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("DEBUG handle{domain=\"player\""),
            "{text}"
        );
        assert!(lines[0].contains("command handled"), "{text}");
        assert!(
            lines[1].contains("ERROR handle{domain=\"player\""),
            "{text}"
        );
        assert!(lines[1].contains("command failed"), "{text}");
    }

    #[test]
    fn a_panic_becomes_its_message() {
        let caught = block_on(catch_unwind_async(async { panic!("boom {}", 7) }));
        assert_eq!(caught, Err::<(), _>("boom 7".to_owned()));
        let fine = block_on(catch_unwind_async(async { 3 }));
        assert_eq!(fine, Ok(3));
    }
}
