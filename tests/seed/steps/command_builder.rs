//! `command_builder.feature`: what `client.command(..)` builds and sends,
//! against the recording stand-in for a coordinator.

use angzarr_client::proto::{CommandBook, MergeStrategy};
use angzarr_client::testing::FakeCoordinator;
use angzarr_client::{ClientError, CommandBuilder};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use prost::Message;
use prost_types::Any;

use crate::domains::CreateOrder;
use crate::world::Seed;

fn fake_client(world: &mut Seed) -> angzarr_client::DomainClient {
    world.fake.get_or_insert_with(FakeCoordinator::new).client()
}

#[given(regex = r"^a (mock GatewayClient for testing|GatewayClient implementation)$")]
fn gateway(world: &mut Seed) {
    world.fake = Some(FakeCoordinator::new());
    world.connected = Some(fake_client(world));
}

fn start(world: &mut Seed, domain: &str, root: Option<&str>) {
    let client = world
        .connected
        .clone()
        .unwrap_or_else(|| fake_client(world));
    world.builder = Some(match root {
        Some(name) => {
            let root = world.root(name);
            client.command(domain, root)
        }
        None => client.command_new(domain),
    });
}

fn builder(world: &mut Seed) -> &mut Option<CommandBuilder> {
    assert!(world.builder.is_some(), "no command is being built");
    &mut world.builder
}

fn change(world: &mut Seed, f: impl FnOnce(CommandBuilder) -> CommandBuilder) {
    let slot = builder(world);
    let current = slot.take().expect("checked");
    *slot = Some(f(current));
}

fn order() -> CreateOrder {
    CreateOrder {
        customer_id: "customer-1".into(),
    }
}

#[when(expr = "I build a command for domain {string} root {string}")]
fn for_root(world: &mut Seed, domain: String, root: String) {
    start(world, &domain, Some(&root));
}

#[when(regex = r#"^I build a command for (?:new aggregate in )?domain "([^"]+)"$"#)]
fn for_new(world: &mut Seed, domain: String) {
    start(world, &domain, None);
}

#[when(expr = "I set the command type to {string}")]
fn set_type(world: &mut Seed, name: String) {
    builder(world);
    world.command_type = Some(name);
}

#[when("I set the command payload")]
fn set_payload(world: &mut Seed) {
    let name = world.command_type.clone().expect("a command type was set");
    let command = Any {
        type_url: format!("type.googleapis.com/orders.{name}"),
        value: order().encode_to_vec(),
    };
    change(world, |b| b.with_any(command));
}

#[when("I set the command type and payload")]
fn set_both(world: &mut Seed) {
    change(world, |b| b.with_command(&order()));
}

#[when(expr = "I set correlation ID to {string}")]
fn set_correlation(world: &mut Seed, id: String) {
    change(world, |b| b.with_correlation_id(id));
}

#[when(expr = "I set sequence to {int}")]
fn set_sequence(world: &mut Seed, sequence: u32) {
    change(world, |b| b.with_sequence(sequence));
}

#[when(regex = r"^I do NOT set the (command type|payload)$")]
fn do_not_set(world: &mut Seed) {
    // In Rust a command's type URL and payload come from one message
    // (`with_command`); leaving either out is leaving the command out.
    builder(world);
}

fn built(world: &Seed) -> Result<CommandBook, ClientError> {
    world
        .builder
        .as_ref()
        .expect("no command is being built")
        .build()
}

fn book(world: &Seed) -> CommandBook {
    built(world).unwrap_or_else(|error| panic!("building failed: {error}"))
}

#[then(expr = "the built command should have domain {string}")]
fn has_domain(world: &mut Seed, domain: String) {
    assert_eq!(book(world).cover.expect("a cover").domain, domain);
}

#[then(expr = "the built command should have root {string}")]
fn has_root(world: &mut Seed, name: String) {
    let root = world.root(&name);
    assert_eq!(
        book(world).cover.expect("a cover").root_uuid().ok(),
        Some(root)
    );
}

/// A command for a new aggregate has a fresh random root: the coordinator
/// refuses a cover without one ("Cover must have a root UUID").
fn assert_fresh_root(book: &CommandBook, named: &[uuid::Uuid]) {
    let root = book
        .cover
        .as_ref()
        .expect("a cover")
        .root_uuid()
        .expect("a root");
    assert_eq!(root.get_version_num(), 4, "a random root");
    assert!(!named.contains(&root), "not a root the scenario named");
}

