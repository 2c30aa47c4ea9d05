//! The tonic server of an aggregate. `Handle` reads each request in place
//! (the history's payloads stay in the request's buffer and are decoded only
//! when applied); `HandleFact`, `Replay` and unknown paths go to the
//! generated server.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use angzarr_proto::command_handler_service_server::CommandHandlerServiceServer;
use angzarr_proto::BusinessResponse;
use bytes::{Buf, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, BoxFuture, StdError};
use tonic::{Request, Response, Status};

use super::{Aggregate, AggregateService};

const HANDLE: &str = "/angzarr.CommandHandlerService/Handle";

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

/// Requests as received, responses through prost.
#[derive(Clone, Copy, Default)]
struct HandleCodec;

struct ResponseEncoder;

struct RequestDecoder;

impl Encoder for ResponseEncoder {
    type Item = BusinessResponse;
    type Error = Status;

    fn encode(&mut self, item: BusinessResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst)
            .map_err(|error| Status::internal(format!("the answer does not encode: {error}")))
    }
}

impl Decoder for RequestDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // The frame's bytes, handed over without a copy where the buffer
        // holds them in one piece.
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for HandleCodec {
    type Encode = BusinessResponse;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> RequestDecoder {
        RequestDecoder
    }
}

struct HandleSvc<A>(AggregateService<A>);

impl<A: Aggregate> tonic::server::UnaryService<Bytes> for HandleSvc<A> {
    type Response = BusinessResponse;
    type Future = Answer;

    fn call(&mut self, request: Request<Bytes>) -> Answer {
        if self.0.aggregate().synchronous() {
            let answer = self.0.handle_now(request.get_ref());
            return Answer::Now(ready(answer.map(Response::new)));
        }
        let service = self.0.clone();
        Answer::Later(Box::pin(async move {
            service
                .handle_encoded(request.get_ref())
                .await
                .map(Response::new)
        }))
    }
}

/// A `Handle` call's answer: decided already (handlers that never await),
/// or still being decided.
// The answer sits inside the call's one boxed future; boxing it as well
// would add an allocation to every call.
#[allow(clippy::large_enum_variant)]
enum Answer {
    Now(Ready<Result<Response<BusinessResponse>, Status>>),
    Later(BoxFuture<Response<BusinessResponse>, Status>),
}

impl Future for Answer {
    type Output = Result<Response<BusinessResponse>, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Now(answer) => Pin::new(answer).poll(cx),
            Answer::Later(answer) => answer.as_mut().poll(cx),
        }
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
        if request.uri().path() != HANDLE {
            return tower_service::Service::call(&mut self.generated, request);
        }
        let method = HandleSvc(self.service.clone());
        let (max_decoding, max_encoding) = (self.max_decoding, self.max_encoding);
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(HandleCodec)
                .apply_max_message_size_config(max_decoding, max_encoding);
            Ok(grpc.unary(method, request).await)
        })
    }
}
