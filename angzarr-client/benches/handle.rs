//! `CommandHandlerService.Handle` over loopback gRPC, head to head: the
//! `#[aggregate]` player served by this crate's `Server`, against a
//! hand-written tonic server returning the same answer (the state kept as
//! `examples.PlayerState`, returned as a snapshot). Both receive the same
//! request bytes, from 4 connections with 16 calls in flight each, in
//! alternating rounds of one run; responses are not decoded by the client.
//!
//! Run with `cargo bench -p angzarr-client --bench handle` (`-- --quick`
//! for a short run, `-- --prior N` for one history length). Before timing,
//! both servers must answer the same. For a profiler, `-- --side ours|hand
//! --calls N` makes N calls to one side and stops: the difference between
//! two N is the cost of a call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::proto::command_handler_service_server::{
    CommandHandlerService, CommandHandlerServiceServer,
};
use angzarr_client::proto::{
    business_response, AnyExt, BusinessResponse, ContextualCommand, EventBook, FactRequest,
    ReplayRequest, ReplayResponse,
};
use angzarr_client::{ListenAddress, Server};
use bytes::{Buf, BufMut, Bytes};
use examples::player::Player;
use examples::proto::{FundsDeposited, PlayerRegistered, PlayerState};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

#[path = "support/player_requests.rs"]
mod player_requests;
use player_requests::request;

#[path = "support/handwritten.rs"]
mod handwritten;
use handwritten::handwritten;

/// The server a user would write with tonic alone.
struct HandWritten;

#[tonic::async_trait]
impl CommandHandlerService for HandWritten {
    async fn handle(
        &self,
        request: Request<ContextualCommand>,
    ) -> Result<Response<BusinessResponse>, Status> {
        Ok(Response::new(handwritten(request.get_ref())))
    }

    async fn handle_fact(&self, _: Request<FactRequest>) -> Result<Response<EventBook>, Status> {
        Err(Status::unimplemented("not part of the bench"))
    }

    async fn replay(&self, _: Request<ReplayRequest>) -> Result<Response<ReplayResponse>, Status> {
        Err(Status::unimplemented("not part of the bench"))
    }
}

/// Sends bytes as they are and keeps the answer's bytes: the client's own
/// work stays the same whatever the server.
#[derive(Clone, Default)]
struct Raw;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

const PATH: &str = "/angzarr.CommandHandlerService/Handle";

async fn call(channel: Channel, body: Bytes) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(PATH);
    Ok(grpc
        .unary(Request::new(body), path, Raw)
        .await?
        .into_inner())
}

