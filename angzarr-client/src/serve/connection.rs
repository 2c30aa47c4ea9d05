//! Serving the connections of one listener: hyper's HTTP/2 server on each
//! accepted socket (after a TLS handshake when configured), every call
//! handed to the listener's [`Served`].
//!
//! What a general-purpose transport adds to every call is added here only
//! when something asks for it: a deadline when the server has a call
//! timeout or the caller sent `grpc-timeout`, a permit when there is a
//! concurrency limit, the caller's address for the calls that may read it.
//! HTTP/2 answers carry no `date` header, which gRPC does not use.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Semaphore};
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::transport::server::{TcpConnectInfo, UdsConnectInfo};
use tonic::Status;

use super::dispatch::{Answer, Served};
use super::listener::{Accepted, Listener};
use super::BoxError;

/// How much a caller may send on one connection before the server reads it.
const HTTP2_CONNECTION_WINDOW: u32 = 16 << 20;

/// How much a caller may send on one call before the server reads it.
const HTTP2_STREAM_WINDOW: u32 = 4 << 20;

/// The largest HTTP/2 frame a caller may send.
const HTTP2_MAX_FRAME_SIZE: u32 = 1 << 20;

/// How long a TLS handshake may take before the connection is dropped.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a caller is told when its call ran past its deadline: tonic's
/// words, which this crate's clients (and tonic's) recognise as a deadline.
const TIMEOUT_EXPIRED: &str = "Timeout expired";

/// Who is calling, as services read it from a request's extensions.
#[derive(Clone)]
pub(crate) enum Caller {
    Tcp(TcpConnectInfo),
    Unix(UdsConnectInfo),
}

impl Caller {
    /// Puts the caller into `request`'s extensions.
    pub(crate) fn describe(&self, request: &mut Request<Body>) {
        let extensions = request.extensions_mut();
        match self {
            Caller::Tcp(info) => {
                extensions.insert(info.clone());
            }
            Caller::Unix(info) => {
                extensions.insert(info.clone());
            }
        }
    }
}

/// How a listener serves its connections.
pub(crate) struct Connections {
    http2: http2::Builder<TokioExecutor>,
    call_timeout: Option<Duration>,
    concurrency_limit: Option<usize>,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Connections {
    pub(crate) fn new(
        call_timeout: Option<Duration>,
        concurrency_limit: Option<usize>,
        #[cfg(feature = "tls")] tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        // Flow control sized for histories: with hyper's 1 MiB connection
        // window, 16 calls of 92 KB in flight on one connection wait for
        // window updates; with 16 KiB frames a history arrives in dozens
        // of frames. Windows are promises, not allocations: memory follows
        // what callers send, bounded by the message size limit. Streams
        // per connection are not capped, as under tonic's transport.
        http2
            .timer(TokioTimer::new())
            .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
            .initial_stream_window_size(HTTP2_STREAM_WINDOW)
            .max_frame_size(HTTP2_MAX_FRAME_SIZE)
            .max_concurrent_streams(None)
            .auto_date_header(false);
        Connections {
            http2,
            call_timeout,
            concurrency_limit,
            #[cfg(feature = "tls")]
            tls,
        }
    }

    /// Accepts connections until `stopped`, then closes the listening
    /// socket, asks every connection to finish (in-flight calls are
    /// answered, new ones refused) and returns once all have.
    pub(crate) async fn serve(
        self,
        listener: Listener,
        served: Served,
        stopped: impl Future<Output = ()>,
    ) {
        let connections = Arc::new(self);
        let (stop, watch) = watch::channel(false);
        {
            let listener = listener;
            let mut stopped = std::pin::pin!(stopped);
            loop {
                let accepted = tokio::select! {
                    biased;
                    () = &mut stopped => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok(accepted) => {
                        let connections = Arc::clone(&connections);
                        let served = served.clone();
                        let watch = watch.clone();
                        tokio::spawn(async move {
                            connections.connection(accepted, served, watch).await;
                        });
                    }
                    Err(error) => accept_failed(error).await,
                }
            }
        }
        let _ = stop.send(true);
        drop(watch);
        stop.closed().await;
    }

    /// Serves one connection until it closes or the listener stops.
    async fn connection(&self, accepted: Accepted, served: Served, stop: watch::Receiver<bool>) {
        let permits = self
            .concurrency_limit
            .map(|calls| Arc::new(Semaphore::new(calls)));
        let call_timeout = self.call_timeout;
        let calls = move |caller| Calls {
            served,
            caller,
            call_timeout,
            permits,
        };
        match accepted {
            Accepted::Tcp(stream, info) => {
                let calls = calls(Caller::Tcp(info));
                #[cfg(feature = "tls")]
                if let Some(tls) = &self.tls {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream));
                    let stream = tokio::select! {
                        done = handshake => match done {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(error)) => {
                                tracing::debug!(%error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake timed out");
                                return;
                            }
                        },
                        () = stopping(stop.clone()) => return,
                    };
                    return self.http2(stream, calls, stop).await;
                }
                self.http2(stream, calls, stop).await
            }
            Accepted::Unix(stream, info) => {
                self.http2(stream, calls(Caller::Unix(info)), stop).await
            }
        }
    }

    /// Speaks HTTP/2 on `io` until the caller hangs up or, once the
    /// listener stops, until the calls in flight are answered.
    async fn http2<IO>(&self, io: IO, calls: Calls, stop: watch::Receiver<bool>)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = self.http2.serve_connection(TokioIo::new(io), calls);
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            () = stopping(stop.clone()) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = ended {
            tracing::debug!(%error, "connection ended with an error");
        }
        // Held to here: the listener waits for every receiver to go.
        drop(stop);
    }
}

