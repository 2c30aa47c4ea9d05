//! The aggregate server over loopback gRPC: calls per second and p50/p99
//! latency of `CommandHandlerService.Handle` for the example player, at 1 and
//! 64 concurrent callers, with 0 and 1,000 prior events in each request.
//!
//! Run with `cargo bench -p angzarr-client --bench grpc`. Every call is
//! checked to succeed; the loops are bounded by a call count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_client::proto::command_handler_service_client::CommandHandlerServiceClient;
use angzarr_client::proto::ContextualCommand;
use angzarr_client::{ListenAddress, Server};
use examples::player::Player;
use tonic::transport::Endpoint;

#[path = "support/player_requests.rs"]
mod player_requests;
use player_requests::request;

struct Measurement {
    calls_per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(
    client: &CommandHandlerServiceClient<tonic::transport::Channel>,
    request: &Arc<ContextualCommand>,
    callers: usize,
    calls: usize,
) -> Measurement {
    let per_caller = calls / callers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let mut client = client.clone();
            let request = Arc::clone(request);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_caller);
                for _ in 0..per_caller {
                    let began = Instant::now();
                    client
                        .handle(ContextualCommand::clone(&request))
                        .await
                        .expect("every call succeeds");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(calls);
    for task in tasks {
        latencies.extend(task.await.expect("caller task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |quantile: f64| {
        latencies[((latencies.len() as f64 * quantile) as usize).min(latencies.len() - 1)]
    };
    Measurement {
        calls_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; stay quick then.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let bound = Server::new()
            .aggregate(Player)
            .listen(ListenAddress::Tcp("127.0.0.1:0".parse().expect("address")))
            .max_message_size(64 * 1024 * 1024)
            .shutdown_drain(std::time::Duration::ZERO)
            .shutdown_signal(async {
                let _ = stopped.await;
            })
            .bind()
            .await
            .expect("bind");
        let address = bound.local_address().to_string();
        let server = tokio::spawn(bound.serve());
        let channel = Endpoint::try_from(format!("http://{address}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let client = CommandHandlerServiceClient::new(channel)
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);

        println!("| prior events | callers | calls | calls/s | p50 | p99 |");
        println!("|---:|---:|---:|---:|---:|---:|");
        for prior_events in [0_u32, 1_000] {
            let request = Arc::new(request(prior_events));
            let calls = match (quick, prior_events) {
                (true, _) => 64,
                (false, 0) => 20_000,
                (false, _) => 4_000,
            };
            // Warm up connections and caches.
            measure(&client, &request, 8, 64).await;
            for callers in [1_usize, 64] {
                let m = measure(&client, &request, callers, calls).await;
                println!(
                    "| {prior_events} | {callers} | {calls} | {:.0} | {:.0} µs | {:.0} µs |",
                    m.calls_per_second,
                    m.p50.as_secs_f64() * 1e6,
                    m.p99.as_secs_f64() * 1e6,
                );
            }
        }
        let _ = stop.send(());
        server.await.expect("server task").expect("clean stop");
    });
}