/// Calls/s over `duration`: `connections` channels, `streams` callers each.
async fn throughput(channels: &[Channel], streams: usize, body: &Bytes, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for channel in channels {
        for _ in 0..streams {
            let (channel, body, done) = (channel.clone(), body.clone(), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    call(channel.clone(), body.clone())
                        .await
                        .expect("every call succeeds");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("caller");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Makes `calls` calls over `channels`, `streams` at a time on each.
async fn make_calls(channels: &[Channel], streams: usize, body: &Bytes, calls: usize) {
    let callers = channels.len() * streams;
    let mut tasks = Vec::new();
    for (index, channel) in channels.iter().cycle().take(callers).enumerate() {
        let share = calls / callers + usize::from(index < calls % callers);
        let (channel, body) = (channel.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                call(channel.clone(), body.clone())
                    .await
                    .expect("every call succeeds");
            }
        }));
    }
    for task in tasks {
        task.await.expect("caller");
    }
}

async fn channels(address: &str, connections: usize) -> Vec<Channel> {
    let mut out = Vec::new();
    for _ in 0..connections {
        out.push(
            Endpoint::from_shared(format!("http://{address}"))
                .expect("endpoint")
                .tcp_nodelay(true)
                .connect()
                .await
                .expect("connect"),
        );
    }
    out
}

/// What an answer decided, creation times cleared: each page's sequence and
/// encoded event, the snapshot state, and the next sequence.
type Decided = (Vec<(Option<u32>, Vec<u8>)>, PlayerState, u32);

fn decided(bytes: &Bytes) -> Decided {
    let response = BusinessResponse::decode(bytes.clone()).expect("a BusinessResponse");
    let Some(business_response::Result::Events(book)) = response.result else {
        panic!("events expected");
    };
    let pages = book
        .pages
        .iter()
        .map(|page| {
            let event = page.event().expect("an event");
            let cleared = if let Ok(mut deposited) = event.unpack::<FundsDeposited>() {
                deposited.deposited_at = None;
                deposited.encode_to_vec()
            } else {
                let mut registered: PlayerRegistered = event.unpack().expect("a registration");
                registered.registered_at = None;
                registered.encode_to_vec()
            };
            (page.sequence(), cleared)
        })
        .collect();
    let state = book
        .snapshot
        .and_then(|s| s.state)
        .expect("a snapshot")
        .unpack()
        .expect("PlayerState");
    (pages, state, book.next_sequence)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick")
        || !std::env::args().any(|arg| arg == "--bench");
    let (rounds, duration) = if quick {
        (1, Duration::from_millis(300))
    } else {
        (15, Duration::from_secs(1))
    };
    // `--prior N` measures one history length (e.g. under a profiler).
    let priors: Vec<u32> = match std::env::args().skip_while(|arg| arg != "--prior").nth(1) {
        Some(prior) => vec![prior.parse().expect("--prior takes a number of events")],
        None => vec![1, 1001],
    };
    // Logging as the examples' servers have it: `RUST_LOG`, default `info`.
    angzarr_client::init_tracing();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ours = Server::new()
            .aggregate(Player)
            .listen(ListenAddress::loopback(0))
            .max_message_size(64 << 20)
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(std::future::pending())
            .bind()
            .await
            .expect("bind ours");
        let ours_address = ours.local_address().to_string();
        tokio::spawn(ours.serve());
        // A careful hand: TCP_NODELAY on, as this crate's server has it.
        let incoming =
            tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().expect("address"))
                .expect("bind")
                .with_nodelay(Some(true));
        let theirs_address = incoming.local_addr().expect("address").to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(
                    CommandHandlerServiceServer::new(HandWritten)
                        .max_decoding_message_size(64 << 20)
                        .max_encoding_message_size(64 << 20),
                )
                .serve_with_incoming(incoming),
        );
        let ours = channels(&ours_address, 4).await;
        let theirs = channels(&theirs_address, 4).await;

        // `--side ours|hand --calls N` makes N calls to one side and stops:
        // under callgrind, the difference between two N is the cost per call.
        if let Some(side) = std::env::args().skip_while(|arg| arg != "--side").nth(1) {
            let calls: usize = std::env::args()
                .skip_while(|arg| arg != "--calls")
                .nth(1)
                .map_or(1000, |calls| calls.parse().expect("--calls takes a number"));
            let channels = if side == "ours" { &ours } else { &theirs };
            for prior in priors {
                let body = Bytes::from(request(prior).encode_to_vec());
                make_calls(channels, 16, &body, calls).await;
                println!("{side}: {calls} calls with {prior} prior events");
            }
            return;
        }
        println!("| prior events | request | ours calls/s | hand-written calls/s | ratio |");
        println!("|---:|---:|---:|---:|---:|");
        for prior in priors {
            let body = Bytes::from(request(prior).encode_to_vec());
            let a = call(ours[0].clone(), body.clone())
                .await
                .expect("ours answers");
            let b = call(theirs[0].clone(), body.clone())
                .await
                .expect("theirs answers");
            assert_eq!(decided(&a), decided(&b), "both servers decide alike");
            // Warm both up, then alternate rounds so drift hits both.
            throughput(&ours, 16, &body, duration / 3).await;
            throughput(&theirs, 16, &body, duration / 3).await;
            let (mut mine, mut hand, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                // Who goes first alternates too.
                let (a, b) = if round % 2 == 0 {
                    let a = throughput(&ours, 16, &body, duration).await;
                    (a, throughput(&theirs, 16, &body, duration).await)
                } else {
                    let b = throughput(&theirs, 16, &body, duration).await;
                    (throughput(&ours, 16, &body, duration).await, b)
                };
                ratios.push(a / b);
                mine.push(a);
                hand.push(b);
            }
            println!(
                "| {prior} | {} B | {:.0} | {:.0} | {:.2}x (rounds: {}) |",
                body.len(),
                median(&mut mine),
                median(&mut hand),
                median(&mut ratios.clone()),
                ratios
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    });
}
