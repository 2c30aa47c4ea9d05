//! `Handle` over loopback gRPC, head to head, for three kinds: this crate's
//! `Server` with the `#[aggregate]` player, a `#[saga]` and a
//! `#[projector]`, against one hand-written tonic server answering the
//! same (the player's state kept as `examples.PlayerState` and returned as a
//! snapshot; the saga and projector of `support/workloads.rs`). Both
//! receive the same request bytes, from 4 connections with 16 calls in
//! flight each, in alternating rounds of one run; responses are not decoded
//! by the client.
//!
//! Run with `cargo bench -p angzarr-client --bench handle -- --bench`
//! (without `--bench`, one short round each; `-- --only saga` for the
//! cases whose name holds `saga`). Before timing, both servers must answer
//! the same. For a profiler, `-- --side ours|hand --calls N` makes N calls
//! to one side and stops: the difference between two N is the cost of a
//! call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::proto::command_handler_service_server::{
    CommandHandlerService, CommandHandlerServiceServer,
};
use angzarr_client::proto::projector_service_server::{
    ProjectorService as ProjectorRpc, ProjectorServiceServer,
};
use angzarr_client::proto::saga_service_server::{SagaService as SagaRpc, SagaServiceServer};
use angzarr_client::proto::{
    business_response, AnyExt, BusinessResponse, ContextualCommand, Cover, EventBook, FactRequest,
    Projection, ReplayRequest, ReplayResponse, SagaHandleRequest, SagaResponse,
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

#[path = "support/workloads.rs"]
mod workloads;
use workloads::{ledger_by_hand, saga_by_hand, saga_request, Ledger, Releaser};

/// The servers a user would write with tonic alone.
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

#[tonic::async_trait]
impl SagaRpc for HandWritten {
    async fn handle(
        &self,
        request: Request<SagaHandleRequest>,
    ) -> Result<Response<SagaResponse>, Status> {
        Ok(Response::new(saga_by_hand(request.get_ref())))
    }
}

/// The hand-written projector, with a read model of its own.
#[derive(Default)]
struct HandLedger(Ledger);

#[tonic::async_trait]
impl ProjectorRpc for HandLedger {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<Projection>, Status> {
        Ok(Response::new(ledger_by_hand(&self.0, request.get_ref())))
    }

    async fn handle_speculative(
        &self,
        _: Request<EventBook>,
    ) -> Result<Response<Projection>, Status> {
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

async fn call(channel: Channel, path: &'static str, body: Bytes) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    Ok(grpc
        .unary(Request::new(body), path, Raw)
        .await?
        .into_inner())
}

/// Calls/s over `duration`: `connections` channels, `streams` callers each.
async fn throughput(channels: &[Channel], streams: usize, case: &Case, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for channel in channels {
        for _ in 0..streams {
            let (channel, path, body, done) = (
                channel.clone(),
                case.path,
                case.body.clone(),
                Arc::clone(&done),
            );
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    call(channel.clone(), path, body.clone())
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
async fn make_calls(channels: &[Channel], streams: usize, case: &Case, calls: usize) {
    let callers = channels.len() * streams;
    let mut tasks = Vec::new();
    for (index, channel) in channels.iter().cycle().take(callers).enumerate() {
        let share = calls / callers + usize::from(index < calls % callers);
        let (channel, path, body) = (channel.clone(), case.path, case.body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                call(channel.clone(), path, body.clone())
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

/// The answer's content, where it is the same whoever made it.
fn saga_answer(bytes: &Bytes) -> SagaResponse {
    SagaResponse::decode(bytes.clone()).expect("a SagaResponse")
}

fn projection(bytes: &Bytes) -> Projection {
    Projection::decode(bytes.clone()).expect("a Projection")
}

/// One call measured: a method and the request sent to it.
struct Case {
    name: String,
    path: &'static str,
    body: Bytes,
    /// Checks both servers answered the same.
    same: fn(&Bytes, &Bytes),
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = [1, 1001]
        .into_iter()
        .map(|prior| Case {
            name: format!("aggregate, {prior} prior events"),
            path: "/angzarr.CommandHandlerService/Handle",
            body: Bytes::from(request(prior).encode_to_vec()),
            same: |a, b| assert_eq!(decided(a), decided(b), "both decide alike"),
        })
        .collect();
    cases.push(Case {
        name: "saga, 100 pages".to_owned(),
        path: "/angzarr.SagaService/Handle",
        body: Bytes::from(saga_request().encode_to_vec()),
        same: |a, b| assert_eq!(saga_answer(a), saga_answer(b), "both emit alike"),
    });
    let mut book = saga_request().source.expect("a book");
    book.cover = Some(Cover::new("player", uuid::Uuid::from_u128(1)));
    cases.push(Case {
        name: "projector, 100 pages".to_owned(),
        path: "/angzarr.ProjectorService/Handle",
        body: Bytes::from(book.encode_to_vec()),
        same: |a, b| assert_eq!(projection(a), projection(b), "both project alike"),
    });
    cases
}

fn argument(name: &str) -> Option<String> {
    std::env::args().skip_while(|arg| arg != name).nth(1)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let (rounds, duration) = if quick {
        (1, Duration::from_millis(300))
    } else {
        (15, Duration::from_secs(1))
    };
    let only = argument("--only");
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|case| {
            only.as_ref()
                .is_none_or(|only| case.name.contains(only.as_str()))
        })
        .collect();
    // Logging as the examples' servers have it: `RUST_LOG`, default `info`.
    angzarr_client::init_tracing();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ours = Server::new()
            .aggregate(Player)
            .saga(Releaser)
            .projector(Ledger::default())
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
                .add_service(
                    SagaServiceServer::new(HandWritten)
                        .max_decoding_message_size(64 << 20)
                        .max_encoding_message_size(64 << 20),
                )
                .add_service(
                    ProjectorServiceServer::new(HandLedger::default())
                        .max_decoding_message_size(64 << 20)
                        .max_encoding_message_size(64 << 20),
                )
                .serve_with_incoming(incoming),
        );
        let ours = channels(&ours_address, 4).await;
        let theirs = channels(&theirs_address, 4).await;

        // `--side ours|hand --calls N` makes N calls to one side and stops:
        // under callgrind, the difference between two N is the cost per call.
        if let Some(side) = argument("--side") {
            let calls: usize = argument("--calls")
                .map_or(1000, |calls| calls.parse().expect("--calls takes a number"));
            let channels = if side == "ours" { &ours } else { &theirs };
            for case in &cases {
                make_calls(channels, 16, case, calls).await;
                println!("{side}: {calls} calls, {}", case.name);
            }
            return;
        }
        println!("| Handle of | request | ours calls/s | hand-written calls/s | ratio |");
        println!("|---|---:|---:|---:|---:|");
        for case in &cases {
            let a = call(ours[0].clone(), case.path, case.body.clone())
                .await
                .expect("ours answers");
            let b = call(theirs[0].clone(), case.path, case.body.clone())
                .await
                .expect("theirs answers");
            (case.same)(&a, &b);
            // Warm both up, then alternate rounds so drift hits both.
            throughput(&ours, 16, case, duration / 3).await;
            throughput(&theirs, 16, case, duration / 3).await;
            let (mut mine, mut hand, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                // Who goes first alternates too.
                let (a, b) = if round % 2 == 0 {
                    let a = throughput(&ours, 16, case, duration).await;
                    (a, throughput(&theirs, 16, case, duration).await)
                } else {
                    let b = throughput(&theirs, 16, case, duration).await;
                    (throughput(&ours, 16, case, duration).await, b)
                };
                ratios.push(a / b);
                mine.push(a);
                hand.push(b);
            }
            println!(
                "| {} | {} B | {:.0} | {:.0} | {:.2}x (rounds: {}) |",
                case.name,
                case.body.len(),
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
