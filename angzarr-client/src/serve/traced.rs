//! Tracing for the application's own services: the components trace their
//! calls themselves, with what identifies a command; a service the server
//! knows only by name gets a span per call and a log line when it fails.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::server::NamedService;
use tower_service::Service;
use tracing::Instrument;

/// `S`, with each call in a DEBUG `grpc` span (service and method) and a
/// failed call (a `grpc-status` other than OK in the response headers, as
/// unary errors are sent) logged: at WARN when the server is at fault
/// (UNKNOWN, INTERNAL, UNAVAILABLE, DATA_LOSS), at DEBUG when the caller's
/// request was refused.
#[derive(Clone)]
pub(super) struct Traced<S> {
    inner: S,
}

impl<S> Traced<S> {
    pub(super) fn new(inner: S) -> Self {
        Traced { inner }
    }
}

impl<S: NamedService> NamedService for Traced<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for Traced<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + NamedService,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let span = tracing::debug_span!("grpc", service = S::NAME, %method);
        let answer = self.inner.call(request);
        Box::pin(
            async move {
                let response = answer.await?;
                if let Some(status) = response.headers().get("grpc-status") {
                    let code = status.as_bytes();
                    if code != b"0" {
                        let message = response
                            .headers()
                            .get("grpc-message")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default();
                        let code = String::from_utf8_lossy(code);
                        if matches!(code.as_ref(), "2" | "13" | "14" | "15") {
                            tracing::warn!(service = S::NAME, %method, %code, message, "call failed");
                        } else {
                            tracing::debug!(service = S::NAME, %method, %code, message, "call refused");
                        }
                    }
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}
