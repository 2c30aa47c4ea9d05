//! A unary gRPC call read and answered on the HTTP/2 bodies themselves: the
//! request's one message handed over in the buffer it arrived in, the answer
//! written as one data frame and its trailers. This is what
//! `tonic::server::Grpc::unary` does, without the streaming decoder, the
//! metadata map and the encoding stream that one message does not need; the
//! refusals (compression, size limits, framing) carry tonic's codes and
//! words, so a caller cannot tell which one answered.

use std::future::poll_fn;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tonic::codegen::{http, StdError};
use tonic::Status;

/// A gRPC message's prefix: the compression flag and the length.
const PREFIX: usize = 5;

/// tonic's limit on a received message when none is set.
const DEFAULT_MAX_DECODING: usize = 4 << 20;

const GRPC_CONTENT_TYPE: http::HeaderValue = http::HeaderValue::from_static("application/grpc");

/// The request's one message, without its prefix; `limit` bounds it (4 MiB
/// when `None`, as tonic's servers have it).
///
/// The body is read to its end, so that the stream closes as the caller
/// expects, but never held beyond one message and its prefix.
pub(crate) async fn read_message<B>(
    request: http::Request<B>,
    limit: Option<usize>,
) -> Result<Bytes, Status>
where
    B: Body,
    B::Error: Into<StdError>,
{
    let (parts, body) = request.into_parts();
    if let Some(encoding) = parts.headers.get("grpc-encoding") {
        if encoding.as_bytes() != b"identity" {
            let shown = String::from_utf8_lossy(encoding.as_bytes());
            let mut status = Status::unimplemented(format!(
                "Content is compressed with `{shown}` which isn't supported"
            ));
            status.metadata_mut().insert(
                "grpc-accept-encoding",
                tonic::metadata::MetadataValue::from_static("identity"),
            );
            return Err(status);
        }
    }
    let limit = limit.unwrap_or(DEFAULT_MAX_DECODING);
    let mut body = pin!(body);
    let mut received = Received::Nothing;
    // The whole message's size, prefix included, once the prefix is in.
    let mut expected = None;
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|error| Status::from_error(error.into()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received.push(data);
        let bytes = received.as_slice();
        if expected.is_none() && bytes.len() >= PREFIX {
            expected = Some(PREFIX + message_length(bytes, limit)?);
        }
        if let Some(expected) = expected {
            if bytes.len() > expected {
                return Err(Status::internal(
                    "protocol error: a unary request carries one message, this one carries more",
                ));
            }
        }
    }
    match expected {
        None if received.as_slice().is_empty() => Err(Status::internal("Missing request message.")),
        Some(expected) if received.as_slice().len() == expected => {
            Ok(received.into_bytes().slice(PREFIX..))
        }
        _ => Err(Status::internal("Unexpected EOF decoding stream.")),
    }
}

/// Serves one call: the request's message decoded (INVALID_ARGUMENT naming
/// the message when it does not decode), `handle` asked, and its answer
/// written; `limit` bounds both directions.
pub(crate) async fn serve<B, Req, Res, F, Fut>(
    request: http::Request<B>,
    limit: Option<usize>,
    handle: F,
) -> http::Response<tonic::body::Body>
where
    B: Body,
    B::Error: Into<StdError>,
    Req: prost::Message + prost::Name + Default,
    Res: prost::Message,
    F: FnOnce(Req) -> Fut,
    Fut: std::future::Future<Output = Result<Res, Status>>,
{
    let bytes = match read_message(request, limit).await {
        Ok(bytes) => bytes,
        Err(refused) => return refuse(refused),
    };
    let request = match Req::decode(bytes) {
        Ok(request) => request,
        Err(error) => {
            return refuse(Status::from(crate::ComponentError::from(
                crate::ComponentErrorKind::UndecodableRequest {
                    request: Req::NAME,
                    reason: error.to_string(),
                },
            )))
        }
    };
    match handle(request).await {
        Ok(answer) => self::answer(&answer, limit),
        Err(refused) => refuse(refused),
    }
}

/// Checks a message's prefix (at the start of `bytes`, at least
/// [`PREFIX`] long) and answers the length it announces.
fn message_length(bytes: &[u8], limit: usize) -> Result<usize, Status> {
    match bytes[0] {
        0 => {}
        1 => {
            return Err(Status::internal(
                "protocol error: received message with compressed-flag but no grpc-encoding was specified",
            ))
        }
        flag => {
            return Err(Status::internal(format!(
                "protocol error: received message with invalid compression flag: {flag} (valid flags are 0 and 1), while sending request"
            )))
        }
    }
    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    if length > limit {
        return Err(Status::out_of_range(format!(
            "Error, decoded message length too large: found {length} bytes, the limit is: {limit} bytes"
        )));
    }
    Ok(length)
}

