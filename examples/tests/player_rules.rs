//! Every player rule and message, checked in order, through the fixture (the
//! server's code path), for both styles: the `#[aggregate]` and the
//! `CommandRouter`. Rejections are FAILED_PRECONDITION.

use angzarr_client::prelude::*;
use angzarr_client::testing::prelude::*;
use angzarr_client::Aggregate;
use examples::player::{chips, table_key, Player, PlayerView};
use examples::player_router::player_router;
use examples::proto::{
    Currency, DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred,
    FundsWithdrawn, PlayerRegistered, PlayerState, PlayerType, RegisterPlayer, ReleaseFunds,
    ReserveFunds, WithdrawFunds,
};

macro_rules! player_rules {
    ($style:ident, $aggregate:expr) => {
        mod $style {
            use super::*;

            fn fresh() -> AggregateTest<impl Aggregate<State = PlayerState>> {
                AggregateTest::new($aggregate)
            }

            const TABLE: [u8; 16] = [7; 16];
            const OTHER_TABLE: [u8; 16] = [8; 16];

            fn registered() -> PlayerRegistered {
                PlayerRegistered {
                    display_name: "Alice".into(),
                    email: "alice@example.com".into(),
                    player_type: PlayerType::Human.into(),
                    ai_model_id: String::new(),
                    registered_at: None,
                }
            }

            fn deposited(amount: i64, balance: i64) -> FundsDeposited {
                FundsDeposited {
                    amount: Some(chips(amount)),
                    new_balance: Some(chips(balance)),
                    deposited_at: None,
                }
            }

            fn reserved(amount: i64, reserved_total: i64, available: i64) -> FundsReserved {
                FundsReserved {
                    amount: Some(chips(amount)),
                    table_root: TABLE.to_vec(),
                    new_available_balance: Some(chips(available)),
                    new_reserved_balance: Some(chips(reserved_total)),
                    reserved_at: None,
                }
            }

            /// A player with 100 chips, 30 of them reserved for TABLE.
            fn funded() -> AggregateTest<impl Aggregate<State = PlayerState>> {
                fresh()
                    .given(registered())
                    .given(deposited(100, 100))
                    .given(reserved(30, 30, 70))
            }

            fn rejected(
                test: AggregateTest<impl Aggregate<State = PlayerState>>,
                command: impl prost::Name,
                message: &str,
            ) {
                test.when(command)
                    .then_rejected_as(RejectionKind::FailedPrecondition, message);
            }

            /// The value named is the result that does not fit, as the
            /// reference player words it: 100 + i64::MAX, 9e18 + 9e18.
            #[test]
            fn amounts_that_do_not_fit_are_refused_not_wrapped() {
                funded()
                    .when(DepositFunds {
                        amount: Some(chips(i64::MAX)),
                    })
                    .then_rejected_as(
                        RejectionKind::InvalidArgument,
                        "Value out of range: 9223372036854775907",
                    );
                fresh()
                    .given(registered())
                    .given(deposited(
                        9_000_000_000_000_000_000,
                        9_000_000_000_000_000_000,
                    ))
                    .when(DepositFunds {
                        amount: Some(chips(9_000_000_000_000_000_000)),
                    })
                    .then_rejected_as(
                        RejectionKind::InvalidArgument,
                        "Value out of range: 18000000000000000000",
                    );
                // A history whose balances are already at the edge cannot be pushed past it.
                fresh()
                    .given(registered())
                    .given(deposited(i64::MIN, i64::MIN))
                    .given(reserved(1, 1, i64::MIN))
                    .when(WithdrawFunds {
                        amount: Some(chips(5)),
                    })
                    .then_rejected_as(
                        RejectionKind::InvalidArgument,
                        "Value out of range: -9223372036854775809",
                    );
                fresh()
                    .given(registered())
                    .given(deposited(5, 5))
                    .given(FundsReserved {
                        new_reserved_balance: Some(chips(i64::MIN)),
                        table_root: TABLE.to_vec(),
                        amount: Some(chips(1)),
                        ..Default::default()
                    })
                    .when(ReleaseFunds {
                        table_root: TABLE.to_vec(),
                    })
                    .then_rejected_as(
                        RejectionKind::InvalidArgument,
                        "Value out of range: -9223372036854775809",
                    );
            }

            #[test]
            fn register_checks_existence_then_name_then_email() {
                rejected(
                    fresh().given(registered()),
                    RegisterPlayer::default(),
                    "Player already exists",
                );
                rejected(
                    fresh(),
                    RegisterPlayer {
                        email: "a@x".into(),
                        ..Default::default()
                    },
                    "display_name is required",
                );
                rejected(
                    fresh(),
                    RegisterPlayer {
                        display_name: "A".into(),
                        ..Default::default()
                    },
                    "email is required",
                );
                fresh()
                    .when(RegisterPlayer {
                        display_name: "Bot".into(),
                        email: "bot@example.com".into(),
                        player_type: PlayerType::Ai.into(),
                        ai_model_id: "gpt-poker".into(),
                    })
                    .then_event(|event: &PlayerRegistered| {
                        assert_eq!(event.display_name, "Bot");
                        assert_eq!(event.email, "bot@example.com");
                        assert_eq!(event.player_type, PlayerType::Ai as i32);
                        assert_eq!(event.ai_model_id, "gpt-poker");
                        assert!(event.registered_at.is_some());
                    })
                    .then_state(|state| {
                        assert_eq!(state.player_id, "player_bot@example.com");
                        assert_eq!(state.status, "active");
                        assert_eq!((state.bankroll(), state.reserved()), (0, 0));
                        assert_eq!(state.ai_model_id, "gpt-poker");
                    });
            }

            #[test]
            fn deposit_checks_existence_then_amount() {
                rejected(
                    fresh(),
                    DepositFunds {
                        amount: Some(chips(5)),
                    },
                    "Player does not exist",
                );
                rejected(
                    fresh().given(registered()),
                    DepositFunds {
                        amount: Some(chips(0)),
                    },
                    "amount must be positive",
                );
                rejected(
                    fresh().given(registered()),
                    DepositFunds { amount: None },
                    "amount must be positive",
                );
                rejected(
                    fresh().given(registered()),
                    DepositFunds {
                        amount: Some(chips(-1)),
                    },
                    "amount must be positive",
                );
                funded()
                    .when(DepositFunds {
                        amount: Some(Currency {
                            amount: 25,
                            currency_code: "CHIPS".into(),
                        }),
                    })
                    .then_event(|event: &FundsDeposited| {
                        assert_eq!(event.amount, Some(chips(25)), "the amount as sent");
                        assert_eq!(event.new_balance, Some(chips(125)));
                        assert!(event.deposited_at.is_some());
                    })
                    .then_state(|state| assert_eq!(state.bankroll(), 125));
            }

            #[test]
            fn withdraw_checks_existence_amount_then_available_funds() {
                rejected(
                    fresh(),
                    WithdrawFunds {
                        amount: Some(chips(5)),
                    },
                    "Player does not exist",
                );
                rejected(
                    funded(),
                    WithdrawFunds {
                        amount: Some(chips(0)),
                    },
                    "amount must be positive",
                );
                // 100 in the bankroll, 30 reserved: 70 available.
                rejected(
                    funded(),
                    WithdrawFunds {
                        amount: Some(chips(71)),
                    },
                    "Insufficient funds",
                );
                funded()
                    .when(WithdrawFunds {
                        amount: Some(chips(70)),
                    })
                    .then_event(|event: &FundsWithdrawn| {
                        assert_eq!(event.amount, Some(chips(70)));
                        assert_eq!(event.new_balance, Some(chips(30)));
                        assert!(event.withdrawn_at.is_some());
                    })
                    .then_state(|state| {
                        assert_eq!((state.bankroll(), state.available()), (30, Ok(0)))
                    });
            }

            #[test]
            fn reserve_checks_existence_amount_table_then_available_funds() {
                let reserve = |amount: i64, table: [u8; 16]| ReserveFunds {
                    amount: Some(chips(amount)),
                    table_root: table.to_vec(),
                };
                rejected(fresh(), reserve(5, TABLE), "Player does not exist");
                rejected(funded(), reserve(0, OTHER_TABLE), "amount must be positive");
                rejected(
                    funded(),
                    reserve(5, TABLE),
                    "Funds already reserved for this table",
                );
                rejected(funded(), reserve(71, OTHER_TABLE), "Insufficient funds");
                funded()
                    .when(reserve(70, OTHER_TABLE))
                    .then_event(|event: &FundsReserved| {
                        assert_eq!(event.amount, Some(chips(70)));
                        assert_eq!(event.table_root, OTHER_TABLE.to_vec());
                        assert_eq!(event.new_available_balance, Some(chips(0)));
                        assert_eq!(event.new_reserved_balance, Some(chips(100)));
                        assert!(event.reserved_at.is_some());
                    })
                    .then_state(|state| {
                        assert_eq!(state.reserved(), 100);
                        assert_eq!(
                            state.table_reservations.get(&table_key(&OTHER_TABLE)),
                            Some(&70)
                        );
                        assert_eq!(state.table_reservations.get(&table_key(&TABLE)), Some(&30));
                    });
            }

            #[test]
            fn release_checks_existence_then_reservation() {
                let release = |table: [u8; 16]| ReleaseFunds {
                    table_root: table.to_vec(),
                };
                rejected(fresh(), release(TABLE), "Player does not exist");
                rejected(
                    funded(),
                    release(OTHER_TABLE),
                    "No funds reserved for this table",
                );
                funded()
                    .when(release(TABLE))
                    .then_event(|event: &FundsReleased| {
                        assert_eq!(
                            event.amount,
                            Some(chips(30)),
                            "the table's whole reservation"
                        );
                        assert_eq!(event.table_root, TABLE.to_vec());
                        assert_eq!(event.new_available_balance, Some(chips(100)));
                        assert_eq!(event.new_reserved_balance, Some(chips(0)));
                        assert!(event.released_at.is_some());
                    })
                    .then_state(|state| {
                        assert_eq!(state.reserved(), 0);
                        assert!(state.table_reservations.is_empty());
                    });
            }

            #[test]
            fn transfers_set_the_bankroll() {
                funded()
                    .given(FundsTransferred {
                        new_balance: Some(chips(40)),
                        amount: Some(chips(60)),
                        ..Default::default()
                    })
                    .when(WithdrawFunds {
                        amount: Some(chips(11)),
                    })
                    .then_rejected("Insufficient funds");
            }

            #[test]
            fn checks_run_in_order() {
                // Both the amount and the funds are wrong: the amount is reported first.
                rejected(
                    funded(),
                    WithdrawFunds {
                        amount: Some(chips(-500)),
                    },
                    "amount must be positive",
                );
                // Not registered and no display name: existence first.
                rejected(
                    fresh().given(registered()),
                    RegisterPlayer::default(),
                    "Player already exists",
                );
            }
        }
    };
}

player_rules!(macro_style, Player);
player_rules!(router_style, player_router());
