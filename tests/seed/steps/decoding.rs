//! `event_decoding.feature`: reading typed events out of pages.

use angzarr_client::proto::{
    event_page, type_url, AnyExt, CommandResponse, EventBook, EventPage, PayloadReference,
    PayloadStorageType,
};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use prost::Message;
use prost_types::Any;

use crate::domains::{ItemAdded, OrderCreated, OrderShipped};
use crate::world::Seed;

fn created() -> OrderCreated {
    OrderCreated {
        order_id: "order-1".into(),
        customer_id: "customer-1".into(),
    }
}

fn event(world: &Seed) -> &Any {
    world
        .pages
        .first()
        .and_then(EventPage::event)
        .expect("an event was given")
}

fn given_any(world: &mut Seed, event: Any) {
    world.pages = vec![EventPage::new(0, event)];
}

#[given(expr = "an event with type_url {string}")]
fn with_type_url(world: &mut Seed, url: String) {
    let value = if url.ends_with("OrderCreated") {
        created().encode_to_vec()
    } else {
        ItemAdded {
            item: "widget".into(),
        }
        .encode_to_vec()
    };
    given_any(
        world,
        Any {
            type_url: url,
            value,
        },
    );
}

#[given("valid protobuf bytes for OrderCreated")]
fn valid_bytes(world: &mut Seed) {
    assert_eq!(
        OrderCreated::decode(event(world).value.as_slice()).expect("valid"),
        created()
    );
}

fn decode_as(world: &mut Seed, name: &str) {
    let decoded = match name {
        "OrderCreated" => event(world)
            .unpack_if::<OrderCreated>()
            .map(|e| e.map(|e| format!("{e:?}"))),
        "ItemAdded" => event(world)
            .unpack_if::<ItemAdded>()
            .map(|e| e.map(|e| format!("{e:?}"))),
        other => panic!("no event {other}"),
    };
    world.decoded = Some(decoded.map_err(|error| error.to_string()));
}

#[when(expr = "I decode the event as {word}")]
fn decode_event_as(world: &mut Seed, name: String) {
    decode_as(world, &name);
}

fn decoded(world: &Seed) -> &Result<Option<String>, String> {
    world.decoded.as_ref().expect("a step decoded")
}

#[then("decoding should succeed")]
fn succeeds(world: &mut Seed) {
    assert!(
        matches!(decoded(world), Ok(Some(_))),
        "{:?}",
        decoded(world)
    );
}

#[then("I should get an OrderCreated message")]
fn an_order_created(world: &mut Seed) {
    assert_eq!(decoded(world), &Ok(Some(format!("{:?}", created()))));
}

#[when(expr = "I decode looking for suffix {string}")]
fn decode_by_suffix(world: &mut Seed, suffix: String) {
    let url = event(world).type_url.clone();
    assert!(
        type_url::name_ends_with(&url, &suffix),
        "{url} ends with {suffix}"
    );
    decode_as(world, &suffix);
}

#[then("the full type_url prefix should be ignored")]
fn prefix_ignored(world: &mut Seed) {
    // The same event under the framework's own prefix decodes the same.
    let mut other = event(world).clone();
    other.type_url = other
        .type_url
        .replace("type.googleapis.com/", "type.angzarr.io/");
    assert_eq!(
        other.unpack_if::<OrderCreated>().expect("decodes"),
        Some(created())
    );
}

#[then("decoding should return None/null")]
fn none(world: &mut Seed) {
    assert_eq!(decoded(world), &Ok(None));
}

#[then(
    regex = r"^no (?:error should be raised|crash should occur|error should occur \(empty protobuf is valid\))$"
)]
fn no_error(world: &mut Seed) {
    assert!(decoded(world).is_ok(), "{:?}", decoded(world));
}

#[given(expr = "an EventPage at sequence {int}")]
fn page_at(world: &mut Seed, sequence: u32) {
    world.pages = vec![EventPage::new(sequence, Any::pack(&created()))];
}

#[then(expr = "event.sequence should be {int}")]
fn sequence_is(world: &mut Seed, sequence: u32) {
    assert_eq!(world.pages[0].sequence(), Some(sequence));
}

