//! Trying a call again when the transport failed: exponential backoff with
//! jitter, bounded in attempts and in total time.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::ClientError;

/// When and how often a client tries a call again after a transport
/// failure: the connection refused or lost, or the server UNAVAILABLE.
///
/// A business rejection, a sequence conflict, an invalid argument or any
/// other answer of the server is returned at once: only failures to reach
/// the server are retried. A call the server may already have carried out
/// (the connection broke after the request was sent) is retried only when
/// repeating it is safe: queries, facts (deduplicated by external id), and
/// commands whose merge strategy checks the sequence (a repeat of a command
/// already stored meets a sequence conflict instead of running twice), but
/// not `MERGE_AGGREGATE_HANDLES` commands.
///
/// The wait before retry *n* is `initial_backoff * multiplier^(n-1)`, at most
/// `max_backoff`, shortened by a random fraction of up to `jitter` (so that
/// clients failing together do not retry together), unless the server said
/// how long to wait (`grpc-retry-pushback-ms`, or `retry-after` in seconds;
/// see [`ClientError::retry_after`](crate::ClientError::retry_after)): then
/// its wait is the wait. No retry starts once `max_elapsed` would be passed
/// since the first attempt.
///
/// ```
/// use std::time::Duration;
/// use angzarr_client::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(4)
///     .with_backoff(Duration::from_millis(100), Duration::from_secs(1))
///     .with_jitter(0.0);
/// assert_eq!(policy.delay(1, 0.0), Duration::from_millis(100));
/// assert_eq!(policy.delay(2, 0.0), Duration::from_millis(200));
/// assert_eq!(policy.delay(5, 0.0), Duration::from_secs(1));
/// assert_eq!(RetryPolicy::none().max_attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    jitter: f64,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 50 ms doubling to at most 2 s, half of each wait
    /// jittered, 15 s in all: enough to ride out a sidecar's restart.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            multiplier: 2.0,
            jitter: 0.5,
            max_elapsed: Duration::from_secs(15),
        }
    }
}

/// Whether the server may already have carried out a call that broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Running it twice does no harm (reads, deduplicated writes).
    Safe,
    /// Only retried when the server certainly did not get it.
    Unsafe,
}

impl RetryPolicy {
    /// One attempt, no retry: what clients do unless told otherwise.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// At most `attempts` attempts in all, the first included (0 counts as 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first wait, and the longest any wait grows to.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// How much each wait grows (at least 1).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The largest fraction by which a wait is shortened at random, from 0
    /// (none) to 1 (anywhere between zero and the full wait).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// No retry starts once this long has passed since the first attempt.
    pub fn with_max_elapsed(mut self, total: Duration) -> Self {
        self.max_elapsed = total;
        self
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The time budget of all attempts.
    pub fn max_elapsed(&self) -> Duration {
        self.max_elapsed
    }

    /// The wait before retry `retry` (1 for the first retry), for a random
    /// draw `random` in `[0, 1)`.
    pub fn delay(&self, retry: u32, random: f64) -> Duration {
        let growth = self
            .multiplier
            .powi(i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX));
        let full = self.initial_backoff.as_secs_f64() * growth;
        let capped = full.min(self.max_backoff.as_secs_f64());
        let shortened = capped * (1.0 - self.jitter * random.clamp(0.0, 1.0));
        Duration::try_from_secs_f64(shortened).unwrap_or(self.max_backoff)
    }

    /// Whether `error` from an attempt is worth another.
    pub(crate) fn retries(&self, error: &ClientError, repeat: Repeat) -> bool {
        match error {
            // Nothing reached a server.
            ClientError::Connection { .. } => true,
            ClientError::Grpc(status) => status.code() == tonic::Code::Unavailable,
            // The request may have been carried out.
            ClientError::ConnectionLost(_) | ClientError::Transport(_) => repeat == Repeat::Safe,
            _ => false,
        }
    }