#[then("the built command should have no root")]
fn has_no_root(world: &mut Seed) {
    let named: Vec<_> = world.roots.values().copied().collect();
    assert_fresh_root(&book(world), &named);
}

#[then(expr = "the built command should have type URL containing {string}")]
fn type_url_contains(world: &mut Seed, part: String) {
    let book = book(world);
    let url = &book.pages[0].command().expect("a command").type_url;
    assert!(url.contains(&part), "{url}");
}

#[then("the built command should have a non-empty correlation ID")]
fn has_correlation(world: &mut Seed) {
    assert!(!book(world)
        .cover
        .expect("a cover")
        .correlation_id
        .is_empty());
}

#[then("the correlation ID should be a valid UUID")]
fn correlation_is_uuid(world: &mut Seed) {
    let id = book(world).cover.expect("a cover").correlation_id;
    uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("{id} is not a UUID: {e}"));
}

#[then(expr = "the built command should have correlation ID {string}")]
fn has_correlation_id(world: &mut Seed, id: String) {
    assert_eq!(book(world).cover.expect("a cover").correlation_id, id);
}

#[then(expr = "the built command should have sequence {int}")]
fn has_sequence(world: &mut Seed, sequence: u32) {
    assert_eq!(book(world).pages[0].expected_sequence(), sequence);
}

#[then("building should fail")]
fn building_fails(world: &mut Seed) {
    let error = built(world).expect_err("building fails");
    assert!(error.is_invalid_argument(), "{error:?}");
}

#[then(regex = r"^the error should indicate missing (type URL|payload)$")]
fn indicates_missing(world: &mut Seed) {
    let error = built(world).expect_err("building fails");
    assert_eq!(error.message(), "command not set");
}

