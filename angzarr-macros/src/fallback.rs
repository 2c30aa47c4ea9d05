//! What to emit when the input is wrong: the item as written (minus our
//! marker attributes, which would otherwise report themselves as misplaced),
//! so that the rest of the crate and the IDE keep working, plus every error.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{ImplItem, Item};

use crate::attr::Role;

pub fn emit(original: TokenStream, errors: syn::Error) -> TokenStream {
    let mut tokens = match syn::parse2::<Item>(original.clone()) {
        Ok(Item::Impl(mut item)) => {
            for impl_item in &mut item.items {
                if let ImplItem::Fn(method) = impl_item {
                    method.attrs.retain(|attr| Role::of(attr).is_none());
                }
            }
            item.into_token_stream()
        }
        _ => original,
    };
    tokens.extend(errors.into_compile_error());
    tokens
}
