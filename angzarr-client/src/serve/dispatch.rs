//! Where a listener sends each call: the hot methods the components name
//! (`Handle` of each kind, `Upcast`) straight to their handler, everything else
//! through tonic's routes. A call to a hot method then skips the router's
//! path matching, request extensions and response mapping; what it
//! answers is the same either way, as the routes hold every method too.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::BoxFuture;
use tonic::service::{Routes, RoutesBuilder};
use tonic::Status;
use tower_service::Service;

use super::unary;

/// A handler reached by its full path, e.g. `/angzarr.CommandHandlerService/Handle`.
pub(crate) type Direct =
    Arc<dyn Fn(Request<Body>) -> BoxFuture<Response<Body>, Infallible> + Send + Sync>;

/// What the components of one listener add to it.
#[derive(Default)]
pub(crate) struct Routing {
    /// Every service, by name.
    pub(crate) routes: RoutesBuilder,
    direct: Vec<(&'static str, Direct)>,
}

impl Routing {
    /// Sends calls to `path` to `handler`; the first handler of a path wins,
    /// as the routes refuse a service added twice.
    pub(crate) fn direct(&mut self, path: &'static str, handler: Direct) {
        if !self.direct.iter().any(|(known, _)| *known == path) {
            self.direct.push((path, handler));
        }
    }

    /// Serves the unary method at `path` with `handle`, on the HTTP/2
    /// bodies ([`unary::serve`]), `limit` bounding both directions.
    pub(crate) fn unary<Req, Res, F, Fut>(
        &mut self,
        path: &'static str,
        limit: Option<usize>,
        handle: F,
    ) where
        Req: prost::Message + prost::Name + Default + Send + 'static,
        Res: prost::Message + 'static,
        F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Res, Status>> + Send + 'static,
    {
        self.direct(
            path,
            Arc::new(move |call| {
                let handle = handle.clone();
                Box::pin(async move { Ok(unary::serve(call, limit, handle).await) })
            }),
        );
    }

    /// The routes alone, for layers written against them.
    pub(crate) fn into_routes(self) -> Routes {
        self.routes.routes().prepare()
    }

    pub(crate) fn into_dispatch(self) -> Dispatch {
        Dispatch {
            direct: self.direct.into(),
            routes: self.routes.routes().prepare(),
        }
    }
}

/// The service a listener serves when no layers were added.
#[derive(Clone)]
pub(crate) struct Dispatch {
    direct: Arc<[(&'static str, Direct)]>,
    routes: Routes,
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Dispatched;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both the handlers and the routes are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let path = request.uri().path();
        match self.direct.iter().find(|(known, _)| *known == path) {
            Some((_, handler)) => Dispatched::Direct(handler(request)),
            None => Dispatched::Routed(self.routes.call(request)),
        }
    }
}

/// A call's answer, from a handler or from the routes.
// The routes' future is kept in place: it lives in the connection's
// per-call future either way, and boxing it would add an allocation to
// every routed call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Dispatched {
    Direct(BoxFuture<Response<Body>, Infallible>),
    Routed(<Routes as Service<Request<Body>>>::Future),
}

impl Future for Dispatched {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Dispatched::Direct(answer) => answer.as_mut().poll(cx),
            Dispatched::Routed(answer) => Pin::new(answer).poll(cx),
        }
    }
}