/// Resolves once the listener stops.
async fn stopping(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Waits out an accept error: one that ran out of descriptors or memory
/// would fail again at once, so it is logged and given time; a connection
/// the caller dropped while queued is none of the listener's business.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted => {
            tracing::debug!(%error, "a connection failed while being accepted");
        }
        _ => {
            tracing::warn!(%error, "cannot accept connections; retrying in 100 ms");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The calls of one connection.
struct Calls {
    served: Served,
    caller: Caller,
    call_timeout: Option<Duration>,
    /// The connection's concurrency limit.
    permits: Option<Arc<Semaphore>>,
}

impl hyper::service::Service<Request<Incoming>> for Calls {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Call;

    fn call(&self, request: Request<Incoming>) -> Call {
        let deadline = deadline(self.call_timeout, request.headers());
        let answer = self.served.call(request.map(Body::new), &self.caller);
        if deadline.is_none() && self.permits.is_none() {
            return Call::Answer(answer);
        }
        let permits = self.permits.clone();
        let limited = async move {
            let bounded = async move {
                // Waiting for a permit counts against the deadline: the
                // caller's clock started when it sent the call.
                let _permit = match permits {
                    Some(permits) => Some(
                        permits
                            .acquire_owned()
                            .await
                            .map_err(|closed| Box::new(closed) as BoxError)?,
                    ),
                    None => None,
                };
                answer.await
            };
            match deadline {
                Some(deadline) => match tokio::time::timeout(deadline, bounded).await {
                    Ok(answered) => answered,
                    Err(_) => Ok(Status::cancelled(TIMEOUT_EXPIRED).into_http()),
                },
                None => bounded.await,
            }
        };
        Call::Limited(Box::pin(limited))
    }
}

/// A call's answer, bounded when a deadline or a limit applies.
// The answer is kept in place, as in `Answer`: boxing it would cost every
// call an allocation to save the stream's task a few hundred bytes.
#[allow(clippy::large_enum_variant)]
enum Call {
    Answer(Answer),
    Limited(Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>),
}

impl Future for Call {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Call::Answer(answer) => Pin::new(answer).poll(cx),
            Call::Limited(limited) => limited.as_mut().poll(cx),
        }
    }
}

/// The sooner of the server's call timeout and the caller's `grpc-timeout`.
fn deadline(call_timeout: Option<Duration>, headers: &HeaderMap) -> Option<Duration> {
    let asked = headers
        .get("grpc-timeout")
        .and_then(|value| parse_grpc_timeout(value.as_bytes()));
    match (call_timeout, asked) {
        (Some(ours), Some(theirs)) => Some(ours.min(theirs)),
        (ours, theirs) => ours.or(theirs),
    }
}

/// A `grpc-timeout` value: at most 8 digits and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`). Anything else is no timeout, as gRPC servers have it.
fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount = digits
        .iter()
        .fold(0u64, |total, digit| total * 10 + u64::from(digit - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_grpc_spec_writes_them() {
        let cases: [(&str, Option<Duration>); 12] = [
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("3S", Some(Duration::from_secs(3))),
            ("40m", Some(Duration::from_millis(40))),
            ("500u", Some(Duration::from_micros(500))),
            ("600n", Some(Duration::from_nanos(600))),
            ("99999999H", Some(Duration::from_secs(99_999_999 * 3600))),
            ("123456789m", None),
            ("m", None),
            ("10", None),
            ("10s", None),
            ("-1S", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_grpc_timeout(value.as_bytes()), expected, "{value}");
        }
    }

    #[test]
    fn the_sooner_deadline_wins() {
        let mut headers = HeaderMap::new();
        assert_eq!(deadline(None, &headers), None);
        let ours = Duration::from_secs(1);
        assert_eq!(deadline(Some(ours), &headers), Some(ours));
        headers.insert("grpc-timeout", "20m".parse().unwrap());
        assert_eq!(deadline(None, &headers), Some(Duration::from_millis(20)));
        assert_eq!(
            deadline(Some(ours), &headers),
            Some(Duration::from_millis(20))
        );
        headers.insert("grpc-timeout", "5S".parse().unwrap());
        assert_eq!(deadline(Some(ours), &headers), Some(ours));
        headers.insert("grpc-timeout", "soon".parse().unwrap());
        assert_eq!(deadline(Some(ours), &headers), Some(ours));
    }
}