#[when("I build a command using fluent chaining:")]
fn fluent(world: &mut Seed, step: &Step) {
    let text = step.docstring.as_deref().expect("the chain");
    assert!(
        text.contains(r#".with_correlation_id("trace-456")"#) && text.contains(".with_sequence(3)")
    );
    let client = fake_client(world);
    let root = world.root("chained");
    let built = client
        .command("orders", root)
        .with_correlation_id("trace-456")
        .with_sequence(3)
        .with_command(&order())
        .build();
    world.built = vec![built];
}

#[then("the build should succeed")]
fn build_succeeds(world: &mut Seed) {
    assert!(world.built.iter().all(Result::is_ok), "{:?}", world.built);
}

#[then("all chained values should be preserved")]
fn chained_preserved(world: &mut Seed) {
    let root = world.root("chained");
    let book = world.built[0].as_ref().expect("built");
    let cover = book.cover.as_ref().expect("a cover");
    assert_eq!(
        (cover.domain.as_str(), cover.correlation_id.as_str()),
        ("orders", "trace-456")
    );
    assert_eq!(cover.root_uuid().ok(), Some(root));
    assert_eq!(book.pages[0].expected_sequence(), 3);
    assert_eq!(
        book.pages[0].command().expect("a command").type_url,
        "type.googleapis.com/orders.CreateOrder"
    );
}

#[given(expr = "a builder configured for domain {string}")]
fn configured(world: &mut Seed, domain: String) {
    world.notes.insert("domain", domain);
}

#[when("I create two commands with different roots")]
fn two_commands(world: &mut Seed) {
    let client = fake_client(world);
    let domain = world.notes["domain"].clone();
    let configure = |root| {
        client
            .command(&domain, root)
            .with_command(&order())
            .with_sequence(2)
    };
    let (first, second) = (world.root("first"), world.root("second"));
    let base = configure(first);
    // A clone is configured again; the original must not see it.
    let other = base.clone().with_sequence(7).with_correlation_id("other");
    world.built = vec![base.build(), configure(second).build(), other.build()];
}

#[then("each command should have its own root")]
fn own_roots(world: &mut Seed) {
    let roots: Vec<_> = world
        .built
        .iter()
        .take(2)
        .map(|b| {
            b.as_ref()
                .expect("built")
                .cover
                .as_ref()
                .expect("cover")
                .root_uuid()
                .expect("root")
        })
        .collect();
    assert_eq!(roots, vec![world.root("first"), world.root("second")]);
}

#[then("builder reuse should not cause cross-contamination")]
fn no_contamination(world: &mut Seed) {
    let books: Vec<&CommandBook> = world
        .built
        .iter()
        .map(|b| b.as_ref().expect("built"))
        .collect();
    assert_eq!(
        books[0].pages[0].expected_sequence(),
        2,
        "the original kept its sequence"
    );
    assert_eq!(books[2].pages[0].expected_sequence(), 7);
    let ids: Vec<&str> = books
        .iter()
        .map(|b| b.cover.as_ref().expect("cover").correlation_id.as_str())
        .collect();
    assert_ne!(ids[0], ids[1], "each build has its own correlation id");
    assert_eq!(ids[2], "other");
}

#[when(expr = "I build and execute a command for domain {string}")]
async fn build_and_execute(world: &mut Seed, domain: String) {
    let client = fake_client(world);
    world.outcome = Some(
        client
            .command_new(&domain)
            .with_command(&order())
            .execute()
            .await,
    );
    world.notes.insert("domain", domain);
}

#[then("the command should be sent to the gateway")]
fn sent(world: &mut Seed) {
    let commands = world.fake.as_ref().expect("a fake").commands();
    assert_eq!(commands.len(), 1);
    let cover = commands[0]
        .command
        .as_ref()
        .and_then(|b| b.cover.as_ref())
        .expect("a cover");
    assert_eq!(cover.domain, world.notes["domain"]);
}

#[then("the response should be returned")]
fn returned(world: &mut Seed) {
    world.response();
}

#[when("I use the builder to execute directly:")]
async fn execute_directly(world: &mut Seed, step: &Step) {
    assert!(step
        .docstring
        .as_deref()
        .is_some_and(|text| text.contains(".execute()")));
    let client = fake_client(world);
    let root = world.root("direct");
    world.outcome = Some(
        client
            .command("orders", root)
            .with_command(&order())
            .execute()
            .await,
    );
}

#[then("the command should be built and executed in one call")]
fn one_call(world: &mut Seed) {
    world.response();
    let commands = world.fake.as_ref().expect("a fake").commands();
    assert_eq!(commands.len(), 1);
    let root = world.root("direct");
    let cover = commands[0]
        .command
        .as_ref()
        .and_then(|b| b.cover.as_ref())
        .expect("a cover");
    assert_eq!(cover.root_uuid().ok(), Some(root));
}

#[when("I build a command without specifying merge strategy")]
fn default_strategy(world: &mut Seed) {
    start(world, "orders", Some("merge"));
    change(world, |b| b.with_command(&order()));
}

#[when(expr = "I build a command with merge strategy {word}")]
fn with_strategy(world: &mut Seed, strategy: String) {
    default_strategy(world);
    let strategy = MergeStrategy::from_str_name(&format!("MERGE_{strategy}")).expect("a strategy");
    change(world, |b| b.with_merge_strategy(strategy));
}

#[then(regex = r"^the command page should have (MERGE_\w+) strategy$")]
fn page_strategy(world: &mut Seed, strategy: String) {
    let expected = MergeStrategy::from_str_name(&strategy).expect("a strategy");
    assert_eq!(book(world).pages[0].merge_strategy(), expected);
}

#[when(expr = "I call client.command\\({string}, root\\)")]
fn call_command(world: &mut Seed, domain: String) {
    start(world, &domain, Some("root"));
    world.notes.insert("domain", domain);
}

#[then("I should receive a CommandBuilder for that domain and root")]
fn builder_for(world: &mut Seed) {
    change(world, |b| b.with_command(&order()));
    let cover = book(world).cover.expect("a cover");
    assert_eq!(cover.domain, world.notes["domain"]);
    assert_eq!(cover.root_uuid().ok(), Some(world.root("root")));
}

#[when(expr = "I call client.command_new\\({string}\\)")]
fn call_command_new(world: &mut Seed, domain: String) {
    start(world, &domain, None);
}

#[then("I should receive a CommandBuilder with no root set")]
fn builder_without_root(world: &mut Seed) {
    change(world, |b| b.with_command(&order()));
    has_no_root(world);
}
