//! The model of an `#[aggregate]` impl block: its arguments, and its
//! handlers, appliers and compensators with their signatures understood.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, ReturnType, Type};

use crate::attr::{self, AggregateArgs, MarkerKind};
use crate::Errors;

pub struct Aggregate {
    /// The impl block as written, minus the marker attributes.
    pub item: ItemImpl,
    pub name: String,
    pub args: AggregateArgs,
    pub handlers: Vec<Handler>,
    pub appliers: Vec<Applier>,
    pub compensators: Vec<Compensator>,
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

/// The shape shared by `#[handles]` and `#[rejected]` methods.
pub struct Call {
    pub method: Ident,
    pub receiver: bool,
    pub is_async: bool,
    pub message: MessageParam,
    pub extras: Vec<Extra>,
    pub output: Type,
}

pub struct Handler {
    /// The type named in `#[handles(T)]`.
    pub command: Type,
    pub call: Call,
}

pub struct Applier {
    /// The type named in `#[applies(E)]`.
    pub event: Type,
    pub method: Ident,
    pub param: MessageParam,
}

pub struct Compensator {
    pub domain: LitStr,
    pub command: Type,
    pub call: Call,
}

impl Aggregate {
    /// Builds the model, stripping marker attributes from `item`. Problems are
    /// pushed to `errors`; the model holds whatever parsed.
    pub fn from_impl(mut item: ItemImpl, args: AggregateArgs, errors: &mut Errors) -> Self {
        let name = match &*item.self_ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .map_or_else(String::new, |segment| segment.ident.to_string()),
            other => quote::ToTokens::to_token_stream(other).to_string(),
        };
        let mut handlers = Vec::new();
        let mut appliers = Vec::new();
        let mut compensators = Vec::new();

        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let markers: Vec<_> = method
                .attrs
                .iter()
                .filter_map(|attr| MarkerKind::of(attr).map(|kind| (kind, attr.clone())))
                .collect();
            method.attrs.retain(|attr| MarkerKind::of(attr).is_none());
            if markers.len() > 1 {
                for (kind, attr) in &markers[1..] {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!(
                            "`#[{}]` on a method that already has `#[{}]`; a method plays one role",
                            kind.name(),
                            markers[0].0.name()
                        ),
                    ));
                }
            }
            let Some((kind, attr)) = markers.into_iter().next() else {
                continue;
            };
            match kind {
                MarkerKind::Handles => {
                    let command = attr::message_type(&attr, kind);
                    let call = parse_call(method, "handler", "the command", errors);
                    match (command, call) {
                        (Ok(command), Some(call)) => handlers.push(Handler { command, call }),
                        (Err(error), _) => errors.push(error),
                        _ => {}
                    }
                }
                MarkerKind::Applies => {
                    let event = attr::message_type(&attr, kind);
                    let parsed = parse_applier(method, errors);
                    match (event, parsed) {
                        (Ok(event), Some(param)) => appliers.push(Applier {
                            event,
                            method: method.sig.ident.clone(),
                            param,
                        }),
                        (Err(error), _) => errors.push(error),
                        _ => {}
                    }
                }
                MarkerKind::Rejected => {
                    let args = attr::rejected_args(&attr);
                    let call = parse_call(
                        method,
                        "compensation handler",
                        "the `RejectionNotification`",
                        errors,
                    );
                    match (args, call) {
                        (Ok(args), Some(call)) => compensators.push(Compensator {
                            domain: args.domain,
                            command: args.command,
                            call,
                        }),
                        (Err(error), _) => errors.push(error),
                        _ => {}
                    }
                }
            }
        }

        Aggregate {
            item,
            name,
            args,
            handlers,
            appliers,
            compensators,
        }
    }
}

/// Understands a `#[handles]` or `#[rejected]` signature:
/// `[async] fn name([&self,] message: T, [state: &State,] [ctx: &CommandContext]) -> Output`.
fn parse_call(method: &ImplItemFn, role: &str, first: &str, errors: &mut Errors) -> Option<Call> {
    let sig = &method.sig;
    let before = errors.len();
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("a {role} cannot be generic: the message type decides which method runs"),
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
                            "a {role} takes `&self`: one aggregate value serves concurrent commands, \
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
    for param in rest {
        match classify_extra(&param.ty) {
            Some(Extra::Context(span)) => {
                if seen_context.replace(span).is_some() {
                    errors.push(syn::Error::new_spanned(
                        &param.ty,
                        "the `&CommandContext` parameter appears twice",
                    ));
                }
                extras.push(Extra::Context(span));
            }
            Some(Extra::State(ty)) => {
                if seen_state.replace(ty.span()).is_some() {
                    errors.push(syn::Error::new_spanned(
                        &param.ty,
                        "the state parameter appears twice",
                    ));
                }
                extras.push(Extra::State(ty));
            }
            None => errors.push(syn::Error::new_spanned(
                &param.ty,
                format!(
                    "a {role}'s parameters after {first} are `&State` and `&CommandContext`, each at most once"
                ),
            )),
        }
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.ident.span(),
                format!(
                    "`{}` returns nothing; a {role} returns its events: one event, several \
                     (a tuple or `Vec`), or a `Result` of these with a `Rejection`",
                    sig.ident
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

/// Understands `fn name(state: &mut State, event: &E)` (or `event: E`).
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
    if let ReturnType::Type(_, ty) = &sig.output {
        errors.push(syn::Error::new_spanned(
            ty,
            format!("{usage}; it returns nothing, it mutates the state"),
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

/// `&CommandContext` (any path ending so) is the context; any other shared
/// reference is the state, whose type the compiler then checks.
fn classify_extra(ty: &Type) -> Option<Extra> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    if reference.mutability.is_some() {
        return None;
    }
    let is_context = matches!(
        &*reference.elem,
        Type::Path(path) if path.qself.is_none()
            && path.path.segments.last().is_some_and(|segment| segment.ident == "CommandContext")
    );
    Some(if is_context {
        Extra::Context(ty.span())
    } else {
        Extra::State(reference.elem.clone())
    })
}
