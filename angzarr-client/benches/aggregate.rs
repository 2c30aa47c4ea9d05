//! Handling one command with 0, 100 and 10,000 prior events: the
//! `#[aggregate]` player through the runtime, against the same work written
//! by hand (decode each page, match its type URL, apply, decide, stamp).
//!
//! Run with `cargo bench -p angzarr-client --bench aggregate`.

use std::hint::black_box;

#[path = "support/player_requests.rs"]
mod player_requests;
use player_requests::request;

use angzarr_client::aggregate::runtime;
use angzarr_client::proto::{
    business_response, event_page, time, Any, AnyExt, BusinessResponse, ContextualCommand,
    EventBook, EventPage, PageHeader, Snapshot,
};
use angzarr_client::testing::block_on;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use examples::player::{amount, chips, Player, PlayerView};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred, FundsWithdrawn,
    PlayerRegistered, PlayerState, RegisterPlayer,
};
use prost::Message;

/// The player's rules and state rebuild for DepositFunds, written out by hand:
/// what the macro and runtime save the user from writing.
fn handwritten(request: &ContextualCommand) -> BusinessResponse {
    let history = request.events.as_ref().expect("history");
    let mut state = PlayerState::default();
    for page in &history.pages {
        let Some(event_page::Payload::Event(event)) = &page.payload else {
            continue;
        };
        let name = event.type_url.rsplit('/').next().unwrap_or_default();
        match name {
            "examples.PlayerRegistered" => {
                let e = PlayerRegistered::decode(event.value.as_slice()).expect("decodes");
                state.player_id = format!("player_{}", e.email);
                state.display_name = e.display_name;
                state.email = e.email;
                state.player_type = e.player_type;
                state.ai_model_id = e.ai_model_id;
                state.status = "active".to_owned();
                state.bankroll = Some(chips(0));
                state.reserved_funds = Some(chips(0));
            }
            "examples.FundsDeposited" => {
                let e = FundsDeposited::decode(event.value.as_slice()).expect("decodes");
                state.bankroll = Some(chips(amount(e.new_balance.as_ref())));
            }
            "examples.FundsWithdrawn" => {
                let e = FundsWithdrawn::decode(event.value.as_slice()).expect("decodes");
                state.bankroll = Some(chips(amount(e.new_balance.as_ref())));
            }
            "examples.FundsReserved" => {
                let e = FundsReserved::decode(event.value.as_slice()).expect("decodes");
                state.reserved_funds = Some(chips(amount(e.new_reserved_balance.as_ref())));
                let table = angzarr_client::proto::identity::hex(&e.table_root);
                state
                    .table_reservations
                    .insert(table, amount(e.amount.as_ref()));
            }
            "examples.FundsReleased" => {
                let e = FundsReleased::decode(event.value.as_slice()).expect("decodes");
                state.reserved_funds = Some(chips(amount(e.new_reserved_balance.as_ref())));
                let table = angzarr_client::proto::identity::hex(&e.table_root);
                state.table_reservations.remove(&table);
            }
            "examples.FundsTransferred" => {
                let e = FundsTransferred::decode(event.value.as_slice()).expect("decodes");
                state.bankroll = Some(chips(amount(e.new_balance.as_ref())));
            }
            _ => {}
        }
    }
    let next = history.pages.len() as u32;
    let book = request.command.as_ref().expect("command");
    let command = match &book.pages[0].payload {
        Some(angzarr_client::proto::command_page::Payload::Command(command)) => command,
        _ => panic!("no command"),
    };
    let event = match command.type_url.rsplit('/').next().unwrap_or_default() {
        "examples.RegisterPlayer" => {
            let register = RegisterPlayer::decode(command.value.as_slice()).expect("decodes");
            let event = Player.register(register, &state).expect("accepted");
            state.player_id = format!("player_{}", event.email);
            state.display_name.clone_from(&event.display_name);
            state.email.clone_from(&event.email);
            state.status = "active".to_owned();
            state.bankroll = Some(chips(0));
            state.reserved_funds = Some(chips(0));
            Any::pack(&event)
        }
        "examples.DepositFunds" => {
            let deposit = DepositFunds::decode(command.value.as_slice()).expect("decodes");
            let event = Player.deposit(deposit, &state).expect("accepted");
            state.bankroll = Some(chips(amount(event.new_balance.as_ref())));
            Any::pack(&event)
        }
        other => panic!("unexpected command {other}"),
    };
    BusinessResponse {
        result: Some(business_response::Result::Events(EventBook {
            cover: book.cover.clone(),
            snapshot: Some(Snapshot {
                sequence: next,
                state: Some(Any::pack(&state)),
                retention: 0,
            }),
            pages: vec![EventPage {
                header: Some(PageHeader::at_sequence(next)),
                created_at: Some(time::now()),
                payload: Some(event_page::Payload::Event(event)),
                ..Default::default()
            }],
            next_sequence: next + 1,
        })),
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
