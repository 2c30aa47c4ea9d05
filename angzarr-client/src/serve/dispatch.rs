//! Where a listener sends each call: the hot methods the components name
//! (`Handle` of each kind, `Upcast`) straight to their handler, everything else
//! through tonic's routes; with layers, everything through the layers and
//! the routes. A call to a hot method then skips the router's path
//! matching, request extensions and response mapping; what it answers is
//! the same either way, as the routes hold every method too.

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
use tower::util::{BoxCloneService, Oneshot};
use tower::ServiceExt;
use tower_service::Service;

use super::connection::Caller;
use super::{unary, BoxError};

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

/// The calls of a listener served without layers: the hot methods by path,
/// the rest by tonic's routes.
#[derive(Clone)]
pub(crate) struct Dispatch {
    direct: Arc<[(&'static str, Direct)]>,
    routes: Routes,
}

/// A listener's layered service, boxed as its type varies with the layers.
pub(crate) type Layered = BoxCloneService<Request<Body>, Response<Body>, BoxError>;

/// What a listener serves: its dispatch, or the routes behind the layers
/// the user added.
#[derive(Clone)]
pub(crate) enum Served {
    Dispatch(Dispatch),
    Layered(Layered),
}

impl Served {
    /// Starts answering `request`. `caller` goes into the extensions of every
    /// call something else may read it in: all but the hot methods', whose
    /// handlers are this crate's.
    pub(crate) fn call(&self, mut request: Request<Body>, caller: &Caller) -> Answer {
        match self {
            Served::Dispatch(dispatch) => {
                let path = request.uri().path();
                if let Some((_, handler)) = dispatch.direct.iter().find(|(known, _)| *known == path)
                {
                    return Answer::Direct(handler(request));
                }
                caller.describe(&mut request);
                Answer::Routed(dispatch.routes.clone().call(request))
            }
            Served::Layered(layered) => {
                caller.describe(&mut request);
                Answer::Layered(layered.clone().oneshot(request))
            }
        }
    }
}

/// A call's answer: from a handler, from the routes, or from the layers.
// The routes' future is kept in place: it lives in the stream's task
// either way, and boxing it would add an allocation to every routed call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Answer {
    Direct(BoxFuture<Response<Body>, Infallible>),
    Routed(<Routes as Service<Request<Body>>>::Future),
    Layered(Oneshot<Layered, Request<Body>>),
}

impl Future for Answer {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Direct(answer) => answer.as_mut().poll(cx).map(|Ok(response)| Ok(response)),
            Answer::Routed(answer) => Pin::new(answer).poll(cx).map(|Ok(response)| Ok(response)),
            // A layer that fails with a status (a timeout's, a rate
            // limit's) is answered with it; any other failure resets the
            // stream, as tonic's transport does.
            Answer::Layered(answer) => Pin::new(answer).poll(cx).map(|answered| {
                answered.or_else(|error| Status::try_from_error(error).map(Status::into_http))
            }),
        }
    }
}
