//! Code generation: small glue calling `angzarr_client::__private`. The
//! pieces every kind shares (message tables, handler calls, state, topology)
//! are built once; each kind only assembles its trait impl from them.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, Path, Type};

use crate::ast::{Call, Component, Extra, Handler};
use crate::attr::{DomainList, Kind, Schedule};

/// What every piece of generated code needs to know.
struct Ctx<'a> {
    model: &'a Component,
    private: TokenStream,
    self_ty: &'a Type,
    name: &'a str,
}

pub fn component(model: &Component) -> TokenStream {
    let krate: Path = model
        .args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::angzarr_client));
    let ctx = Ctx {
        model,
        private: quote!(#krate::__private),
        self_ty: &model.item.self_ty,
        name: &model.name,
    };
    let item = &model.item;
    let body = match model.kind {
        Kind::Aggregate => aggregate(&ctx),
        Kind::Saga => saga(&ctx),
        Kind::ProcessManager => process_manager(&ctx),
        Kind::Projector => projector(&ctx),
        Kind::Upcaster => upcaster(&ctx),
    };
    let topology = topology(&ctx);
    quote! {
        #item

        const _: () = {
            #body
        };

        #topology
    }
}

// ---- shared pieces ----

fn name_of(ctx: &Ctx<'_>, ty: &Type) -> TokenStream {
    let private = &ctx.private;
    quote_spanned!(ty.span()=> #private::name_of::<#ty>())
}

/// `const NAME: &[MessageName] = &[...];` with a compile-time check that no
/// type appears twice (e.g. through two paths).
fn table<'t>(
    ctx: &Ctx<'_>,
    const_name: &str,
    types: impl Iterator<Item = &'t Type>,
    duplicate: &str,
) -> TokenStream {
    let private = &ctx.private;
    let ident = syn::Ident::new(const_name, proc_macro2::Span::call_site());
    let names: Vec<_> = types.map(|ty| name_of(ctx, ty)).collect();
    quote! {
        const #ident: &[#private::MessageName] = &[#(#names),*];
        const _: () = #private::assert_distinct(#ident, #duplicate);
    }
}

fn literal(value: &str) -> LitStr {
    LitStr::new(value, proc_macro2::Span::call_site())
}

fn domain_value(value: &Option<LitStr>) -> String {
    value.as_ref().map(LitStr::value).unwrap_or_default()
}

fn list_values(list: &Option<DomainList>) -> Vec<String> {
    list.as_ref()
        .map(|list| list.items.iter().map(LitStr::value).collect())
        .unwrap_or_default()
}

