//! Checks that need the whole model: arguments present and well-formed,
//! no duplicate routes, at least one handler.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::{LitStr, Type};

use crate::ast::Aggregate;
use crate::Errors;

/// Angzarr's rule for domain names: `[a-z_][a-z0-9_-]*`, at most 64 characters.
pub const MAX_DOMAIN_LEN: usize = 64;

pub fn check(aggregate: &Aggregate, errors: &mut Errors) {
    let item = &aggregate.item;
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "`#[aggregate]` goes on an inherent impl block (`impl Player { ... }`), not on a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "an aggregate cannot be generic: its topology and dispatch table are fixed at compile time",
        ));
    }

    match &aggregate.args.domain {
        None => errors.push(syn::Error::new(
            Span::call_site(),
            "`#[aggregate]` needs the domain it serves: `#[aggregate(domain = \"player\", state = PlayerState)]`",
        )),
        Some(domain) => {
            if let Err(error) = check_domain(domain) {
                errors.push(error);
            }
        }
    }
    if aggregate.args.state.is_none() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "`#[aggregate]` needs the state type: `#[aggregate(domain = \"player\", state = PlayerState)]`",
        ));
    }

    for compensator in &aggregate.compensators {
        if let Err(error) = check_domain(&compensator.domain) {
            errors.push(error);
        }
    }

    duplicates(
        aggregate.handlers.iter().map(|handler| &handler.command),
        "handler",
        "handles",
        errors,
    );
    duplicates(
        aggregate.appliers.iter().map(|applier| &applier.event),
        "applier",
        "applies",
        errors,
    );
    let mut seen_rejections: HashMap<(String, String), &Type> = HashMap::new();
    for compensator in &aggregate.compensators {
        let key = (compensator.domain.value(), type_key(&compensator.command));
        if let Some(first) = seen_rejections.get(&key) {
            let mut error = syn::Error::new_spanned(
                &compensator.command,
                format!(
                    "duplicate `#[rejected]` for `{}` rejected by `{}`",
                    key.1, key.0
                ),
            );
            error.combine(syn::Error::new_spanned(first, "the first one is here"));
            errors.push(error);
        } else {
            seen_rejections.insert(key, &compensator.command);
        }
    }

    if aggregate.handlers.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            format!(
                "aggregate `{}` handles no commands: mark at least one method `#[handles(Command)]`",
                aggregate.name
            ),
        ));
    }
}

/// Applies Angzarr's domain rule, naming what breaks it.
pub fn check_domain(domain: &LitStr) -> syn::Result<()> {
    let value = domain.value();
    let fail = |message: String| Err(syn::Error::new(domain.span(), message));
    let Some(first) = value.chars().next() else {
        return fail("the domain cannot be empty".to_owned());
    };
    if value.chars().count() > MAX_DOMAIN_LEN {
        return fail(format!(
            "domain `{value}` is {} characters long; the maximum is {MAX_DOMAIN_LEN}",
            value.chars().count()
        ));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return fail(format!(
            "domain `{value}` must start with a lowercase letter or `_` (Angzarr's rule: [a-z_][a-z0-9_-]*)"
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return fail(format!(
            "domain `{value}` contains {bad:?}; allowed are a-z, 0-9, `_` and `-`"
        ));
    }
    Ok(())
}

fn duplicates<'a>(
    types: impl Iterator<Item = &'a Type>,
    role: &str,
    attribute: &str,
    errors: &mut Errors,
) {
    let mut seen: HashMap<String, &Type> = HashMap::new();
    for ty in types {
        let key = type_key(ty);
        if let Some(first) = seen.get(&key) {
            let mut error = syn::Error::new_spanned(
                ty,
                format!("duplicate `#[{attribute}({key})]`: each message type has one {role}"),
            );
            error.combine(syn::Error::new_spanned(
                first,
                format!("the first {role} for `{key}` is here"),
            ));
            errors.push(error);
        } else {
            seen.insert(key, ty);
        }
    }
}

fn type_key(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}
