//! The tonic server of an aggregate. `Handle` reads each request in place
//! (the history's payloads stay in the request's buffer and are decoded only
//! when applied), straight from the HTTP/2 body, and its answer is written
//! as one frame (`serve::unary`); `HandleFact`, `Replay` and unknown paths
//! go to the generated server.

use std::convert::Infallible;
use std::task::{Context, Poll};

use angzarr_proto::command_handler_service_server::CommandHandlerServiceServer;
use tonic::codegen::{http, Body, BoxFuture, StdError};

use super::{Aggregate, AggregateService};
use crate::serve::unary;

/// The path of `Handle`, the call an aggregate's server answers itself.
pub(crate) const HANDLE_PATH: &str = "/angzarr.CommandHandlerService/Handle";

/// `angzarr.CommandHandlerService` for an aggregate, as a tower service (what
/// [`AggregateService::into_server`] returns).
pub struct AggregateServer<A> {
    service: AggregateService<A>,
    generated: CommandHandlerServiceServer<AggregateService<A>>,
    max_decoding: Option<usize>,
    max_encoding: Option<usize>,
}

impl<A: Aggregate> AggregateServer<A> {
    pub(crate) fn new(service: AggregateService<A>) -> Self {
        AggregateServer {
            generated: CommandHandlerServiceServer::new(service.clone()),
            service,
            max_decoding: None,
            max_encoding: None,
        }
    }

    /// Largest request accepted, in bytes (tonic's default is 4 MiB).
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding = Some(limit);
        self.generated = self.generated.max_decoding_message_size(limit);
        self
    }

    /// Largest response sent, in bytes.
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.max_encoding = Some(limit);
        self.generated = self.generated.max_encoding_message_size(limit);
        self
    }
}

impl<A> Clone for AggregateServer<A> {
    fn clone(&self) -> Self {
        AggregateServer {
            service: self.service.clone(),
            generated: self.generated.clone(),
            max_decoding: self.max_decoding,
            max_encoding: self.max_encoding,
        }
    }
}

impl<A> tonic::server::NamedService for AggregateServer<A> {
    const NAME: &'static str = "angzarr.CommandHandlerService";
}

impl<A: Aggregate> AggregateServer<A> {
    /// Answers a call to `Handle`.
    pub(crate) fn handle<B>(
        &self,
        request: http::Request<B>,
    ) -> BoxFuture<http::Response<tonic::body::Body>, Infallible>
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        let service = self.service.clone();
        let (max_decoding, max_encoding) = (self.max_decoding, self.max_encoding);
        Box::pin(async move {
            let request = match unary::read_message(request, max_decoding).await {
                Ok(request) => request,
                Err(refused) => return Ok(unary::refuse(refused)),
            };
            let answer = if service.aggregate().synchronous() {
                service.handle_now(&request)
            } else {
                service.handle_encoded(&request).await
            };
            Ok(match answer {
                Ok(answer) => unary::answer(&answer, max_encoding),
                Err(refused) => unary::refuse(refused),
            })
        })
    }
}

impl<A, B> tower_service::Service<http::Request<B>> for AggregateServer<A>
where
    A: Aggregate,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() == HANDLE_PATH {
            self.handle(request)
        } else {
            tower_service::Service::call(&mut self.generated, request)
        }
    }
}
