//! The requests both benches send: a player with `prior_events` of history
//! (a registration, then deposits) and the next command (a registration for a
//! new player, a deposit otherwise), as the coordinator would build them.

use angzarr_client::proto::{
    time, Any, AnyExt, CommandBook, CommandPage, ContextualCommand, Cover, EventBook, EventPage,
};
use examples::player::chips;
use examples::proto::{DepositFunds, FundsDeposited, PlayerRegistered, RegisterPlayer};

pub fn request(prior_events: u32) -> ContextualCommand {
    let cover = Cover::new("player", uuid::Uuid::from_u128(1));
    let pages = (0..prior_events)
        .map(|sequence| {
            let event = if sequence == 0 {
                Any::pack(&PlayerRegistered {
                    display_name: "Alice".into(),
                    email: "alice@example.com".into(),
                    ..Default::default()
                })
            } else {
                Any::pack(&FundsDeposited {
                    amount: Some(chips(1)),
                    new_balance: Some(chips(i64::from(sequence))),
                    deposited_at: Some(time::now()),
                })
            };
            EventPage::new(sequence, event)
        })
        .collect();
    let command = if prior_events == 0 {
        Any::pack(&RegisterPlayer {
            display_name: "Alice".into(),
            email: "alice@example.com".into(),
            ..Default::default()
        })
    } else {
        Any::pack(&DepositFunds {
            amount: Some(chips(10)),
        })
    };
    ContextualCommand {
        events: Some(EventBook {
            cover: Some(cover.clone()),
            snapshot: None,
            pages,
            next_sequence: prior_events,
        }),
        command: Some(CommandBook {
            cover: Some(cover),
            pages: vec![CommandPage::new(prior_events, command)],
        }),
    }
}