/// `&[Cow::Borrowed("a"), ...]` for a trait method returning domains.
fn cow_domains(ctx: &Ctx<'_>, domains: &[String]) -> TokenStream {
    let private = &ctx.private;
    quote!(&[#(#private::Cow::Borrowed(#domains)),*])
}

/// How what a handler returns is converted: `function(returned)`, with
/// `extra` arguments after it (`, effects` or `, out` where handlers add to
/// a sink).
struct Convert {
    function: TokenStream,
    extra: TokenStream,
}

impl Convert {
    fn into(function: TokenStream) -> Self {
        Convert {
            function,
            extra: quote!(),
        }
    }

    fn adding_to_effects(function: TokenStream) -> Self {
        Self::adding_to(function, quote!(effects))
    }

    fn adding_to(function: TokenStream, sink: TokenStream) -> Self {
        Convert {
            function,
            extra: quote!(, #sink),
        }
    }
}

/// The call of a handler with its arguments in the order written (the
/// message decoded by value or by reference, the state, the context), and
/// the conversion of what it returns through `convert`.
fn invoke(call: &Call, convert: &Convert) -> TokenStream {
    let method = &call.method;
    let message_ty = &call.message.ty;
    let message = if call.message.by_ref {
        quote_spanned!(message_ty.span()=> &message)
    } else {
        quote_spanned!(message_ty.span()=> message)
    };
    let extras = call.extras.iter().map(|extra| match extra {
        Extra::State(ty) => quote_spanned!(ty.span()=> state),
        Extra::Context(span) => quote_spanned!(*span=> &context),
    });
    let target = if call.receiver {
        quote!(self.#method)
    } else {
        quote!(Self::#method)
    };
    let awaited = if call.is_async {
        quote!(.await)
    } else {
        quote!()
    };
    let output = &call.output;
    let Convert { function, extra } = convert;
    let converted = quote_spanned!(output.span()=> #function(returned #extra));
    quote! {
        let returned = #target(#message #(, #extras)*)#awaited;
        #converted
    }
}

/// The future a dispatch method returns: an `async` block when a handler is
/// `async`, else the answer computed at once and wrapped in `ready` (no
/// state machine to build and poll for synchronous handlers).
fn future_of<'c>(calls: impl IntoIterator<Item = &'c Call>, body: TokenStream) -> TokenStream {
    if calls.into_iter().any(|call| call.is_async) {
        quote!(async move { #body })
    } else {
        quote!(::core::future::ready((move || { #body })()))
    }
}

/// [`arms`] as the future a dispatch method returns.
fn dispatch(
    ctx: &Ctx<'_>,
    handlers: &[Handler],
    decode: &str,
    input: &TokenStream,
    convert: &Convert,
) -> TokenStream {
    future_of(
        handlers.iter().map(|handler| &handler.call),
        arms(ctx, handlers, decode, input, convert),
    )
}

/// `match route { i => { decode; call } ... }` over handlers of one role.
fn arms(
    ctx: &Ctx<'_>,
    handlers: &[Handler],
    decode: &str,
    input: &TokenStream,
    convert: &Convert,
) -> TokenStream {
    let private = &ctx.private;
    let name = ctx.name;
    let decode = syn::Ident::new(decode, proc_macro2::Span::call_site());
    let arms = handlers.iter().enumerate().map(|(route, handler)| {
        let ty = &handler.message;
        let decoded = quote_spanned!(ty.span()=> #private::#decode::<#ty>(#input)?);
        let call = invoke(&handler.call, convert);
        quote! {
            #route => {
                let message = #decoded;
                #call
            }
        }
    });
    quote! {
        match route {
            #(#arms)*
            _ => ::core::result::Result::Err(#private::unknown_route(#name, route)),
        }
    }
}

/// `new_state`, `events`, `apply` and (with `snapshot`) `snapshot` and
/// `restore`, for kinds with state: aggregates and process managers.
fn state_items(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let Some(state) = model.args.state.as_ref() else {
        return quote!();
    };
    let new_state = match &model.args.state_factory {
        Some(factory) => quote_spanned!(factory.span()=> #factory()),
        None => quote_spanned!(state.span()=> #private::default_state::<#state>()),
    };
    let apply_arms = model.appliers.iter().enumerate().map(|(index, applier)| {
        let event_ty = &applier.event;
        let decode =
            quote_spanned!(event_ty.span()=> #private::decode_event_bytes::<#event_ty>(value)?);
        let helper = applier_fn(index);
        let arg = if applier.param.by_ref {
            quote!(&decoded)
        } else {
            quote!(decoded)
        };
        quote! {
            ::core::option::Option::Some(#index) => {
                let decoded = #decode;
                #helper(state, #arg)?;
                ::core::result::Result::Ok(true)
            }
        }
    });
    let snapshot = model.args.snapshot.as_ref().map(|arg| {
        let span = arg.span;
        quote_spanned! {span=>
            fn snapshot(&self, state: &Self::State) -> ::core::option::Option<#private::Any> {
                ::core::option::Option::Some(#private::pack_state::<#state>(state))
            }

            fn restore(
                &self,
                snapshot: &#private::Any,
            ) -> ::core::option::Option<::core::result::Result<Self::State, #private::ComponentError>> {
                ::core::option::Option::Some(#private::restore_state::<#state>(snapshot))
            }
        }
    });
    quote! {
        type State = #state;

        fn new_state(&self) -> Self::State {
            #new_state
        }

        fn events(&self) -> &[#private::MessageName] {
            EVENTS
        }

        fn apply(
            &self,
            state: &mut Self::State,
            event: &#private::Any,
        ) -> ::core::result::Result<bool, #private::ComponentError> {
            self.apply_encoded(state, &event.type_url, &event.value)
        }

        fn apply_encoded(
            &self,
            state: &mut Self::State,
            type_url: &str,
            value: &[u8],
        ) -> ::core::result::Result<bool, #private::ComponentError> {
            match #private::MessageName::find(EVENTS, type_url) {
                #(#apply_arms)*
                _ => ::core::result::Result::Ok(false),
            }
        }

        #snapshot
    }
}

/// An aggregate's `snapshot_due` for `snapshot = N` or `snapshot = predicate`;
/// a bare `snapshot` keeps the library's default policy.
fn snapshot_due(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let Some(arg) = ctx.model.args.snapshot.as_ref() else {
        return quote!();
    };
    let decide = match &arg.schedule {
        Schedule::Default => return quote!(),
        Schedule::Every(events) => quote_spanned! {events.span()=>
            #private::snapshot_every(#events, first, last)
        },
        // Spanned on the path: a predicate of the wrong shape is reported there.
        Schedule::When(predicate) => quote_spanned! {predicate.span()=>
            #private::snapshot_when::<Self::State>(#predicate, state, last)
        },
    };
    quote! {
        #[allow(unused_variables)]
        fn snapshot_due(&self, state: &Self::State, first: u32, last: u32) -> bool {
            #decide
        }
    }
}

/// The name of the function applying the `index`th `#[applies]` event.
fn applier_fn(index: usize) -> syn::Ident {
    quote::format_ident!("apply_{}", index)
}

/// One function per `#[applies]` method, taking the event as the method
/// does (by reference or by value) and returning `Result<(), _>`: the one
/// place each applier is called, from the packed and the typed path alike.
fn applier_fns(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let self_ty = ctx.self_ty;
    let Some(state) = ctx.model.args.state.as_ref() else {
        return quote!();
    };
    let fns = ctx
        .model
        .appliers
        .iter()
        .enumerate()
        .map(|(index, applier)| {
            let name = applier_fn(index);
            let event_ty = &applier.event;
            let method = &applier.method;
            let ty = &applier.param.ty;
            let (param, arg) = if applier.param.by_ref {
                (quote!(&#event_ty), quote_spanned!(ty.span()=> event))
            } else {
                (quote!(#event_ty), quote_spanned!(ty.span()=> event))
            };
            let output_span = applier.output.unwrap_or_else(|| method.span());
            let call = quote_spanned! {output_span=>
                #private::Applied::applied(<#self_ty>::#method(state, #arg))
            };
            quote! {
                #[allow(clippy::needless_pass_by_value)]
                fn #name(
                    state: &mut #state,
                    event: #param,
                ) -> ::core::result::Result<(), #private::ComponentError> {
                    #call
                }
            }
        });
    quote!(#(#fns)*)
}

/// `REJECTIONS`, and the `compensate` method calling `#[rejected]` handlers
/// with `Context`, converting through `convert` into `Output`.
fn rejection_items(
    ctx: &Ctx<'_>,
    context: TokenStream,
    output: TokenStream,
    convert: &Convert,
) -> (TokenStream, TokenStream) {
    let private = &ctx.private;
    let name = ctx.name;
    let model = ctx.model;
    let names: Vec<_> = model
        .compensators
        .iter()
        .map(|c| name_of(ctx, &c.command))
        .collect();
    let domains: Vec<_> = model
        .compensators
        .iter()
        .map(|c| c.domain.value())
        .collect();
    let table = quote! {
        const REJECTIONS: &[#private::RejectionRoute] = &[
            #(#private::RejectionRoute { domain: #domains, command: #names }),*
        ];
    };
    let arms = model
        .compensators
        .iter()
        .enumerate()
        .map(|(route, compensator)| {
            let call = invoke(&compensator.call, convert);
            quote! {
                #route => {
                    let message = notification;
                    #call
                }
            }
        });
    let sink = if convert.extra.is_empty() {
        quote!()
    } else {
        quote!(effects: &'a mut #private::Effects,)
    };
    let future = future_of(
        model.compensators.iter().map(|c| &c.call),
        quote! {
            match route {
                #(#arms)*
                _ => ::core::result::Result::Err(#private::unknown_route(#name, route)),
            }
        },
    );
    let methods = quote! {
        fn rejections(&self) -> &[#private::RejectionRoute] {
            REJECTIONS
        }

        #[allow(unused_variables)]
        fn compensate<'a>(
            &'a self,
            route: usize,
            notification: &'a #private::RejectionNotification,
            state: &'a Self::State,
            context: #context,
            #sink
        ) -> impl ::core::future::Future<
            Output = ::core::result::Result<#output, #private::ComponentError>,
        > + ::core::marker::Send + 'a {
            #future
        }
    };
    (table, methods)
}

// ---- the kinds ----

fn aggregate(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let self_ty = ctx.self_ty;
    let name = ctx.name;
    let domain = domain_value(&model.args.domain);
    let commands = table(
        ctx,
        "COMMANDS",
        model.handlers.iter().map(|h| &h.message),
        "a command type has two #[handles] methods",
    );
    let events = table(
        ctx,
        "EVENTS",
        model.appliers.iter().map(|a| &a.event),
        "an event type has two #[applies] methods",
    );
    let arms = arms(
        ctx,
        &model.handlers,
        "decode_command",
        &quote!(command),
        &Convert::adding_to(quote!(#private::collected), quote!(collect, self)),
    );
    let handle = future_of(
        model.handlers.iter().map(|handler| &handler.call),
        quote! {
            let state = #private::Collect::<Self>::state(&collect);
            #arms
        },
    );
    let typed_arms = model.appliers.iter().enumerate().map(|(index, applier)| {
        let event_ty = &applier.event;
        let helper = applier_fn(index);
        let arg = if applier.param.by_ref {
            quote!(event)
        } else {
            quote!(::core::clone::Clone::clone(event))
        };
        quote! {
            if let ::core::option::Option::Some(event) = event.downcast_ref::<#event_ty>() {
                return ::core::option::Option::Some(#helper(state, #arg));
            }
        }
    });
    let (rejections, compensate) = rejection_items(
        ctx,
        quote!(#private::CommandContext<'a>),
        quote!(::std::vec::Vec<#private::Any>),
        &Convert::into(quote!(#private::into_output)),
    );
    let state = state_items(ctx);
    let appliers = applier_fns(ctx);
    let describe_arms = model.appliers.iter().enumerate().map(|(index, applier)| {
        let ty = &applier.event;
        quote! {
            ::core::option::Option::Some(#index) => ::core::option::Option::Some(#private::describe::<#ty>(event)),
        }
    });
    // No `async` handler: every dispatch future is `ready`, and the server
    // may decide in place.
    let synchronous = !model
        .handlers
        .iter()
        .map(|handler| &handler.call)
        .chain(
            model
                .compensators
                .iter()
                .map(|compensator| &compensator.call),
        )
        .any(|call| call.is_async);
    let upcast = match model.args.upcaster.as_ref() {
        Some(upcaster) => quote_spanned! {upcaster.span()=>
            fn upcast<'e>(
                &self,
                event: &'e #private::Any,
            ) -> ::core::result::Result<#private::Cow<'e, #private::Any>, #private::ComponentError> {
                #private::upcast_with(&#upcaster, event)
            }

            fn upcasts(&self, type_url: &str) -> bool {
                #private::upcasts_with(&#upcaster, type_url)
            }
        },
        None => quote! {
            fn upcasts(&self, _type_url: &str) -> bool {
                false
            }
        },
    };

    let snapshot_due = snapshot_due(ctx);

    quote! {
        #commands
        #events
        #rejections
        #appliers

        impl #self_ty {
            /// Runs the handler of `route`, its events going to `collect`.
            #[doc(hidden)]
            #[allow(unused_variables)]
            fn __angzarr_handle<'a, C>(
                &'a self,
                route: usize,
                command: &'a #private::Any,
                collect: C,
                context: #private::CommandContext<'a>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<::std::vec::Vec<#private::Any>, #private::ComponentError>,
            > + ::core::marker::Send + 'a
            where
                C: #private::Collect<Self> + 'a,
            {
                #handle
            }
        }

        impl #private::Aggregate for #self_ty {
            #state
            #snapshot_due

            fn name(&self) -> &str {
                #name
            }

            fn domain(&self) -> &str {
                #domain
            }

            fn commands(&self) -> &[#private::MessageName] {
                COMMANDS
            }

            fn synchronous(&self) -> bool {
                #synchronous
            }

            fn handle<'a>(
                &'a self,
                route: usize,
                command: &'a #private::Any,
                state: &'a Self::State,
                context: #private::CommandContext<'a>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<::std::vec::Vec<#private::Any>, #private::ComponentError>,
            > + ::core::marker::Send + 'a {
                self.__angzarr_handle(route, command, #private::Reading(state), context)
            }

            fn handle_and_apply<'a>(
                &'a self,
                route: usize,
                command: &'a #private::Any,
                state: &'a mut Self::State,
                context: #private::CommandContext<'a>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<::std::vec::Vec<#private::Any>, #private::ComponentError>,
            > + ::core::marker::Send + 'a {
                self.__angzarr_handle(route, command, #private::Applying(state), context)
            }

            #[allow(unused_variables)]
            fn apply_typed(
                &self,
                state: &mut Self::State,
                event: &dyn ::core::any::Any,
            ) -> ::core::option::Option<::core::result::Result<(), #private::ComponentError>> {
                #(#typed_arms)*
                ::core::option::Option::None
            }

            #compensate

            #upcast

            fn describe_event(&self, event: &#private::Any) -> ::core::option::Option<::std::string::String> {
                match #private::MessageName::find(EVENTS, &event.type_url) {
                    #(#describe_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

fn saga(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let self_ty = ctx.self_ty;
    let name = domain_value(&model.args.name);
    let source = domain_value(&model.args.source);
    let targets = match &model.args.target {
        Some(target) => vec![target.value()],
        None => list_values(&model.args.targets),
    };
    let targets = cow_domains(ctx, &targets);
    let events = table(
        ctx,
        "EVENTS",
        model.handlers.iter().map(|h| &h.message),
        "an event type has two #[handles] methods",
    );
    let handle = dispatch(
        ctx,
        &model.handlers,
        "decode_event",
        &quote!(event),
        &Convert::adding_to_effects(quote!(#private::saga_effects)),
    );
    quote! {
        #events

        impl #private::Saga for #self_ty {
            fn name(&self) -> &str {
                #name
            }

            fn source(&self) -> &str {
                #source
            }

            fn targets(&self) -> &[#private::Cow<'static, str>] {
                #targets
            }

            fn events(&self) -> &[#private::MessageName] {
                EVENTS
            }

            #[allow(unused_variables)]
            fn handle<'a>(
                &'a self,
                route: usize,
                event: &'a #private::Any,
                context: #private::SagaContext<'a>,
                effects: &'a mut #private::Effects,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), #private::ComponentError>,
            > + ::core::marker::Send + 'a {
                #handle
            }
        }
    }
}

fn process_manager(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let self_ty = ctx.self_ty;
    let name = domain_value(&model.args.name);
    let sources = cow_domains(ctx, &list_values(&model.args.sources));
    let targets = cow_domains(ctx, &list_values(&model.args.targets));
    let triggers = table(
        ctx,
        "TRIGGERS",
        model.handlers.iter().map(|h| &h.message),
        "an event type has two #[handles] methods",
    );
    let prepared = table(
        ctx,
        "PREPARED",
        model.preparers.iter().map(|p| &p.message),
        "an event type has two #[prepares] methods",
    );
    let events = table(
        ctx,
        "EVENTS",
        model.appliers.iter().map(|a| &a.event),
        "an event type has two #[applies] methods",
    );
    let convert = Convert::adding_to_effects(quote!(#private::pm_effects));
    let handle = dispatch(
        ctx,
        &model.handlers,
        "decode_event",
        &quote!(event),
        &convert,
    );
    let prepare = arms(
        ctx,
        &model.preparers,
        "decode_event",
        &quote!(event),
        &Convert::into(quote!(#private::destinations)),
    );
    let (rejections, compensate) =
        rejection_items(ctx, quote!(#private::PmContext<'a>), quote!(()), &convert);
    let state = state_items(ctx);
    let appliers = applier_fns(ctx);
    quote! {
        #triggers
        #prepared
        #events
        #rejections

        #appliers

        impl #private::ProcessManager for #self_ty {
            #state

            fn name(&self) -> &str {
                #name
            }

            fn sources(&self) -> &[#private::Cow<'static, str>] {
                #sources
            }

            fn targets(&self) -> &[#private::Cow<'static, str>] {
                #targets
            }

            fn triggers(&self) -> &[#private::MessageName] {
                TRIGGERS
            }

            fn prepared(&self) -> &[#private::MessageName] {
                PREPARED
            }

            #[allow(unused_variables)]
            fn prepare(
                &self,
                route: usize,
                event: &#private::Any,
                state: &Self::State,
            ) -> ::core::result::Result<::std::vec::Vec<#private::Cover>, #private::ComponentError> {
                #prepare
            }

            #[allow(unused_variables)]
            fn handle<'a>(
                &'a self,
                route: usize,
                event: &'a #private::Any,
                state: &'a Self::State,
                context: #private::PmContext<'a>,
                effects: &'a mut #private::Effects,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), #private::ComponentError>,
            > + ::core::marker::Send + 'a {
                #handle
            }

            #compensate
        }
    }
}

fn projector(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let self_ty = ctx.self_ty;
    let name = domain_value(&model.args.name);
    let domains = cow_domains(ctx, &list_values(&model.args.domains));
    let events = table(
        ctx,
        "EVENTS",
        model.handlers.iter().map(|h| &h.message),
        "an event type has two #[handles] methods",
    );
    let handle = dispatch(
        ctx,
        &model.handlers,
        "decode_event",
        &quote!(event),
        &Convert::adding_to(quote!(#private::projected), quote!(out)),
    );
    quote! {
        #events

        impl #private::Projector for #self_ty {
            fn name(&self) -> &str {
                #name
            }

            fn domains(&self) -> &[#private::Cow<'static, str>] {
                #domains
            }

            fn events(&self) -> &[#private::MessageName] {
                EVENTS
            }

            #[allow(unused_variables)]
            fn handle<'a>(
                &'a self,
                route: usize,
                event: &'a #private::Any,
                context: #private::ProjectionContext<'a>,
                out: &'a mut #private::Projected,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), #private::ComponentError>,
            > + ::core::marker::Send + 'a {
                #handle
            }
        }
    }
}

fn upcaster(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let self_ty = ctx.self_ty;
    let name = ctx.name;
    let domain = domain_value(&model.args.domain);
    let sources = table(
        ctx,
        "SOURCES",
        model.rules.iter().map(|r| &r.message),
        "an event type has two #[upcasts] rules",
    );
    let rule = arms(
        ctx,
        &model.rules,
        "decode_event",
        &quote!(event),
        &Convert::into(quote!(#private::upcast_output)),
    );
    // Chains must settle: checked at compile time for rules whose new type
    // is visible in the signature (`-> New` or `-> Result<New, _>`).
    let pairs: Vec<_> = model
        .rules
        .iter()
        .filter_map(|rule| {
            let new = crate::ast::visible_output(&rule.call.output)?;
            let old = name_of(ctx, &rule.message);
            let new = name_of(ctx, new);
            Some(quote!((#old, #new)))
        })
        .collect();
    quote! {
        #sources
        const _: () = #private::assert_upcasts_settle(&[#(#pairs),*]);

        impl #private::Upcaster for #self_ty {
            fn name(&self) -> &str {
                #name
            }

            fn domain(&self) -> &str {
                #domain
            }

            fn sources(&self) -> &[#private::MessageName] {
                SOURCES
            }

            fn upcast(
                &self,
                route: usize,
                event: &#private::Any,
            ) -> ::core::result::Result<#private::Any, #private::ComponentError> {
                #rule
            }
        }
    }
}

/// The `inventory` registration of the component's topology.
fn topology(ctx: &Ctx<'_>) -> TokenStream {
    let private = &ctx.private;
    let model = ctx.model;
    let name = match model.kind {
        Kind::Aggregate | Kind::Upcaster => literal(ctx.name),
        _ => literal(&domain_value(&model.args.name)),
    };
    let domain = match model.kind {
        Kind::Aggregate | Kind::Upcaster => domain_value(&model.args.domain),
        Kind::ProcessManager => domain_value(&model.args.name),
        Kind::Saga | Kind::Projector => String::new(),
    };
    let sources = match model.kind {
        Kind::Saga => model.args.source.iter().map(LitStr::value).collect(),
        Kind::ProcessManager => list_values(&model.args.sources),
        Kind::Projector => list_values(&model.args.domains),
        Kind::Aggregate | Kind::Upcaster => Vec::new(),
    };
    let targets = match model.kind {
        Kind::Saga => match &model.args.target {
            Some(target) => vec![target.value()],
            None => list_values(&model.args.targets),
        },
        Kind::ProcessManager => list_values(&model.args.targets),
        _ => Vec::new(),
    };
    let kind = match model.kind {
        Kind::Aggregate => quote!(Aggregate),
        Kind::Saga => quote!(Saga),
        Kind::ProcessManager => quote!(ProcessManager),
        Kind::Projector => quote!(Projector),
        Kind::Upcaster => quote!(Upcaster),
    };
    let pairs = |handlers: &[Handler]| -> Vec<TokenStream> {
        handlers
            .iter()
            .map(|handler| {
                let ty = &handler.message;
                let method = handler.call.method.to_string();
                quote!((#private::name_of::<#ty>(), #method))
            })
            .collect()
    };
    let handles = pairs(&model.handlers);
    let prepares = pairs(&model.preparers);
    let upcasts = pairs(&model.rules);
    let applies = model.appliers.iter().map(|applier| {
        let ty = &applier.event;
        let method = applier.method.to_string();
        quote!((#private::name_of::<#ty>(), #method))
    });
    let rejections = model.compensators.iter().map(|compensator| {
        let ty = &compensator.command;
        let domain = compensator.domain.value();
        let method = compensator.call.method.to_string();
        quote!((#domain, #private::name_of::<#ty>(), #method))
    });
    quote! {
        #private::inventory::submit! {
            #private::ComponentTopology {
                kind: #private::ComponentKind::#kind,
                name: #name,
                domain: #domain,
                sources: &[#(#sources),*],
                targets: &[#(#targets),*],
                handles: &[#(#handles),*],
                applies: &[#(#applies),*],
                prepares: &[#(#prepares),*],
                rejections: &[#(#rejections),*],
                upcasts: &[#(#upcasts),*],
            }
        }
    }
}
