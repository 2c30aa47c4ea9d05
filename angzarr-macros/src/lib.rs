//! Procedural macros of [angzarr-client](https://docs.rs/angzarr-client).
//!
//! Depend on `angzarr-client`, which re-exports these macros; this crate is an
//! implementation detail whose version is pinned to the client's. Each
//! component attribute turns an impl block into one of Angzarr's five kinds
//! of business logic (its dispatch table, its state rebuild where it has
//! state, and its registration in the binary's topology), with mistakes
//! reported at compile time.
//!
//! One pipeline serves every kind: `attr` parses arguments, `ast` models the
//! impl block as a component, `valid` checks it (what each kind requires and
//! allows), `expand` generates glue that calls `angzarr_client::__private`,
//! and `fallback` re-emits the input alongside every error so that one
//! compile shows all problems.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod ast;
mod attr;
mod expand;
mod fallback;
mod valid;

use attr::Kind;

/// Errors collected in one pass, reported together.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn combined(self) -> Option<syn::Error> {
        self.0.into_iter().reduce(|mut all, next| {
            all.combine(next);
            all
        })
    }
}

/// Turns an inherent impl block into an Angzarr aggregate.
///
/// ```text
/// #[aggregate(domain = "player", state = PlayerState)]
/// impl Player {
///     #[handles(RegisterPlayer)]
///     fn register(&self, cmd: RegisterPlayer, state: &PlayerState) -> Result<PlayerRegistered, Rejection> { .. }
///
///     #[applies(PlayerRegistered)]
///     fn registered(state: &mut PlayerState, event: &PlayerRegistered) { .. }
/// }
/// ```
///
/// Arguments: `domain = "..."` (required; Angzarr's rule `[a-z_][a-z0-9_-]*`,
/// at most 64 characters), `state = Type` (required), `state_factory = path`
/// (a function returning the empty state; otherwise `Default`), `snapshot`
/// (the state is a protobuf message, kept as snapshots and used for
/// `Replay`; returned every `angzarr_client::DEFAULT_SNAPSHOT_INTERVAL`
/// events, or every N with `snapshot = N`, or when a
/// `fn(&State, u32) -> bool` given the state and the last event's sequence
/// says so with `snapshot = path`), `upcaster = value` (an `#[upcaster]` whose rules upgrade the
/// history before it is applied), `crate = path` (where `angzarr_client` is,
/// if renamed).
///
/// Methods: `#[handles(Command)]`, `#[applies(Event)]`,
/// `#[rejected(domain = "...", command = Command)]`.
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, input: TokenStream) -> TokenStream {
    component(Kind::Aggregate, args, input)
}

/// Turns an inherent impl block into an Angzarr saga: a stateless
/// translator from one domain's events to other domains' commands.
///
/// ```text
/// #[saga(name = "saga-table-player", source = "table", target = "player")]
/// impl TablePlayerSaga {
///     #[handles(PlayerLeft)]
///     fn release(&self, event: &PlayerLeft, ctx: &SagaContext) -> Command<ReleaseFunds> { .. }
/// }
/// ```
///
/// Arguments: `name` (required), `source` (required: the domain consumed),
/// `target = "..."` or `targets = ["...", ...]` (required), `crate = path`.
/// Methods: `#[handles(Event)]` only, taking the event (by value or `&`) and
/// optionally `&SagaContext` and `&self`, possibly `async`, returning
/// `Command`s and `Fact`s (one, a tuple, `Vec`, `Option`, a `SagaOutput`,
/// `()`, or a `Result` of these).
#[proc_macro_attribute]
pub fn saga(args: TokenStream, input: TokenStream) -> TokenStream {
    component(Kind::Saga, args, input)
}

/// Turns an inherent impl block into an Angzarr process manager: a workflow
/// across domains, one instance per correlation id, with state of its own.
///
/// ```text
/// #[process_manager(name = "buy-in", sources = ["player", "table"],
///                   targets = ["player", "table"], state = BuyInState)]
/// impl BuyIn {
///     #[prepares(BuyInRequested)]
///     fn destinations(&self, event: &BuyInRequested) -> Vec<Cover> { .. }
///     #[handles(BuyInRequested)]
///     fn start(&self, event: &BuyInRequested, state: &BuyInState, ctx: &PmContext) -> PmOutput { .. }
///     #[applies(BuyInInitiated)]
///     fn initiated(state: &mut BuyInState, event: &BuyInInitiated) { .. }
///     #[rejected(domain = "table", command = SeatPlayer)]
///     fn seating_failed(&self, notice: &RejectionNotification, state: &BuyInState) -> PmOutput { .. }
/// }
/// ```
///
/// Arguments: `name` (required; also the domain of its own events),
/// `sources = [...]`, `targets = [...]`, `state = Type` (all required),
/// `state_factory = path`, `snapshot`, `crate = path`.
#[proc_macro_attribute]
pub fn process_manager(args: TokenStream, input: TokenStream) -> TokenStream {
    component(Kind::ProcessManager, args, input)
}

