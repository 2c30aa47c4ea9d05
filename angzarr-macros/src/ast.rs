//! The component model: one impl block of any kind, its arguments, and its
//! marked methods with their signatures understood.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, ReturnType, Type};

use crate::attr::{self, Args, Kind, Role};
use crate::Errors;

pub struct Component {
    pub kind: Kind,
    /// The impl block as written, minus the marker attributes.
    pub item: ItemImpl,
    /// The type's name (`Player`).
    pub name: String,
    pub args: Args,
    pub handlers: Vec<Handler>,
    pub appliers: Vec<Applier>,
    pub compensators: Vec<Compensator>,
    pub preparers: Vec<Handler>,
    pub rules: Vec<Handler>,
}

/// A parameter holding a message, by value or by reference.
pub struct MessageParam {
    pub ty: Type,
    pub by_ref: bool,
}

/// A parameter after the message, in the order written.
pub enum Extra {
    State(Box<Type>),
    Context(Span),
}

/// The shape of a marked method that is called with a message.
pub struct Call {
    pub method: Ident,
    pub receiver: bool,
    pub is_async: bool,
    pub message: MessageParam,
    pub extras: Vec<Extra>,
    pub output: Type,
}

/// A method marked with a message type: `#[handles(T)]`, `#[prepares(T)]`
/// or `#[upcasts(T)]`.
pub struct Handler {
    /// The type named in the marker.
    pub message: Type,
    pub call: Call,
}

pub struct Applier {
    /// The type named in `#[applies(E)]`.
    pub event: Type,
    pub method: Ident,
    pub param: MessageParam,
    /// Where its return type is, when it declares one (`Result<(), _>`).
    pub output: Option<proc_macro2::Span>,
}

pub struct Compensator {
    pub domain: LitStr,
    pub command: Type,
    pub call: Call,
}

/// What a kind expects of one role's methods.
struct Shape {
    /// What the method is called in messages.
    role: &'static str,
    /// What its first parameter is.
    first: &'static str,
    /// Whether it may take `&State`.
    state: bool,
    /// The context type it may take, by name.
    context: Option<&'static str>,
    /// Whether it may be `async`.
    asynchronous: bool,
}

const CONTEXTS: &[&str] = &[
    "CommandContext",
    "SagaContext",
    "PmContext",
    "ProjectionContext",
];

impl Kind {
    fn context(self) -> Option<&'static str> {
        match self {
            Kind::Aggregate => Some("CommandContext"),
            Kind::Saga => Some("SagaContext"),
            Kind::ProcessManager => Some("PmContext"),
            Kind::Projector => Some("ProjectionContext"),
            Kind::Upcaster => None,
        }
    }

    /// The shape of `role`'s methods in this kind, or why the role has no
    /// place in it.
    fn shape(self, role: Role) -> Result<Shape, String> {
        let handler = |role, first, state| Shape {
            role,
            first,
            state,
            context: self.context(),
            asynchronous: true,
        };
        match (self, role) {
            (Kind::Aggregate, Role::Handles) => Ok(handler("handler", "the command", true)),
            (Kind::Saga, Role::Handles) => Ok(handler("saga handler", "the event", false)),
            (Kind::ProcessManager, Role::Handles) => {
                Ok(handler("process-manager handler", "the event", true))
            }
            (Kind::Projector, Role::Handles) => Ok(handler("projector handler", "the event", false)),
            (Kind::Aggregate, Role::Rejected) => Ok(handler(
                "compensation handler",
                "the `RejectionNotification`",
                true,
            )),
            (Kind::ProcessManager, Role::Rejected) => Ok(handler(
                "rejection handler",
                "the `RejectionNotification`",
                true,
            )),
            (Kind::ProcessManager, Role::Prepares) => Ok(Shape {
                role: "`#[prepares]` method",
                first: "the event",
                state: true,
                context: None,
                asynchronous: false,
            }),
            (Kind::Upcaster, Role::Upcasts) => Ok(Shape {
                role: "upcasting rule",
                first: "the old event",
                state: false,
                context: None,
                asynchronous: false,
            }),
            (Kind::Aggregate | Kind::ProcessManager, Role::Applies) => {
                unreachable!("appliers have a shape of their own")
            }
            (Kind::Saga, Role::Applies) => Err(
                "`#[applies]` has no place in a saga: a saga keeps no state and reacts to each event on its own"
                    .into(),
            ),
            (Kind::Saga, Role::Rejected) => Err(
                "`#[rejected]` has no place in a saga: a saga's rejected commands go back to the source \
                 aggregate, whose `#[rejected]` handlers compensate"
                    .into(),
            ),
            (Kind::Projector, Role::Applies) => Err(
                "`#[applies]` has no place in a projector: its state is the read model it writes".into(),
            ),
            (Kind::Projector, Role::Rejected) => Err(
                "`#[rejected]` has no place in a projector: a projector sends no commands".into(),
            ),
            (Kind::Aggregate | Kind::Saga | Kind::Projector, Role::Prepares) => Err(format!(
                "`#[prepares]` has no place in {}: only process managers prepare destinations",
                self.noun()
            )),
            (Kind::Aggregate, Role::Upcasts) => Err(
                "`#[upcasts]` belongs in an `#[upcaster]`; name it with `#[aggregate(upcaster = ...)]`"
                    .into(),
            ),
            (Kind::Saga | Kind::ProcessManager | Kind::Projector, Role::Upcasts) => Err(format!(
                "`#[upcasts]` has no place in {}: upcasting rules belong in an `#[upcaster]`",
                self.noun()
            )),
            (Kind::Upcaster, _) => Err(format!(
                "`#[{}]` has no place in an upcaster: its methods are `#[upcasts(OldEvent)]` rules",
                role.name()
            )),
        }
    }
}

