//! Tracing for the application's own services: the components trace their
//! calls themselves, with what identifies a command; a service the server
//! knows only by name gets a span per call and a log line when it fails.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::server::NamedService;
use tonic::Code;
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
                // `grpc-message` travels percent-encoded; the status reads it
                // back into words.
                if let Some(status) = tonic::Status::from_header_map(response.headers()) {
                    let code = status.code();
                    let reason = status.message();
                    match code {
                        Code::Ok => {}
                        Code::Unknown | Code::Internal | Code::Unavailable | Code::DataLoss => {
                            tracing::warn!(service = S::NAME, %method, ?code, reason, "call failed");
                        }
                        _ => {
                            tracing::debug!(service = S::NAME, %method, ?code, reason, "call refused");
                        }
                    }
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}