#[given("an EventPage with timestamp")]
fn page_with_time(world: &mut Seed) {
    let mut page = EventPage::new(0, Any::pack(&created()));
    page.created_at = Some(
        angzarr_client::proto::time::parse_rfc3339("2024-01-15T10:30:00.250Z").expect("valid"),
    );
    world.pages = vec![page];
}

#[then("event.created_at should be a valid timestamp")]
fn valid_timestamp(world: &mut Seed) {
    let at = world.pages[0].created_at.expect("a creation time");
    angzarr_client::proto::time::to_system_time(&at).expect("a valid time");
}

#[then("the timestamp should be parseable")]
fn parseable(world: &mut Seed) {
    let at = world.pages[0].created_at.expect("a creation time");
    let text = angzarr_client::proto::time::to_rfc3339(&at);
    assert_eq!(text, "2024-01-15T10:30:00.250Z");
    assert_eq!(
        angzarr_client::proto::time::parse_rfc3339(&text).expect("parses"),
        at
    );
}

#[given("an EventPage with Event payload")]
fn event_payload(world: &mut Seed) {
    world.pages = vec![EventPage::new(0, Any::pack(&created()))];
}

#[then("event.payload should be Event variant")]
fn is_event_variant(world: &mut Seed) {
    assert!(matches!(
        world.pages[0].payload,
        Some(event_page::Payload::Event(_))
    ));
}

#[then("the Event should contain the Any wrapper")]
fn contains_any(world: &mut Seed) {
    assert_eq!(
        event(world).type_url,
        "type.googleapis.com/orders.OrderCreated"
    );
}

#[given("an EventPage with offloaded payload")]
fn offloaded(world: &mut Seed) {
    let mut page = EventPage::new(0, Any::default());
    page.payload = Some(event_page::Payload::External(PayloadReference {
        storage_type: PayloadStorageType::S3.into(),
        uri: "s3://events/orders/0".into(),
        content_hash: vec![1, 2, 3],
        original_size: 300_000,
        stored_at: None,
    }));
    world.pages = vec![page];
}

#[then("event.payload should be PayloadReference variant")]
fn is_reference(world: &mut Seed) {
    assert!(world.pages[0].event().is_none(), "no inline event");
    assert!(matches!(
        world.pages[0].payload,
        Some(event_page::Payload::External(_))
    ));
}

#[then("the reference should contain storage details")]
fn storage_details(world: &mut Seed) {
    let Some(event_page::Payload::External(reference)) = &world.pages[0].payload else {
        panic!("not a reference")
    };
    assert_eq!(reference.storage_type(), PayloadStorageType::S3);
    assert_eq!(
        (reference.uri.as_str(), reference.original_size),
        ("s3://events/orders/0", 300_000)
    );
}

#[when(expr = "I match against {string}")]
fn match_against(world: &mut Seed, pattern: String) {
    let results: Vec<bool> = world
        .pages
        .iter()
        .filter_map(EventPage::event)
        .map(|event| {
            if pattern.contains('/') {
                type_url::matches_name(&event.type_url, type_url::type_name(&pattern))
            } else {
                type_url::name_ends_with(&event.type_url, &pattern)
            }
        })
        .collect();
    world.matched = results;
}

#[when(expr = "I match against suffix {string}")]
fn match_suffix(world: &mut Seed, suffix: String) {
    world.matched = world
        .pages
        .iter()
        .filter_map(EventPage::event)
        .map(|event| type_url::name_ends_with(&event.type_url, &suffix))
        .collect();
}

#[then(regex = r"^the match should (succeed|fail)$")]
fn match_result(world: &mut Seed, outcome: String) {
    assert_eq!(world.matched, vec![outcome == "succeed"]);
}

#[given(expr = "an event with type_url ending in {string}")]
fn ending_in(world: &mut Seed, name: String) {
    given_any(
        world,
        Any {
            type_url: format!("type.googleapis.com/orders.{name}"),
            value: Vec::new(),
        },
    );
}

#[given("events with type_urls:")]
fn with_urls(world: &mut Seed, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    world.pages = table
        .rows
        .iter()
        .enumerate()
        .map(|(n, row)| {
            EventPage::new(
                n as u32,
                Any {
                    type_url: row[0].clone(),
                    value: Vec::new(),
                },
            )
        })
        .collect();
}

