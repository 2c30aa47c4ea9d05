//! Handling one command with 0, 100 and 10,000 prior events: the
//! `#[aggregate]` player through the runtime, against the same work written
//! by hand (decode each page, match its type URL, apply, decide, stamp);
//! both on the decoded request and from its bytes.
//!
//! Run with `cargo bench -p angzarr-client --bench aggregate`.

use std::hint::black_box;

#[path = "support/player_requests.rs"]
mod player_requests;
use player_requests::request;

#[path = "support/handwritten.rs"]
mod handwritten;
use handwritten::handwritten;

use angzarr_client::aggregate::runtime;
use angzarr_client::proto::{business_response, Any, AnyExt, BusinessResponse, ContextualCommand};
use angzarr_client::testing::block_on;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use examples::player::{Player, PlayerView};
use examples::proto::{FundsDeposited, PlayerRegistered, PlayerState};

fn cover_of(
    response: &angzarr_client::proto::BusinessResponse,
) -> Option<angzarr_client::proto::Cover> {
    match &response.result {
        Some(angzarr_client::proto::business_response::Result::Events(book)) => book.cover.clone(),
        _ => None,
    }
}

fn handle_one_command(c: &mut Criterion) {
    let mut group = c.benchmark_group("handle_one_command");
    for prior_events in [0_u32, 100, 10_000] {
        let request = request(prior_events);
        // Both paths must agree before their speed is compared.
        let by_macro = block_on(runtime::handle_command(&Player, &request)).expect("handled");
        let by_hand = handwritten(&request);
        assert_eq!(pages_of(&by_macro), pages_of(&by_hand));
        assert_eq!(cover_of(&by_macro), cover_of(&by_hand));
        let state: PlayerState = snapshot_of(&by_macro).unpack().expect("state");
        let expected = if prior_events == 0 {
            0
        } else {
            i64::from(prior_events - 1) + 10
        };
        assert_eq!(state.bankroll(), expected);
        assert_eq!(snapshot_of(&by_macro), snapshot_of(&by_hand));

        group.bench_with_input(
            BenchmarkId::new("macro", prior_events),
            &request,
            |b, request| b.iter(|| block_on(runtime::handle_command(&Player, black_box(request)))),
        );
        group.bench_with_input(
            BenchmarkId::new("handwritten", prior_events),
            &request,
            |b, request| b.iter(|| handwritten(black_box(request))),
        );
        // From the request's bytes, as a server receives it: the runtime
        // reads the history in place; the hand-written code decodes it.
        let encoded = prost::Message::encode_to_vec(&request);
        let from_bytes = block_on(runtime::handle_encoded(&Player, &encoded)).expect("handled");
        assert_eq!(pages_of(&from_bytes), pages_of(&by_hand));
        assert_eq!(snapshot_of(&from_bytes), snapshot_of(&by_hand));
        group.bench_with_input(
            BenchmarkId::new("macro_from_bytes", prior_events),
            &encoded,
            |b, encoded| b.iter(|| block_on(runtime::handle_encoded(&Player, black_box(encoded)))),
        );
        group.bench_with_input(
            BenchmarkId::new("handwritten_from_bytes", prior_events),
            &encoded,
            |b, encoded| {
                b.iter(|| {
                    let request: ContextualCommand =
                        prost::Message::decode(black_box(encoded.as_slice())).expect("decodes");
                    handwritten(&request)
                })
            },
        );
    }
    group.finish();
}

/// Sequence and event of each page, creation times cleared (they differ
/// between runs; what was decided must not).
fn pages_of(response: &BusinessResponse) -> Vec<(Option<u32>, Any)> {
    let Some(business_response::Result::Events(book)) = &response.result else {
        panic!("expected events");
    };
    book.pages
        .iter()
        .map(|page| {
            let event = page.event().expect("inline event");
            let cleared = if let Ok(mut deposited) = event.unpack::<FundsDeposited>() {
                deposited.deposited_at = None;
                Any::pack(&deposited)
            } else {
                let mut registered: PlayerRegistered = event.unpack().expect("registration");
                registered.registered_at = None;
                Any::pack(&registered)
            };
            (page.sequence(), cleared)
        })
        .collect()
}

fn snapshot_of(response: &BusinessResponse) -> Any {
    match &response.result {
        Some(business_response::Result::Events(book)) => book
            .snapshot
            .as_ref()
            .and_then(|snapshot| snapshot.state.clone())
            .expect("a snapshot"),
        _ => panic!("expected events"),
    }
}

criterion_group!(benches, handle_one_command);
criterion_main!(benches);