/// What has arrived so far: most requests come in one frame, kept as it is.
enum Received {
    Nothing,
    One(Bytes),
    Many(BytesMut),
}

impl Received {
    fn push(&mut self, mut data: impl Buf) {
        let size = data.remaining();
        // Clients often end the stream with an empty frame: it must not
        // turn a message that came in one piece into a copy.
        if size == 0 {
            return;
        }
        *self = match std::mem::replace(self, Received::Nothing) {
            Received::Nothing => Received::One(data.copy_to_bytes(size)),
            Received::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + size);
                all.put(first);
                all.put(data);
                Received::Many(all)
            }
            Received::Many(mut all) => {
                all.put(data);
                Received::Many(all)
            }
        };
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Received::Nothing => &[],
            Received::One(bytes) => bytes,
            Received::Many(bytes) => bytes,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Received::Nothing => Bytes::new(),
            Received::One(bytes) => bytes,
            Received::Many(bytes) => bytes.freeze(),
        }
    }
}

/// The answer to a call: `message` with its trailers, or, when it is larger
/// than `limit` (unbounded when `None`), the refusal tonic would send.
pub(crate) fn answer(
    message: &impl prost::Message,
    limit: Option<usize>,
) -> http::Response<tonic::body::Body> {
    let length = message.encoded_len();
    if let Some(limit) = limit.filter(|limit| length > *limit) {
        return refuse(Status::out_of_range(format!(
            "Error, encoded message length too large: found {length} bytes, the limit is: {limit} bytes"
        )));
    }
    let Ok(prefix_length) = u32::try_from(length) else {
        return refuse(Status::resource_exhausted(format!(
            "Cannot return body with more than 4GB of data but got {length} bytes"
        )));
    };
    let mut frame = BytesMut::with_capacity(PREFIX + length);
    frame.put_u8(0);
    frame.put_u32(prefix_length);
    if let Err(error) = message.encode(&mut frame) {
        return refuse(Status::internal(format!(
            "the answer does not encode: {error}"
        )));
    }
    let mut response = http::Response::new(tonic::body::Body::new(Answer {
        message: Some(frame.freeze()),
        done: false,
    }));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE);
    response
}