impl Component {
    /// Builds the model, stripping marker attributes from `item`. Problems are
    /// pushed to `errors`; the model holds whatever parsed.
    pub fn from_impl(kind: Kind, mut item: ItemImpl, args: Args, errors: &mut Errors) -> Self {
        let name = match &*item.self_ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .map_or_else(String::new, |segment| segment.ident.to_string()),
            other => quote::ToTokens::to_token_stream(other).to_string(),
        };
        let mut component = Component {
            kind,
            item: item.clone(),
            name,
            args,
            handlers: Vec::new(),
            appliers: Vec::new(),
            compensators: Vec::new(),
            preparers: Vec::new(),
            rules: Vec::new(),
        };

        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let markers: Vec<_> = method
                .attrs
                .iter()
                .filter_map(|attr| Role::of(attr).map(|role| (role, attr.clone())))
                .collect();
            method.attrs.retain(|attr| Role::of(attr).is_none());
            if markers.len() > 1 {
                for (role, attr) in &markers[1..] {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!(
                            "`#[{}]` on a method that already has `#[{}]`; a method plays one role",
                            role.name(),
                            markers[0].0.name()
                        ),
                    ));
                }
            }
            let Some((role, attr)) = markers.into_iter().next() else {
                continue;
            };
            component.add(role, &attr, method, errors);
            name_context_lifetimes(method);
        }
        component.item = item;
        component
    }

    fn add(&mut self, role: Role, attr: &syn::Attribute, method: &ImplItemFn, errors: &mut Errors) {
        if role == Role::Applies {
            if !matches!(self.kind, Kind::Aggregate | Kind::ProcessManager) {
                let reason = self
                    .kind
                    .shape(role)
                    .err()
                    .unwrap_or_else(|| "`#[applies]` has no place here".to_owned());
                errors.push(syn::Error::new_spanned(attr, reason));
                return;
            }
            let event = attr::message_type(attr, role);
            let parsed = parse_applier(method, errors);
            match (event, parsed) {
                (Ok(event), Some(param)) => self.appliers.push(Applier {
                    event,
                    method: method.sig.ident.clone(),
                    param,
                    output: match &method.sig.output {
                        ReturnType::Type(_, ty) => Some(ty.span()),
                        ReturnType::Default => None,
                    },
                }),
                (Err(error), _) => errors.push(error),
                _ => {}
            }
            return;
        }
        let shape = match self.kind.shape(role) {
            Ok(shape) => shape,
            Err(reason) => {
                errors.push(syn::Error::new_spanned(attr, reason));
                return;
            }
        };
        if role == Role::Rejected {
            let args = attr::rejected_args(attr);
            let call = parse_call(method, &shape, errors);
            match (args, call) {
                (Ok(args), Some(call)) => self.compensators.push(Compensator {
                    domain: args.domain,
                    command: args.command,
                    call,
                }),
                (Err(error), _) => errors.push(error),
                _ => {}
            }
            return;
        }
        let message = attr::message_type(attr, role);
        let call = parse_call(method, &shape, errors);
        let handler = match (message, call) {
            (Ok(message), Some(call)) => Handler { message, call },
            (Err(error), _) => {
                errors.push(error);
                return;
            }
            _ => return,
        };
        match role {
            Role::Handles => self.handlers.push(handler),
            Role::Prepares => self.preparers.push(handler),
            Role::Upcasts => self.rules.push(handler),
            Role::Applies | Role::Rejected => {}
        }
    }
}

