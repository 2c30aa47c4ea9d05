//! Procedural macros of [angzarr-client](https://docs.rs/angzarr-client).
//!
//! Depend on `angzarr-client`, which re-exports these macros; this crate is an
//! implementation detail whose version is pinned to the client's. The macros
//! turn an impl block into an Angzarr aggregate: its dispatch table, state
//! rebuild and gRPC service, with mistakes reported at compile time.
//!
//! The pipeline follows the usual shape: `attr` parses arguments, `ast`
//! models the impl block, `valid` checks it, `expand` generates glue that
//! calls `angzarr_client::__private`, and `fallback` re-emits the input
//! alongside every error so that one compile shows all problems.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod ast;
mod attr;
mod expand;
mod fallback;
mod valid;

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
/// `Replay`), `crate = path` (where `angzarr_client` is, if renamed).
///
/// See the `angzarr_client` crate documentation for the whole model.
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let mut errors = Errors::default();
    let parsed_args = attr::aggregate_args(args.into(), &mut errors);
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Impl(item)) => item,
        Ok(other) => {
            errors.push(syn::Error::new_spanned(
                item_head(&other),
                "`#[aggregate]` goes on an inherent impl block: `impl Player { ... }`",
            ));
            return finish(input, errors);
        }
        Err(error) => {
            errors.push(error);
            return finish(input, errors);
        }
    };
    let model = ast::Aggregate::from_impl(item, parsed_args, &mut errors);
    valid::check(&model, &mut errors);
    match errors.combined() {
        Some(error) => fallback::emit(input, error).into(),
        None => expand::aggregate(&model).into(),
    }
}

/// Marks a method of an `#[aggregate]` impl block as the handler of one
/// command type: `#[handles(RegisterPlayer)]`.
///
/// Its first parameter is the command (by value or reference); it may then
/// take `&State` and `&CommandContext`, and `&self`; it may be `async`. It
/// returns one event, several (a tuple, `Vec` or `Option`), or a `Result` of
/// these with a `Rejection`.
#[proc_macro_attribute]
pub fn handles(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("handles", input)
}

/// Marks an associated function of an `#[aggregate]` impl block as the
/// applier of one event type: `#[applies(PlayerRegistered)]` on
/// `fn name(state: &mut State, event: &PlayerRegistered)`.
#[proc_macro_attribute]
pub fn applies(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("applies", input)
}

/// Marks a method of an `#[aggregate]` impl block as the compensation for a
/// command rejected by another domain:
/// `#[rejected(domain = "table", command = ReserveSeat)]`. It takes the
/// `&RejectionNotification` and optionally `&State` and `&CommandContext`,
/// and returns compensating events like a command handler.
#[proc_macro_attribute]
pub fn rejected(_args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("rejected", input)
}

/// The marker attributes are consumed by `#[aggregate]`; reaching one means it
/// is outside an aggregate.
fn misplaced(name: &str, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    errors.push(syn::Error::new(
        proc_macro2::Span::call_site(),
        format!("`#[{name}]` only works on a method inside an `#[aggregate(...)]` impl block"),
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