/// A refusal, sent as gRPC sends errors of unary calls: in the headers,
/// with no body.
pub(crate) fn refuse(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

/// One message, then `grpc-status: 0`.
struct Answer {
    message: Option<Bytes>,
    done: bool,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(message) = self.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(message))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        self.done = true;
        let mut trailers = http::HeaderMap::with_capacity(1);
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        let length = self.message.as_ref().map_or(0, Bytes::len);
        SizeHint::with_exact(length as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A request body arriving in the frames given.
    struct Frames(VecDeque<Result<Frame<Bytes>, Status>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn request(frames: Vec<&[u8]>) -> http::Request<Frames> {
        let frames = frames
            .into_iter()
            .map(|bytes| Ok(Frame::data(Bytes::copy_from_slice(bytes))))
            .collect();
        http::Request::new(Frames(frames))
    }

    fn framed(message: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    fn read(request: http::Request<Frames>, limit: Option<usize>) -> Result<Bytes, Status> {
        futures_executor(read_message(request, limit))
    }

    /// Runs a future whose bodies never wait.
    fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the bodies here are always ready"),
        }
    }

    #[test]
    fn a_message_in_one_frame_is_handed_over_without_its_prefix() {
        let bytes = framed(b"hello");
        assert_eq!(read(request(vec![&bytes]), None).unwrap(), &b"hello"[..]);
    }

    #[test]
    fn a_message_split_anywhere_across_frames_arrives_whole() {
        let bytes = framed(b"a message in pieces");
        for cut in 1..bytes.len() {
            let (head, tail) = bytes.split_at(cut);
            let got = read(request(vec![head, tail]), None).unwrap();
            assert_eq!(got, &b"a message in pieces"[..], "cut at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            read(request(one_by_one), None).unwrap(),
            &b"a message in pieces"[..]
        );
    }

    #[test]
    fn a_message_in_one_frame_is_not_copied_whatever_empty_frames_follow() {
        let frame = Bytes::from(framed(b"kept in place"));
        let mut body = http::Request::new(Frames(VecDeque::from([
            Ok(Frame::data(frame.clone())),
            Ok(Frame::data(Bytes::new())),
        ])));
        body.body_mut().0.push_front(Ok(Frame::data(Bytes::new())));
        let got = read(body, None).unwrap();
        assert_eq!(got, &b"kept in place"[..]);
        assert_eq!(
            got.as_ptr(),
            frame[PREFIX..].as_ptr(),
            "a slice of the frame"
        );
    }

    #[test]
    fn an_empty_message_is_a_message() {
        assert_eq!(read(request(vec![&framed(b"")]), None).unwrap(), &b""[..]);
    }

    #[test]
    fn trailers_after_the_message_are_passed_over() {
        let mut body = request(vec![&framed(b"x")]);
        body.body_mut()
            .0
            .push_back(Ok(Frame::trailers(http::HeaderMap::new())));
        assert_eq!(read(body, None).unwrap(), &b"x"[..]);
    }

    #[test]
    fn refusals_carry_tonics_codes_and_words() {
        let cases: Vec<(http::Request<Frames>, tonic::Code, &str)> = vec![
            (
                request(vec![]),
                tonic::Code::Internal,
                "Missing request message.",
            ),
            (
                request(vec![&framed(b"abc")[..6]]),
                tonic::Code::Internal,
                "Unexpected EOF decoding stream.",
            ),
            (
                request(vec![&[0, 0]]),
                tonic::Code::Internal,
                "Unexpected EOF decoding stream.",
            ),
            (
                request(vec![&[1, 0, 0, 0, 1, 7]]),
                tonic::Code::Internal,
                "compressed-flag but no grpc-encoding",
            ),
            (
                request(vec![&[9, 0, 0, 0, 1, 7]]),
                tonic::Code::Internal,
                "invalid compression flag: 9",
            ),
            (
                request(vec![&framed(b"x"), &framed(b"y")]),
                tonic::Code::Internal,
                "carries one message",
            ),
        ];
        for (request, code, words) in cases {
            let refused = read(request, None).unwrap_err();
            assert_eq!(refused.code(), code, "{refused:?}");
            assert!(refused.message().contains(words), "{refused:?}");
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused_from_its_prefix() {
        // Only the prefix has arrived: the refusal does not wait for the rest.
        let refused = read(request(vec![&[0, 0, 0, 0, 11]]), Some(10)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::OutOfRange);
        assert_eq!(
            refused.message(),
            "Error, decoded message length too large: found 11 bytes, the limit is: 10 bytes"
        );
        let at_limit = framed(&[7; 10]);
        assert_eq!(read(request(vec![&at_limit]), Some(10)).unwrap().len(), 10);
        let over_default = [0, 0, 0x40, 0, 1];
        let refused = read(request(vec![&over_default]), None).unwrap_err();
        assert!(refused.message().contains("the limit is: 4194304 bytes"));
    }

    #[test]
    fn a_compressed_request_is_refused_as_unimplemented_and_names_identity() {
        let mut compressed = request(vec![&framed(b"x")]);
        compressed
            .headers_mut()
            .insert("grpc-encoding", http::HeaderValue::from_static("gzip"));
        let refused = read(compressed, None).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unimplemented);
        assert!(refused.message().contains("`gzip`"), "{refused:?}");
        assert_eq!(
            refused.metadata().get("grpc-accept-encoding").unwrap(),
            "identity"
        );
        let mut identity = request(vec![&framed(b"x")]);
        identity
            .headers_mut()
            .insert("grpc-encoding", http::HeaderValue::from_static("identity"));
        assert_eq!(read(identity, None).unwrap(), &b"x"[..]);
    }

    #[test]
    fn a_failing_body_is_a_status() {
        let failing = http::Request::new(Frames(VecDeque::from([Err(Status::cancelled("gone"))])));
        assert_eq!(
            read(failing, None).unwrap_err().code(),
            tonic::Code::Cancelled
        );
    }

    fn frames_of(response: http::Response<tonic::body::Body>) -> Vec<Frame<Bytes>> {
        let mut body = pin!(response.into_body());
        let mut out = Vec::new();
        while let Some(frame) = futures_executor(poll_fn(|cx| body.as_mut().poll_frame(cx))) {
            out.push(frame.unwrap());
        }
        out
    }

    #[test]
    fn an_answer_is_one_prefixed_message_then_an_ok_status() {
        let message = prost_types::Duration {
            seconds: 3,
            nanos: 0,
        };
        let response = answer(&message, None);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        let frames = frames_of(response);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].data_ref().unwrap().as_ref(),
            framed(&prost::Message::encode_to_vec(&message)).as_slice()
        );
        assert_eq!(frames[1].trailers_ref().unwrap()["grpc-status"], "0");
    }

    #[test]
    fn an_answer_over_the_limit_is_refused_in_the_headers() {
        let message = prost_types::Duration {
            seconds: 1 << 40,
            nanos: 0,
        };
        let response = answer(&message, Some(3));
        assert_eq!(response.headers()["grpc-status"], "11");
        assert!(frames_of(response).is_empty());
    }
}
