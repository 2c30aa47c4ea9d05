//! Parsing attribute arguments: the component attributes (`#[aggregate(...)]`,
//! `#[saga(...)]`, ...) and the method markers (`#[handles(...)]`, ...).

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, LitStr, Path, Token, Type};

use crate::Errors;

/// The five kinds of component.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Aggregate,
    Saga,
    ProcessManager,
    Projector,
    Upcaster,
}

impl Kind {
    /// The attribute's name.
    pub fn attribute(self) -> &'static str {
        match self {
            Kind::Aggregate => "aggregate",
            Kind::Saga => "saga",
            Kind::ProcessManager => "process_manager",
            Kind::Projector => "projector",
            Kind::Upcaster => "upcaster",
        }
    }

    /// The kind in words.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Aggregate => "an aggregate",
            Kind::Saga => "a saga",
            Kind::ProcessManager => "a process manager",
            Kind::Projector => "a projector",
            Kind::Upcaster => "an upcaster",
        }
    }

    /// The component attribute a path names, if any.
    pub fn of_path(path: &Path) -> Option<Self> {
        let last = path.segments.last()?;
        match last.ident.to_string().as_str() {
            "aggregate" => Some(Kind::Aggregate),
            "saga" => Some(Kind::Saga),
            "process_manager" => Some(Kind::ProcessManager),
            "projector" => Some(Kind::Projector),
            "upcaster" => Some(Kind::Upcaster),
            _ => None,
        }
    }

    /// The arguments it accepts, in the order the error message lists them.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Aggregate => &[
                "domain",
                "state",
                "state_factory",
                "snapshot",
                "upcaster",
                "crate",
            ],
            Kind::Saga => &["name", "source", "target", "targets", "crate"],
            Kind::ProcessManager => &[
                "name",
                "sources",
                "targets",
                "state",
                "state_factory",
                "snapshot",
                "crate",
            ],
            Kind::Projector => &["name", "domains", "crate"],
            Kind::Upcaster => &["domain", "crate"],
        }
    }

    /// An example of the attribute, for error messages.
    pub fn example(self) -> &'static str {
        match self {
            Kind::Aggregate => "#[aggregate(domain = \"player\", state = PlayerState)]",
            Kind::Saga => "#[saga(name = \"saga-table-player\", source = \"table\", target = \"player\")]",
            Kind::ProcessManager => {
                "#[process_manager(name = \"buy-in\", sources = [\"player\", \"table\"], targets = [\"player\", \"table\"], state = BuyInState)]"
            }
            Kind::Projector => {
                "#[projector(name = \"table-seating\", domains = [\"table\", \"player\"])]"
            }
            Kind::Upcaster => "#[upcaster(domain = \"player\")]",
        }
    }
}

/// A bracketed list of domain names: `["player", "table"]`.
pub struct DomainList {
    pub span: Span,
    pub items: Vec<LitStr>,
}

/// `snapshot`, `snapshot = 100` or `snapshot = predicate`.
pub struct SnapshotArg {
    /// The `snapshot` key.
    pub span: Span,
    pub schedule: Schedule,
}

/// When an aggregate returns a snapshot.
pub enum Schedule {
    /// The library's default policy.
    Default,
    /// Every this many events (at least 1).
    Every(syn::LitInt),
    /// When `predicate(&state, last_sequence)` holds.
    When(Path),
}

/// The arguments of a component attribute; which may appear depends on the kind.
#[derive(Default)]
pub struct Args {
    pub domain: Option<LitStr>,
    pub name: Option<LitStr>,
    pub source: Option<LitStr>,
    pub target: Option<LitStr>,
    pub targets: Option<DomainList>,
    pub sources: Option<DomainList>,
    pub domains: Option<DomainList>,
    pub state: Option<Type>,
    pub state_factory: Option<Path>,
    pub snapshot: Option<SnapshotArg>,
    pub upcaster: Option<Expr>,
    pub krate: Option<Path>,
}

