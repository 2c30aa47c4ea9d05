//! The player's command handling written out by hand, as a user would
//! without this SDK: the baseline the benches compare the runtime with.

use angzarr_client::proto::{
    business_response, event_page, time, Any, AnyExt, BusinessResponse, ContextualCommand,
    EventBook, EventPage, PageHeader, Snapshot,
};
use examples::player::{amount, chips, Player};
use examples::proto::{
    DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred, FundsWithdrawn,
    PlayerRegistered, PlayerState, RegisterPlayer,
};
use prost::Message;

/// The player's rules and state rebuild for DepositFunds, written out by hand:
/// what the macro and runtime save the user from writing.
pub fn handwritten(request: &ContextualCommand) -> BusinessResponse {
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
            // The same answer the SDK gives: the main timeline named.
            cover: book
                .cover
                .clone()
                .map(|cover| cover.or_edition(angzarr_client::proto::DEFAULT_EDITION)),
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
