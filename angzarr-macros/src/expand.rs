//! Code generation: small glue calling `angzarr_client::__private`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Path;

use crate::ast::{Aggregate, Call, Extra};

pub fn aggregate(model: &Aggregate) -> TokenStream {
    let krate: Path = model
        .args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::angzarr_client));
    let private = quote!(#krate::__private);
    let item = &model.item;
    let self_ty = &model.item.self_ty;
    let name = &model.name;
    let domain = model
        .args
        .domain
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let state = model
        .args
        .state
        .as_ref()
        .expect("validation guarantees a state type");

    let new_state = match &model.args.state_factory {
        Some(factory) => quote_spanned!(factory.span()=> #factory()),
        None => quote_spanned!(state.span()=> #private::default_state::<#state>()),
    };

    let command_types: Vec<_> = model.handlers.iter().map(|h| &h.command).collect();
    let event_types: Vec<_> = model.appliers.iter().map(|a| &a.event).collect();
    let rejected_types: Vec<_> = model.compensators.iter().map(|c| &c.command).collect();
    let rejected_domains: Vec<_> = model
        .compensators
        .iter()
        .map(|c| c.domain.value())
        .collect();
    let name_of = |ty: &syn::Type| quote_spanned!(ty.span()=> #private::name_of::<#ty>());
    let command_names: Vec<_> = command_types.iter().map(|ty| name_of(ty)).collect();
    let event_names: Vec<_> = event_types.iter().map(|ty| name_of(ty)).collect();
    let rejected_names: Vec<_> = rejected_types.iter().map(|ty| name_of(ty)).collect();

    let handle_arms = model.handlers.iter().enumerate().map(|(route, handler)| {
        let command = &handler.command;
        let decode =
            quote_spanned!(command.span()=> #private::decode_command::<#command>(command)?);
        let call = invoke(&handler.call, &private);
        quote! {
            #route => {
                let message = #decode;
                #call
            }
        }
    });
    let compensate_arms = model
        .compensators
        .iter()
        .enumerate()
        .map(|(route, compensator)| {
            let call = invoke(&compensator.call, &private);
            quote! {
                #route => {
                    let message = notification;
                    #call
                }
            }
        });
    let apply_arms = model.appliers.iter().enumerate().map(|(index, applier)| {
        let event_ty = &applier.event;
        let method = &applier.method;
        let decode = quote_spanned!(event_ty.span()=> #private::decode_event::<#event_ty>(event)?);
        let arg = if applier.param.by_ref {
            let ty = &applier.param.ty;
            quote_spanned!(ty.span()=> &decoded)
        } else {
            let ty = &applier.param.ty;
            quote_spanned!(ty.span()=> decoded)
        };
        quote! {
            ::core::option::Option::Some(#index) => {
                let decoded = #decode;
                <#self_ty>::#method(state, #arg);
                ::core::result::Result::Ok(true)
            }
        }
    });
    let describe_arms = event_types.iter().enumerate().map(|(index, ty)| {
        quote! {
            ::core::option::Option::Some(#index) => ::core::option::Option::Some(#private::describe::<#ty>(event)),
        }
    });

    let snapshot = model.args.snapshot.map(|span| {
        quote_spanned! {span=>
            fn snapshot(&self, state: &Self::State) -> ::core::option::Option<#private::Any> {
                ::core::option::Option::Some(#private::pack_state::<#state>(state))
            }

            fn restore(
                &self,
                snapshot: &#private::Any,
            ) -> ::core::option::Option<::core::result::Result<Self::State, #private::AggregateError>> {
                ::core::option::Option::Some(#private::restore_state::<#state>(snapshot))
            }
        }
    });

    let command_topology = model.handlers.iter().map(|handler| {
        let ty = &handler.command;
        let method = handler.call.method.to_string();
        quote!((#private::name_of::<#ty>(), #method))
    });
    let event_topology = model.appliers.iter().map(|applier| {
        let ty = &applier.event;
        let method = applier.method.to_string();
        quote!((#private::name_of::<#ty>(), #method))
    });
    let rejection_topology = model.compensators.iter().map(|compensator| {
        let ty = &compensator.command;
        let domain = compensator.domain.value();
        let method = compensator.call.method.to_string();
        quote!((#domain, #private::name_of::<#ty>(), #method))
    });

    quote! {
        #item

        const _: () = {
            const COMMANDS: &[#private::MessageName] = &[#(#command_names),*];
            const EVENTS: &[#private::MessageName] = &[#(#event_names),*];
            const REJECTIONS: &[#private::RejectionRoute] = &[
                #(#private::RejectionRoute { domain: #rejected_domains, command: #rejected_names }),*
            ];
            const _: () = #private::assert_distinct(COMMANDS, "a command type has two #[handles] methods");
            const _: () = #private::assert_distinct(EVENTS, "an event type has two #[applies] methods");

            impl #private::Aggregate for #self_ty {
                type State = #state;

                fn name(&self) -> &str {
                    #name
                }

                fn domain(&self) -> &str {
                    #domain
                }

                fn new_state(&self) -> Self::State {
                    #new_state
                }

                fn commands(&self) -> &[#private::MessageName] {
                    COMMANDS
                }

                fn events(&self) -> &[#private::MessageName] {
                    EVENTS
                }

                fn apply(
                    &self,
                    state: &mut Self::State,
                    event: &#private::Any,
                ) -> ::core::result::Result<bool, #private::AggregateError> {
                    match #private::MessageName::find(EVENTS, &event.type_url) {
                        #(#apply_arms)*
                        _ => ::core::result::Result::Ok(false),
                    }
                }

                #[allow(unused_variables)]
                fn handle<'a>(
                    &'a self,
                    route: usize,
                    command: &'a #private::Any,
                    state: &'a Self::State,
                    context: #private::CommandContext<'a>,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<::std::vec::Vec<#private::Any>, #private::AggregateError>,
                > + ::core::marker::Send + 'a {
                    async move {
                        match route {
                            #(#handle_arms)*
                            _ => ::core::result::Result::Err(#private::unknown_route(#name, route)),
                        }
                    }
                }

                fn rejections(&self) -> &[#private::RejectionRoute] {
                    REJECTIONS
                }

                #[allow(unused_variables)]
                fn compensate<'a>(
                    &'a self,
                    route: usize,
                    notification: &'a #private::RejectionNotification,
                    state: &'a Self::State,
                    context: #private::CommandContext<'a>,
                ) -> impl ::core::future::Future<
                    Output = ::core::result::Result<::std::vec::Vec<#private::Any>, #private::AggregateError>,
                > + ::core::marker::Send + 'a {
                    async move {
                        match route {
                            #(#compensate_arms)*
                            _ => ::core::result::Result::Err(#private::unknown_route(#name, route)),
                        }
                    }
                }

                #snapshot

                fn describe_event(&self, event: &#private::Any) -> ::core::option::Option<::std::string::String> {
                    match #private::MessageName::find(EVENTS, &event.type_url) {
                        #(#describe_arms)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
        };

        #private::inventory::submit! {
            #private::AggregateTopology {
                name: #name,
                domain: #domain,
                commands: &[#(#command_topology),*],
                events: &[#(#event_topology),*],
                rejections: &[#(#rejection_topology),*],
            }
        }
    }
}

/// The call of a handler with its arguments in the order written, and the
/// conversion of what it returns.
fn invoke(call: &Call, private: &TokenStream) -> TokenStream {
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
    let convert = quote_spanned!(output.span()=> #private::into_output(returned));
    quote! {
        let returned = #target(#message #(, #extras)*)#awaited;
        #convert
    }
}
