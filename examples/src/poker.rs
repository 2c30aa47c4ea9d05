//! The poker system as a whole: its components by name, serving one of
//! them alone, and the requests the front end sends that are not commands.
//!
//! | name | kind | listens to | does |
//! |---|---|---|---|
//! | `player` | aggregate (+ its upcaster) | commands | the player's money |
//! | `table` | aggregate | commands | seats and hands |
//! | `buy-in` | process manager | player, table | reserve, seat, release on refusal |
//! | `saga-table-player` | saga | table | a player who left gets the reservation back |
//! | `saga-player-table` | saga | player | a player sitting out leaves the table |
//! | `table-seating` | projector | table | the SQLite read model of seats and stacks |
//! | `poker-events` | projector | player, table | CloudEvents |
//! | `player-upcaster` | upcaster | player history | `examples.v1` registrations read as today's |

use angzarr_client::proto::{
    event_page, page_header, time, Any, AnyExt, Cover, EventBook, EventPage, EventRequest,
    ExternalDeferredSequence, PageHeader, SyncMode,
};
use angzarr_client::{ComponentKind, ListenAddress, Server};

use crate::buy_in::BuyIn;
use crate::feed::PokerEvents;
use crate::player::{chips, Player};
use crate::proto::{BuyInRequested, PlayerSittingOut};
use crate::sagas::{PlayerTableSaga, TablePlayerSaga};
use crate::seating::Seating;
use crate::table::Table;
use crate::upcaster::PlayerUpcaster;

/// Every component: its name (what `serve NAME` takes) and kind.
pub const COMPONENTS: [(&str, ComponentKind); 8] = [
    ("player", ComponentKind::Aggregate),
    ("table", ComponentKind::Aggregate),
    ("buy-in", ComponentKind::ProcessManager),
    ("saga-table-player", ComponentKind::Saga),
    ("saga-player-table", ComponentKind::Saga),
    ("table-seating", ComponentKind::Projector),
    ("poker-events", ComponentKind::Projector),
    ("player-upcaster", ComponentKind::Upcaster),
];

/// The environment variable naming the read model's SQLite file when
/// `table-seating` is served alone (default `table-seating.db`).
pub const SEATING_DB: &str = "SEATING_DB";

/// Serves the component `name` alone, where the environment says
/// (`TRANSPORT_TYPE`, `PORT`, `UDS_BASE_PATH`, `SERVICE_NAME`, `DOMAIN`), until
/// SIGINT or SIGTERM. The player is served with its upcaster, on the same
/// address, as the coordinator expects.
pub async fn serve(name: &str) -> Result<(), String> {
    let server = match name {
        "player" => Server::new().aggregate(Player).upcaster(PlayerUpcaster),
        "table" => Server::new().aggregate(Table),
        "buy-in" => Server::new().process_manager(BuyIn),
        "saga-table-player" => Server::new().saga(TablePlayerSaga),
        "saga-player-table" => Server::new().saga(PlayerTableSaga),
        "table-seating" => {
            let path = std::env::var(SEATING_DB).unwrap_or_else(|_| "table-seating.db".into());
            let seating = Seating::open(&path)
                .map_err(|error| format!("cannot open the read model {path}: {error}"))?;
            Server::new().projector(seating)
        }
        "poker-events" => Server::new().projector(PokerEvents),
        "player-upcaster" => Server::new().upcaster(PlayerUpcaster).listen(
            ListenAddress::from_env(ComponentKind::Upcaster, "player")
                .map_err(|error| error.to_string())?,
        ),
        other => {
            return Err(format!(
                "no component called {other:?}; the components are {}",
                COMPONENTS.map(|(name, _)| name).join(", ")
            ))
        }
    };
    server.serve().await.map_err(|error| error.to_string())
}

/// A fact for `player` (the front end's record of something the player's
/// rules do not decide), once per `external_id`, in `correlation_id`'s
/// workflow.
pub fn fact(
    player: uuid::Uuid,
    correlation_id: &str,
    external_id: &str,
    event: Any,
    sync_mode: SyncMode,
) -> EventRequest {
    let mut page = EventPage {
        header: Some(PageHeader {
            sequence_type: Some(page_header::SequenceType::ExternalDeferred(
                ExternalDeferredSequence {
                    external_id: external_id.to_owned(),
                    description: "front end".to_owned(),
                },
            )),
        }),
        payload: Some(event_page::Payload::Event(event)),
        ..Default::default()
    };
    page.created_at = Some(time::now());
    EventRequest {
        events: Some(EventBook {
            cover: Some(Cover::new("player", player).with_correlation_id(correlation_id)),
            snapshot: None,
            pages: vec![page],
            next_sequence: 0,
        }),
        sync_mode: sync_mode.into(),
        route_to_handler: true,
    }
}

/// The front end asks for `player` to buy in at `table` with `amount` chips
/// (seat 0: any), starting the buy-in workflow `correlation_id`.
pub fn buy_in_request(
    player: uuid::Uuid,
    table: uuid::Uuid,
    seat: i32,
    amount: i64,
    correlation_id: &str,
    sync_mode: SyncMode,
) -> EventRequest {
    let request = BuyInRequested {
        reservation_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
        table_root: table.as_bytes().to_vec(),
        seat,
        amount: Some(chips(amount)),
        requested_at: Some(time::now()),
    };
    fact(
        player,
        correlation_id,
        &format!("buy-in:{correlation_id}"),
        Any::pack(&request),
        sync_mode,
    )
}

/// The front end reports that `player` sat out at `table`.
pub fn sitting_out(
    player: uuid::Uuid,
    table: uuid::Uuid,
    correlation_id: &str,
    sync_mode: SyncMode,
) -> EventRequest {
    let event = PlayerSittingOut {
        table_root: table.as_bytes().to_vec(),
        sat_out_at: Some(time::now()),
    };
    fact(
        player,
        correlation_id,
        &format!("sit-out:{correlation_id}"),
        Any::pack(&event),
        sync_mode,
    )
}