/// Understands a marked method called with a message:
/// `[async] fn name([&self,] message: T, [state: &State,] [ctx: &Context]) -> Output`.
fn parse_call(method: &ImplItemFn, shape: &Shape, errors: &mut Errors) -> Option<Call> {
    let sig = &method.sig;
    let role = shape.role;
    let a = article(role);
    let first = shape.first;
    let before = errors.len();
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("{a} {role} cannot be generic: the message type decides which method runs"),
        ));
    }
    if let (Some(asyncness), false) = (sig.asyncness, shape.asynchronous) {
        errors.push(syn::Error::new(
            asyncness.span(),
            format!("{a} {role} cannot be `async`: it runs while history is read"),
        ));
    }
    let mut receiver = false;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(recv) => {
                if recv.reference.is_none() || recv.mutability.is_some() {
                    errors.push(syn::Error::new_spanned(
                        recv,
                        format!(
                            "{a} {role} takes `&self`: one value serves concurrent calls, \
                             and state lives in the state type"
                        ),
                    ));
                }
                receiver = true;
            }
            FnArg::Typed(typed) => params.push(typed),
        }
    }
    let Some((message, rest)) = params.split_first() else {
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "`{}` has no parameter for {first}; it must be the first parameter",
                sig.ident
            ),
        ));
        return None;
    };
    let message = message_param(&message.ty);
    let mut extras = Vec::new();
    let (mut seen_state, mut seen_context) = (None::<Span>, None::<Span>);
    let allowed = match (shape.state, shape.context) {
        (true, Some(context)) => format!("`&State` and `&{context}`, each at most once"),
        (true, None) => "`&State`, at most once".to_owned(),
        (false, Some(context)) => format!("`&{context}`, at most once"),
        (false, None) => "nothing".to_owned(),
    };
    for param in rest {
        match classify_extra(&param.ty) {
            Some(Extra::Context(span)) => {
                let named = context_name(&param.ty).unwrap_or_default();
                match shape.context {
                    Some(expected) if expected == named => {
                        if seen_context.replace(span).is_some() {
                            errors.push(syn::Error::new_spanned(
                                &param.ty,
                                format!("the `&{expected}` parameter appears twice"),
                            ));
                        }
                        extras.push(Extra::Context(span));
                    }
                    Some(expected) => errors.push(syn::Error::new_spanned(
                        &param.ty,
                        format!("{a} {role}'s context is `&{expected}`, not `&{named}`"),
                    )),
                    None => errors.push(syn::Error::new_spanned(
                        &param.ty,
                        format!("{a} {role} takes no context; after {first} it takes {allowed}"),
                    )),
                }
            }
            Some(Extra::State(ty)) if shape.state => {
                if seen_state.replace(ty.span()).is_some() {
                    errors.push(syn::Error::new_spanned(
                        &param.ty,
                        "the state parameter appears twice",
                    ));
                }
                extras.push(Extra::State(ty));
            }
            Some(Extra::State(_)) => errors.push(syn::Error::new_spanned(
                &param.ty,
                format!("{a} {role} takes no state: there is none here; after {first} it takes {allowed}"),
            )),
            None => errors.push(syn::Error::new_spanned(
                &param.ty,
                format!("{a} {role}'s parameters after {first} are {allowed}"),
            )),
        }
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default if role == "projector handler" => syn::parse_quote!(()),
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.ident.span(),
                format!(
                    "`{}` returns nothing; {a} {role} returns {}",
                    sig.ident,
                    returns(role)
                ),
            ));
            return None;
        }
    };
    (errors.len() == before).then(|| Call {
        method: sig.ident.clone(),
        receiver,
        is_async: sig.asyncness.is_some(),
        message,
        extras,
        output,
    })
}

/// `a` or `an`, for a role's name.
fn article(role: &str) -> &'static str {
    match role.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// What a role's methods return, for the error when one returns nothing.
