//! Parsing the arguments of `#[aggregate(...)]`, `#[handles(...)]`,
//! `#[applies(...)]` and `#[rejected(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Path, Type};

use crate::Errors;

/// The keys `#[aggregate]` accepts, for error messages.
pub const AGGREGATE_KEYS: &str = "`domain`, `state`, `state_factory`, `snapshot`, `crate`";

/// The arguments of `#[aggregate(...)]`.
#[derive(Default)]
pub struct AggregateArgs {
    pub domain: Option<LitStr>,
    pub state: Option<Type>,
    pub state_factory: Option<Path>,
    pub snapshot: Option<Span>,
    pub krate: Option<Path>,
}

/// Parses `#[aggregate(...)]` arguments, collecting every problem.
pub fn aggregate_args(tokens: TokenStream, errors: &mut Errors) -> AggregateArgs {
    let mut args = AggregateArgs::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.clone();
        let duplicate = |what: &str| syn::Error::new(key.span(), format!("duplicate `{what}`"));
        if key.is_ident("domain") {
            let value: LitStr = meta.value()?.parse()?;
            if args.domain.replace(value).is_some() {
                return Err(duplicate("domain"));
            }
        } else if key.is_ident("state") {
            let value: Type = meta.value()?.parse()?;
            if args.state.replace(value).is_some() {
                return Err(duplicate("state"));
            }
        } else if key.is_ident("state_factory") {
            let value: Path = meta.value()?.parse()?;
            if args.state_factory.replace(value).is_some() {
                return Err(duplicate("state_factory"));
            }
        } else if key.is_ident("snapshot") {
            if args.snapshot.replace(key.span()).is_some() {
                return Err(duplicate("snapshot"));
            }
        } else if key.is_ident("crate") {
            let value: Path = meta.value()?.parse()?;
            if args.krate.replace(value).is_some() {
                return Err(duplicate("crate"));
            }
        } else {
            let name = quote::ToTokens::to_token_stream(&key)
                .to_string()
                .replace(' ', "");
            return Err(meta.error(format!(
                "unknown `#[aggregate]` argument `{name}`; expected one of {AGGREGATE_KEYS}"
            )));
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

/// The kind of marker attribute on a method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    Handles,
    Applies,
    Rejected,
}

impl MarkerKind {
    pub fn of(attr: &Attribute) -> Option<Self> {
        let last = attr.path().segments.last()?;
        match last.ident.to_string().as_str() {
            "handles" => Some(MarkerKind::Handles),
            "applies" => Some(MarkerKind::Applies),
            "rejected" => Some(MarkerKind::Rejected),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Handles => "handles",
            MarkerKind::Applies => "applies",
            MarkerKind::Rejected => "rejected",
        }
    }
}

/// The message type named by `#[handles(T)]` or `#[applies(T)]`.
pub fn message_type(attr: &Attribute, kind: MarkerKind) -> syn::Result<Type> {
    let example = match kind {
        MarkerKind::Handles => "#[handles(RegisterPlayer)]",
        _ => "#[applies(PlayerRegistered)]",
    };
    let missing = || {
        syn::Error::new_spanned(
            attr,
            format!(
                "`#[{}]` needs the message type, e.g. `{example}`",
                kind.name()
            ),
        )
    };
    let syn::Meta::List(list) = &attr.meta else {
        return Err(missing());
    };
    if list.tokens.is_empty() {
        return Err(missing());
    }
    list.parse_args::<Type>().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!(
                "`#[{}]` takes exactly one message type, e.g. `{example}`",
                kind.name()
            ),
        )
    })
}

/// The arguments of `#[rejected(domain = "...", command = Type)]`.
pub struct RejectedArgs {
    pub domain: LitStr,
    pub command: Type,
}

pub fn rejected_args(attr: &Attribute) -> syn::Result<RejectedArgs> {
    let usage = "`#[rejected(domain = \"table\", command = ReserveSeat)]`";
    let syn::Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(
            attr,
            format!("`#[rejected]` needs the rejecting domain and command: {usage}"),
        ));
    };
    let mut domain = None;
    let mut command = None;
    list.parse_nested_meta(|meta| {
        if meta.path.is_ident("domain") {
            domain = Some(meta.value()?.parse::<LitStr>()?);
        } else if meta.path.is_ident("command") {
            command = Some(meta.value()?.parse::<Type>()?);
        } else {
            return Err(
                meta.error("unknown `#[rejected]` argument; expected `domain` and `command`")
            );
        }
        Ok(())
    })?;
    match (domain, command) {
        (Some(domain), Some(command)) => Ok(RejectedArgs { domain, command }),
        (None, _) => Err(syn::Error::new_spanned(
            attr,
            format!("`#[rejected]` is missing `domain`: {usage}"),
        )),
        (_, None) => Err(syn::Error::new_spanned(
            attr,
            format!("`#[rejected]` is missing `command`: {usage}"),
        )),
    }
}