/// Turns an inherent impl block into an Angzarr projector: read models and
/// outside effects from events.
///
/// ```text
/// #[projector(name = "table-seating", domains = ["table", "player"])]
/// impl Seating {
///     #[handles(PlayerJoined)]
///     fn joined(&self, event: &PlayerJoined, ctx: &ProjectionContext) -> Result<(), Rejection> { .. }
/// }
/// ```
///
/// Arguments: `name` and `domains = [...]` (required), `crate = path`.
/// Methods: `#[handles(Event)]`, taking the event and optionally
/// `&ProjectionContext` and `&self`, possibly `async`, returning nothing, a
/// projection message, `CloudEvent`s, an `Option` of these, or a `Result`.
#[proc_macro_attribute]
pub fn projector(args: TokenStream, input: TokenStream) -> TokenStream {
    component(Kind::Projector, args, input)
}

/// Turns an inherent impl block into an Angzarr upcaster: rules that upgrade
/// old event versions as history is loaded.
///
/// ```text
/// #[upcaster(domain = "player")]
/// impl PlayerUpcaster {
///     #[upcasts(PlayerRegisteredV1)]
///     fn v1(old: PlayerRegisteredV1) -> PlayerRegistered { .. }
/// }
/// ```
///
/// Arguments: `domain` (required), `crate = path`. Methods:
/// `#[upcasts(OldEvent)]` only; rules chain until none matches, and a rule
/// mapping a type to itself, two rules for one type, or rules forming a
/// cycle are compile errors.
#[proc_macro_attribute]
pub fn upcaster(args: TokenStream, input: TokenStream) -> TokenStream {
    component(Kind::Upcaster, args, input)
}

/// Marks a method of a component as the handler of one message type: a
/// command for aggregates, an event for the other kinds:
/// `#[handles(RegisterPlayer)]`.
#[proc_macro_attribute]
pub fn handles(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("handles", input)
}

/// Marks an associated function of an aggregate or process manager as the
/// applier of one event type: `#[applies(PlayerRegistered)]` on
/// `fn name(state: &mut State, event: &PlayerRegistered)`.
#[proc_macro_attribute]
pub fn applies(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("applies", input)
}

/// Marks a method of an aggregate or process manager as the reaction to a
/// command another domain rejected:
/// `#[rejected(domain = "table", command = ReserveSeat)]`. It takes the
/// `&RejectionNotification` and optionally `&State` and the kind's context.
#[proc_macro_attribute]
pub fn rejected(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("rejected", input)
}

/// Marks a method of a process manager as naming the aggregates whose
/// sequences handling a trigger needs: `#[prepares(BuyInRequested)]`.
#[proc_macro_attribute]
pub fn prepares(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("prepares", input)
}

/// Marks a method of an upcaster as the rule upgrading one old event type:
/// `#[upcasts(PlayerRegisteredV1)]` on `fn v1(old: PlayerRegisteredV1) -> PlayerRegistered`.
#[proc_macro_attribute]
pub fn upcasts(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("upcasts", input)
}

fn component(kind: Kind, args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let mut errors = Errors::default();
    let parsed_args = attr::component_args(kind, args.into(), &mut errors);
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Impl(item)) => item,
        Ok(other) => {
            let name = match &other {
                syn::Item::Struct(item) => item.ident.to_string(),
                syn::Item::Enum(item) => item.ident.to_string(),
                _ => "MyType".to_owned(),
            };
            errors.push(syn::Error::new_spanned(
                item_head(&other),
                format!(
                    "`#[{}]` goes on an inherent impl block: `impl {name} {{ ... }}`",
                    kind.attribute()
                ),
            ));
            return finish(input, errors);
        }
        Err(error) => {
            errors.push(error);
            return finish(input, errors);
        }
    };
    let model = ast::Component::from_impl(kind, item, parsed_args, &mut errors);
    valid::check(&model, &mut errors);
    match errors.combined() {
        Some(error) => fallback::emit(input, error).into(),
        None => expand::component(&model).into(),
    }
}

/// The marker attributes are consumed by the component attributes; reaching
/// one means it is outside a component.
fn misplaced(name: &str, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    errors.push(syn::Error::new(
        proc_macro2::Span::call_site(),
        format!(
            "`#[{name}]` only works on a method inside a component's impl block \
             (`#[aggregate]`, `#[saga]`, `#[process_manager]`, `#[projector]` or `#[upcaster]`)"
        ),
    ));
    finish(input.into(), errors)
}

fn finish(input: proc_macro2::TokenStream, errors: Errors) -> TokenStream {
    match errors.combined() {
        Some(error) => fallback::emit(input, error).into(),
        None => input.into(),
    }
}

/// The part of an item to underline: its keyword and name, not its body.
fn item_head(item: &syn::Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match item {
        syn::Item::Struct(s) => {
            let (kw, ident) = (&s.struct_token, &s.ident);
            quote::quote!(#kw #ident)
        }
        syn::Item::Enum(e) => {
            let (kw, ident) = (&e.enum_token, &e.ident);
            quote::quote!(#kw #ident)
        }
        syn::Item::Fn(f) => f.sig.to_token_stream(),
        syn::Item::Trait(t) => {
            let (kw, ident) = (&t.trait_token, &t.ident);
            quote::quote!(#kw #ident)
        }
        other => other.to_token_stream(),
    }
}