fn returns(role: &str) -> &'static str {
    match role {
        "handler" | "compensation handler" => {
            "its events: one event, several (a tuple or `Vec`), or a `Result` of these with a `Rejection`"
        }
        "process-manager handler" | "rejection handler" => {
            "what it decided: its own events, `Command`s and `Fact`s (one, a tuple, `Vec` or `Option`, or a `PmOutput`), `()`, or a `Result` of these"
        }
        "saga handler" => "the commands and facts it sends: a `Command`, a `Fact`, a tuple, `Vec` or `Option` of them, `()`, or a `Result` of these",
        "`#[prepares]` method" => "the destinations: a `Cover`, or a `Vec` or `Option` of covers",
        "upcasting rule" => "the upgraded event",
        _ => "its output",
    }
}

/// Understands `fn name(state: &mut State, event: &E)` (or `event: E`),
/// returning nothing or a `Result<(), _>` (checked where it is called).
fn parse_applier(method: &ImplItemFn, errors: &mut Errors) -> Option<MessageParam> {
    let sig = &method.sig;
    let usage = "an `#[applies]` method is `fn name(state: &mut State, event: &Event)`";
    let mut ok = true;
    if let Some(receiver) = sig.receiver() {
        errors.push(syn::Error::new_spanned(
            receiver,
            format!(
                "{usage}, without `self`: applying an event depends on nothing but state and event"
            ),
        ));
        ok = false;
    }
    if let Some(asyncness) = sig.asyncness {
        errors.push(syn::Error::new(
            asyncness.span(),
            format!("{usage}; it cannot be `async`: state rebuild is synchronous"),
        ));
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("{usage}; it cannot be generic"),
        ));
        ok = false;
    }
    let typed: Vec<_> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .collect();
    match typed.as_slice() {
        [state, event] => {
            let state_is_mut_ref =
                matches!(&*state.ty, Type::Reference(r) if r.mutability.is_some());
            if !state_is_mut_ref {
                errors.push(syn::Error::new_spanned(
                    &state.ty,
                    format!("{usage}; the first parameter is the state, by `&mut`"),
                ));
                ok = false;
            }
            ok.then(|| message_param(&event.ty))
        }
        _ => {
            if sig.receiver().is_none() {
                errors.push(syn::Error::new(
                    sig.paren_token.span.join(),
                    format!("{usage}: exactly two parameters"),
                ));
            }
            None
        }
    }
}

fn message_param(ty: &Type) -> MessageParam {
    match ty {
        Type::Reference(reference) if reference.mutability.is_none() => MessageParam {
            ty: (*reference.elem).clone(),
            by_ref: true,
        },
        other => MessageParam {
            ty: other.clone(),
            by_ref: false,
        },
    }
}

/// Writes `&SagaContext` as `&SagaContext<'_>` (and so for every context):
/// the contexts borrow from the request, and `async fn` does not accept a
/// hidden lifetime in a path, so handlers need not spell it.
pub fn name_context_lifetimes(method: &mut ImplItemFn) {
    for input in &mut method.sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        let Type::Reference(reference) = &mut *typed.ty else {
            continue;
        };
        let Type::Path(path) = &mut *reference.elem else {
            continue;
        };
        if path.qself.is_some() {
            continue;
        }
        if let Some(last) = path.path.segments.last_mut() {
            if CONTEXTS.contains(&last.ident.to_string().as_str()) && last.arguments.is_empty() {
                last.arguments = syn::PathArguments::AngleBracketed(syn::parse_quote!(<'_>));
            }
        }
    }
}

/// The context type a reference names (`&SagaContext` -> `SagaContext`), if
/// it is one of the SDK's contexts.
fn context_name(ty: &Type) -> Option<String> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    match &*reference.elem {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
            .filter(|name| CONTEXTS.contains(&name.as_str())),
        _ => None,
    }
}

/// A context (any path ending in one of the SDK's context names) or, for any
/// other shared reference, the state, whose type the compiler then checks.
fn classify_extra(ty: &Type) -> Option<Extra> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    Some(if context_name(ty).is_some() {
        Extra::Context(ty.span())
    } else {
        Extra::State(reference.elem.clone())
    })
}

/// The event type a rule returns, when the signature shows it: `New`, or the
/// first argument of `Result<New, _>`. `Event` and other wrappers are not
/// message types, so they are skipped.
pub fn visible_output(output: &Type) -> Option<&Type> {
    let Type::Path(path) = output else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident == "Result" {
        let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        return match arguments.args.first()? {
            syn::GenericArgument::Type(inner) => visible_output(inner),
            _ => None,
        };
    }
    if last.ident == "Event" || !last.arguments.is_empty() {
        return None;
    }
    Some(output)
}