    /// Runs `attempt` until it succeeds, fails in a way not worth
    /// retrying, or the attempts or the time budget run out; the last
    /// error is returned.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        repeat: Repeat,
        mut attempt: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let started = Instant::now();
        let mut tries = 1;
        loop {
            let error = match attempt().await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if tries >= self.max_attempts || !self.retries(&error, repeat) {
                return Err(error);
            }
            // A server that says when to come back is listened to (gRPC's
            // retry pushback): its wait replaces the policy's own.
            let wait = error
                .retry_after()
                .unwrap_or_else(|| self.delay(tries, fastrand::f64()));
            if started.elapsed() + wait > self.max_elapsed {
                return Err(error);
            }
            tracing::debug!(attempt = tries, ?wait, %error, "retrying after a transport failure");
            tokio::time::sleep(wait).await;
            tries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick() -> RetryPolicy {
        RetryPolicy::default()
            .with_backoff(Duration::ZERO, Duration::ZERO)
            .with_max_attempts(4)
    }

    #[test]
    fn waits_grow_are_capped_and_jittered_downwards() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_millis(10), Duration::from_millis(35))
            .with_multiplier(2.0)
            .with_jitter(0.5);
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(10));
        assert_eq!(policy.delay(2, 0.0), Duration::from_millis(20));
        assert_eq!(policy.delay(3, 0.0), Duration::from_millis(35));
        assert_eq!(policy.delay(40, 0.0), Duration::from_millis(35));
        // The most a wait is shortened is by the jitter fraction.
        assert_eq!(policy.delay(1, 0.999_999), Duration::from_nanos(5_000_005));
        assert_eq!(
            policy.with_jitter(1.0).delay(1, 0.5),
            Duration::from_millis(5)
        );
        assert_eq!(policy.with_jitter(7.0), policy.with_jitter(1.0));
        assert_eq!(
            policy.with_multiplier(f64::NAN).delay(3, 0.0),
            Duration::from_millis(10)
        );
        assert_eq!(RetryPolicy::none().with_max_attempts(0).max_attempts(), 1);
    }

    #[test]
    fn only_transport_failures_are_retried() {
        let policy = RetryPolicy::default();
        let refused = ClientError::Connection {
            endpoint: "http://127.0.0.1:1".into(),
            message: "refused".into(),
        };
        let lost = ClientError::ConnectionLost("reset".into());
        let unavailable = ClientError::Grpc(tonic::Status::unavailable("restarting"));
        assert!(policy.retries(&refused, Repeat::Unsafe));
        assert!(policy.retries(&unavailable, Repeat::Unsafe));
        assert!(policy.retries(&lost, Repeat::Safe));
        assert!(!policy.retries(&lost, Repeat::Unsafe));
        for answer in [
            tonic::Status::failed_precondition("Insufficient funds"),
            tonic::Status::failed_precondition(
                "Sequence mismatch: command expects 1, aggregate at 3",
            ),
            tonic::Status::invalid_argument("amount must be positive"),
            tonic::Status::not_found("no such domain"),
            tonic::Status::internal("boom"),
            tonic::Status::deadline_exceeded("late"),
        ] {
            assert!(!policy.retries(&ClientError::Grpc(answer), Repeat::Safe));
        }
    }

    fn attempts_until(
        policy: RetryPolicy,
        repeat: Repeat,
        mut answers: Vec<Result<u8, ClientError>>,
    ) -> (Result<u8, ClientError>, usize) {
        let made = Cell::new(0);
        answers.reverse();
        let answers = std::cell::RefCell::new(answers);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let outcome = runtime.block_on(policy.run(repeat, || {
            made.set(made.get() + 1);
            let next = answers.borrow_mut().pop().unwrap_or(Ok(0));
            async move { next }
        }));
        (outcome, made.get())
    }

    #[test]
    fn runs_until_success_a_final_answer_or_the_attempts_run_out() {
        let unavailable = || Err(ClientError::Grpc(tonic::Status::unavailable("down")));
        let (outcome, made) = attempts_until(
            quick(),
            Repeat::Unsafe,
            vec![unavailable(), unavailable(), Ok(7)],
        );
        assert_eq!((outcome.unwrap(), made), (7, 3));

        let (outcome, made) = attempts_until(
            quick(),
            Repeat::Unsafe,
            (0..10).map(|_| unavailable()).collect(),
        );
        assert!(outcome.unwrap_err().is_connection_error());
        assert_eq!(made, 4);

        let rejected = Err(ClientError::Grpc(tonic::Status::failed_precondition("no")));
        let (outcome, made) = attempts_until(quick(), Repeat::Safe, vec![rejected, Ok(1)]);
        assert!(outcome.unwrap_err().is_rejection());
        assert_eq!(made, 1);

        let (_, made) = attempts_until(
            RetryPolicy::none(),
            Repeat::Safe,
            vec![unavailable(), Ok(1)],
        );
        assert_eq!(made, 1);
    }

    /// A server's pushback (`grpc-retry-pushback-ms`, or `retry-after`)
    /// is the wait, in place of the policy's own.
    #[test]
    fn a_servers_pushback_sets_the_wait() {
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_secs(60), Duration::from_secs(60))
            .with_jitter(0.0)
            .with_max_elapsed(Duration::from_secs(10));
        let mut status = tonic::Status::unavailable("draining");
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", "1".parse().unwrap());
        let pushed = ClientError::Grpc(status);
        assert_eq!(pushed.retry_after(), Some(Duration::from_millis(1)));
        let (outcome, made) = attempts_until(policy, Repeat::Safe, vec![Err(pushed), Ok(3)]);
        assert_eq!((outcome.unwrap(), made), (3, 2));
    }

    #[test]
    fn the_time_budget_bounds_the_retries() {
        // The first wait alone would overrun the budget: no retry starts.
        let policy = RetryPolicy::default()
            .with_backoff(Duration::from_secs(60), Duration::from_secs(60))
            .with_jitter(0.0)
            .with_max_elapsed(Duration::from_millis(10));
        let unavailable = || Err(ClientError::Grpc(tonic::Status::unavailable("down")));
        let (outcome, made) = attempts_until(policy, Repeat::Safe, vec![unavailable(), Ok(1)]);
        assert!(outcome.is_err());
        assert_eq!(made, 1);
    }
}