#[then("only the v1 event should match")]
fn only_v1(world: &mut Seed) {
    assert_eq!(world.matched, vec![true, false]);
}

#[given("an event with properly encoded payload")]
fn encoded(world: &mut Seed) {
    given_any(world, Any::pack(&created()));
}

#[when(regex = r"^I (?:decode the payload(?: bytes)?|attempt to decode|decode)$")]
fn decode(world: &mut Seed) {
    let decoded = world.pages[0]
        .event_if::<OrderCreated>()
        .map(|e| e.map(|e| format!("{e:?}")));
    world.decoded = Some(decoded.map_err(|error| error.to_string()));
}

#[then("the protobuf message should deserialize correctly")]
fn deserializes(world: &mut Seed) {
    an_order_created(world);
}

#[then("all fields should be populated")]
fn populated(world: &mut Seed) {
    let order = world.pages[0]
        .event_if::<OrderCreated>()
        .expect("decodes")
        .expect("an order");
    assert!(!order.order_id.is_empty() && !order.customer_id.is_empty());
}

#[given(regex = r"^(?:an event with empty payload bytes|an Event Any with empty value)$")]
fn empty(world: &mut Seed) {
    given_any(
        world,
        Any {
            type_url: type_url::of::<OrderCreated>(),
            value: Vec::new(),
        },
    );
}

#[then(regex = r"^the (?:message should have default values|result should be a default message)$")]
fn default_message(world: &mut Seed) {
    assert_eq!(
        decoded(world),
        &Ok(Some(format!("{:?}", OrderCreated::default())))
    );
}

#[given("an event with corrupted payload bytes")]
fn corrupted(world: &mut Seed) {
    given_any(
        world,
        Any {
            type_url: type_url::of::<OrderCreated>(),
            value: vec![0x0a, 0xff, 0xff],
        },
    );
}

#[then("decoding should fail")]
fn fails(world: &mut Seed) {
    assert!(decoded(world).is_err(), "{:?}", decoded(world));
}

#[then(regex = r"^an error should indicate deserialization failure$")]
fn deserialization_failure(world: &mut Seed) {
    let message = decoded(world).as_ref().expect_err("failed");
    assert!(
        message.contains("orders.OrderCreated") && message.contains("decode"),
        "{message}"
    );
}

#[given("an EventPage with payload = None")]
fn no_payload(world: &mut Seed) {
    world.pages = vec![EventPage {
        payload: None,
        ..EventPage::new(0, Any::default())
    }];
}

#[given("the decode_event<T>(event, type_suffix) function")]
fn decode_function(world: &mut Seed) {
    world.pages = vec![
        EventPage::new(0, Any::pack(&created())),
        EventPage::new(
            1,
            Any::pack(&ItemAdded {
                item: "widget".into(),
            }),
        ),
    ];
}

#[when(expr = "I call decode_event\\(event, {string}\\)")]
fn call_decode_event(world: &mut Seed, suffix: String) {
    assert_eq!(suffix, "OrderCreated");
    world.decoded_each = world
        .pages
        .iter()
        .map(|page| {
            page.event_if::<OrderCreated>()
                .expect("decodes")
                .map(|e| format!("{e:?}"))
        })
        .collect();
}

#[then("if type matches, Some(T) is returned")]
fn some_when_matching(world: &mut Seed) {
    assert_eq!(world.decoded_each[0], Some(format!("{:?}", created())));
}

#[then("if type doesn't match, None is returned")]
fn none_otherwise(world: &mut Seed) {
    assert_eq!(world.decoded_each[1], None);
}

#[given(regex = r"^a CommandResponse with (no )?events$")]
fn response(world: &mut Seed, none: String) {
    let pages = if none.is_empty() {
        vec![
            EventPage::new(0, Any::pack(&created())),
            EventPage::new(1, Any::pack(&ItemAdded::default())),
        ]
    } else {
        Vec::new()
    };
    world.outcome = Some(Ok(CommandResponse {
        events: Some(EventBook {
            pages,
            ..Default::default()
        }),
        ..Default::default()
    }));
}

#[when("I call events_from_response(response)")]
fn events_from_response(world: &mut Seed) {
    world.pages = world.response().pages().to_vec();
}

