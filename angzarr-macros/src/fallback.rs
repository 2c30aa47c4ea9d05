//! What to emit when the input is wrong: the item as written (minus our
//! attributes, which would otherwise report themselves again), so that the
//! rest of the crate and the IDE keep working, plus every error.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{ImplItem, Item};

use crate::ast::name_context_lifetimes;
use crate::attr::{Kind, Role};

pub fn emit(original: TokenStream, errors: syn::Error) -> TokenStream {
    let mut tokens = match syn::parse2::<Item>(original.clone()) {
        Ok(Item::Impl(mut item)) => {
            // A second component attribute was reported already; expanding
            // it as well would only add confusing errors.
            item.attrs
                .retain(|attr| Kind::of_path(attr.path()).is_none());
            for impl_item in &mut item.items {
                if let ImplItem::Fn(method) = impl_item {
                    let marked = method.attrs.iter().any(|attr| Role::of(attr).is_some());
                    method.attrs.retain(|attr| Role::of(attr).is_none());
                    if marked {
                        name_context_lifetimes(method);
                    }
                }
            }
            item.into_token_stream()
        }
        _ => original,
    };
    tokens.extend(errors.into_compile_error());
    tokens
}