/// Parses a component attribute's arguments, collecting every problem.
pub fn component_args(kind: Kind, tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.clone();
        let name = quote::ToTokens::to_token_stream(&key)
            .to_string()
            .replace(' ', "");
        if !kind.keys().contains(&name.as_str()) {
            let expected = kind
                .keys()
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(meta.error(format!(
                "unknown `#[{}]` argument `{name}`; expected one of {expected}",
                kind.attribute()
            )));
        }
        let duplicate = || syn::Error::new(key.span(), format!("duplicate `{name}`"));
        macro_rules! set {
            ($field:ident, $value:expr) => {{
                let value = $value;
                if args.$field.replace(value).is_some() {
                    return Err(duplicate());
                }
            }};
        }
        match name.as_str() {
            "domain" => set!(domain, meta.value()?.parse::<LitStr>()?),
            "name" => set!(name, meta.value()?.parse::<LitStr>()?),
            "source" => set!(source, meta.value()?.parse::<LitStr>()?),
            "target" => set!(target, meta.value()?.parse::<LitStr>()?),
            "targets" => set!(targets, domain_list(&meta)?),
            "sources" => set!(sources, domain_list(&meta)?),
            "domains" => set!(domains, domain_list(&meta)?),
            "state" => set!(state, meta.value()?.parse::<Type>()?),
            "state_factory" => set!(state_factory, meta.value()?.parse::<Path>()?),
            "snapshot" => set!(snapshot, snapshot_arg(kind, &meta)?),
            "upcaster" => set!(upcaster, meta.value()?.parse::<Expr>()?),
            "crate" => set!(krate, meta.value()?.parse::<Path>()?),
            _ => return Err(meta.error(format!("unknown argument `{name}`"))),
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

fn snapshot_arg(kind: Kind, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<SnapshotArg> {
    let span = meta.path.span();
    if !meta.input.peek(Token![=]) {
        return Ok(SnapshotArg {
            span,
            schedule: Schedule::Default,
        });
    }
    let value = meta.value()?;
    if kind != Kind::Aggregate {
        return Err(value.error(format!(
            "`snapshot` takes no value on {}: a snapshot schedule (`snapshot = 100`, `snapshot = predicate`) is an aggregate's",
            kind.noun()
        )));
    }
    if value.peek(syn::LitInt) {
        let events: syn::LitInt = value.parse()?;
        return match events.base10_parse::<u32>() {
            Ok(0) => Err(syn::Error::new(
                events.span(),
                "`snapshot = 0` would never take a snapshot; give a number of events of at least 1, or leave out `snapshot` to keep none",
            )),
            Ok(_) => Ok(SnapshotArg {
                span,
                schedule: Schedule::Every(events),
            }),
            Err(_) => Err(syn::Error::new(
                events.span(),
                "`snapshot = N` takes a number of events that fits in a u32",
            )),
        };
    }
    match value.parse::<Path>() {
        Ok(predicate) => Ok(SnapshotArg {
            span,
            schedule: Schedule::When(predicate),
        }),
        Err(error) => Err(syn::Error::new(
            error.span(),
            "expected `snapshot`, `snapshot = <events>` (a snapshot every that many events) or `snapshot = <fn(&State, u32) -> bool>`",
        )),
    }
}

fn domain_list(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<DomainList> {
    let value = meta.value()?;
    let content;
    let bracket = syn::bracketed!(content in value);
    let items = content.parse_terminated(|input| input.parse::<LitStr>(), Token![,])?;
    Ok(DomainList {
        span: bracket.span.join(),
        items: items.into_iter().collect(),
    })
}

/// The kind of marker attribute on a method.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Handles,
    Applies,
    Rejected,
    Prepares,
    Upcasts,
}

impl Role {
    pub fn of(attr: &Attribute) -> Option<Self> {
        let last = attr.path().segments.last()?;
        match last.ident.to_string().as_str() {
            "handles" => Some(Role::Handles),
            "applies" => Some(Role::Applies),
            "rejected" => Some(Role::Rejected),
            "prepares" => Some(Role::Prepares),
            "upcasts" => Some(Role::Upcasts),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Handles => "handles",
            Role::Applies => "applies",
            Role::Rejected => "rejected",
            Role::Prepares => "prepares",
            Role::Upcasts => "upcasts",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Role::Handles => "#[handles(RegisterPlayer)]",
            Role::Applies => "#[applies(PlayerRegistered)]",
            Role::Prepares => "#[prepares(BuyInRequested)]",
            Role::Upcasts => "#[upcasts(PlayerRegisteredV1)]",
            Role::Rejected => "#[rejected(domain = \"table\", command = SeatPlayer)]",
        }
    }
}

/// The message type named by a marker that takes one: `#[handles(T)]`.
pub fn message_type(attr: &Attribute, role: Role) -> syn::Result<Type> {
    let example = role.example();
    let missing = || {
        syn::Error::new_spanned(
            attr,
            format!(
                "`#[{}]` needs the message type, e.g. `{example}`",
                role.name()
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
                role.name()
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