#[then("I should get a slice/list of EventPages")]
fn a_slice(world: &mut Seed) {
    let sequences: Vec<_> = world.pages.iter().filter_map(EventPage::sequence).collect();
    assert_eq!(sequences, [0, 1]);
}

#[then("I should get an empty slice/list")]
fn empty_slice(world: &mut Seed) {
    assert!(world.pages.is_empty());
}

#[given(expr = "{int} events all of type {string}")]
fn all_of_type(world: &mut Seed, count: u32, name: String) {
    assert_eq!(name, "ItemAdded");
    world.pages = (0..count)
        .map(|n| {
            EventPage::new(
                n,
                Any::pack(&ItemAdded {
                    item: format!("item-{n}"),
                }),
            )
        })
        .collect();
}

#[when("I decode each as ItemAdded")]
fn decode_each(world: &mut Seed) {
    world.decoded_each = world
        .pages
        .iter()
        .map(|page| {
            page.event_if::<ItemAdded>()
                .expect("decodes")
                .map(|e| e.item)
        })
        .collect();
}

#[then(expr = "all {int} should decode successfully")]
fn all_decode(world: &mut Seed, count: usize) {
    assert_eq!(world.decoded_each.iter().flatten().count(), count);
}

#[then("each should have correct data")]
fn correct_data(world: &mut Seed) {
    let expected: Vec<_> = (0..world.decoded_each.len())
        .map(|n| Some(format!("item-{n}")))
        .collect();
    assert_eq!(world.decoded_each, expected);
}

#[given("events: OrderCreated, ItemAdded, ItemAdded, OrderShipped")]
fn mixed(world: &mut Seed) {
    world.pages = vec![
        EventPage::new(0, Any::pack(&created())),
        EventPage::new(1, Any::pack(&ItemAdded { item: "a".into() })),
        EventPage::new(2, Any::pack(&ItemAdded { item: "b".into() })),
        EventPage::new(
            3,
            Any::pack(&OrderShipped {
                carrier: "post".into(),
            }),
        ),
    ];
}

#[when("I decode by type")]
fn by_type(world: &mut Seed) {
    world.decoded_each = world
        .pages
        .iter()
        .map(|page| {
            let decoded = page
                .event_if::<OrderCreated>()
                .expect("decodes")
                .map(|e| format!("OrderCreated {}", e.order_id))
                .or(page
                    .event_if::<ItemAdded>()
                    .expect("decodes")
                    .map(|e| format!("ItemAdded {}", e.item)))
                .or(page
                    .event_if::<OrderShipped>()
                    .expect("decodes")
                    .map(|e| format!("OrderShipped {}", e.carrier)));
            decoded
        })
        .collect();
}

#[then("OrderCreated should decode as OrderCreated")]
fn created_decodes(world: &mut Seed) {
    assert_eq!(
        world.decoded_each[0].as_deref(),
        Some("OrderCreated order-1")
    );
}

#[then("ItemAdded events should decode as ItemAdded")]
fn items_decode(world: &mut Seed) {
    assert_eq!(
        world.decoded_each[1..3],
        [
            Some("ItemAdded a".to_owned()),
            Some("ItemAdded b".to_owned())
        ]
    );
}

#[then("OrderShipped should decode as OrderShipped")]
fn shipped_decodes(world: &mut Seed) {
    assert_eq!(world.decoded_each[3].as_deref(), Some("OrderShipped post"));
}

#[when(expr = "I filter for {string} events")]
fn filter(world: &mut Seed, name: String) {
    assert_eq!(name, "ItemAdded");
    let book = EventBook {
        pages: world.pages.clone(),
        ..Default::default()
    };
    world.decoded_each = book
        .events_of::<ItemAdded>()
        .map(|e| Some(e.expect("decodes").item))
        .collect();
}

#[then(expr = "I should get {int} events")]
fn got(world: &mut Seed, count: usize) {
    assert_eq!(world.decoded_each.len(), count);
}

#[then("both should be ItemAdded type")]
fn both_items(world: &mut Seed) {
    assert_eq!(
        world.decoded_each,
        [Some("a".to_owned()), Some("b".to_owned())]
    );
}
