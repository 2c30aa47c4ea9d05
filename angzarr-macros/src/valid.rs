//! Checks that need the whole model: the kind's arguments present and
//! well-formed, no duplicate routes, something to handle.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::{LitStr, Type};

use crate::ast::Component;
use crate::attr::{DomainList, Kind};
use crate::Errors;

/// Angzarr's rule for domain names: `[a-z_][a-z0-9_-]*`, at most 64 characters.
pub const MAX_DOMAIN_LEN: usize = 64;

pub fn check(component: &Component, errors: &mut Errors) {
    let kind = component.kind;
    let item = &component.item;
    let attribute = kind.attribute();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            format!(
                "`#[{attribute}]` goes on an inherent impl block (`impl {} {{ ... }}`), not on a trait impl",
                component.name
            ),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            format!(
                "{} cannot be generic: its topology and dispatch table are fixed at compile time",
                kind.noun()
            ),
        ));
    }
    for attr in &item.attrs {
        if let Some(other) = Kind::of_path(attr.path()) {
            errors.push(syn::Error::new_spanned(
                attr,
                format!(
                    "one impl block is one component: it is already {} (`#[{attribute}]`), so it cannot also be {} (`#[{}]`)",
                    kind.noun(),
                    other.noun(),
                    other.attribute()
                ),
            ));
        }
    }

    check_arguments(component, errors);

    for compensator in &component.compensators {
        if let Err(error) = check_domain(&compensator.domain, "domain") {
            errors.push(error);
        }
    }
    duplicates(
        component.handlers.iter().map(|handler| &handler.message),
        "handler",
        "handles",
        errors,
    );
    duplicates(
        component.appliers.iter().map(|applier| &applier.event),
        "applier",
        "applies",
        errors,
    );
    duplicates(
        component.preparers.iter().map(|preparer| &preparer.message),
        "`#[prepares]` method",
        "prepares",
        errors,
    );
    duplicates(
        component.rules.iter().map(|rule| &rule.message),
        "rule",
        "upcasts",
        errors,
    );
    let mut seen_rejections: HashMap<(String, String), &Type> = HashMap::new();
    for compensator in &component.compensators {
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
    for preparer in &component.preparers {
        let key = type_key(&preparer.message);
        if !component
            .handlers
            .iter()
            .any(|handler| type_key(&handler.message) == key)
        {
            errors.push(syn::Error::new_spanned(
                &preparer.message,
                format!(
                    "`#[prepares({key})]` without a `#[handles({key})]`: destinations are prepared for a trigger this process manager handles"
                ),
            ));
        }
    }
    for rule in &component.rules {
        if type_key(&rule.message) == type_key(&rule.call.output) {
            errors.push(syn::Error::new_spanned(
                &rule.call.output,
                format!(
                    "this rule upgrades `{}` to itself; an upcasting rule returns a newer event type",
                    type_key(&rule.message)
                ),
            ));
        }
    }

    check_rule_cycles(component, errors);

    if errors.is_empty() {
        let empty = match kind {
            Kind::Upcaster => component
                .rules
                .is_empty()
                .then_some("upcasts nothing: mark at least one method `#[upcasts(OldEvent)]`"),
            Kind::Aggregate => component
                .handlers
                .is_empty()
                .then_some("handles no commands: mark at least one method `#[handles(Command)]`"),
            _ => component
                .handlers
                .is_empty()
                .then_some("handles no events: mark at least one method `#[handles(Event)]`"),
        };
        if let Some(empty) = empty {
            errors.push(syn::Error::new_spanned(
                &item.self_ty,
                format!(
                    "{} `{}` {empty}",
                    kind.attribute().replace('_', " "),
                    component.name
                ),
            ));
        }
    }
}

/// Upcasting rules whose types are written the same way must not go round
/// in a circle (rules naming types through other paths are checked when the
/// generated code is compiled).
fn check_rule_cycles(component: &Component, errors: &mut Errors) {
    let edges: Vec<(String, String, &Type)> = component
        .rules
        .iter()
        .filter_map(|rule| {
            let new = crate::ast::visible_output(&rule.call.output)?;
            Some((type_key(&rule.message), type_key(new), &rule.call.output))
        })
        .collect();
    let mut reported: Vec<Vec<String>> = Vec::new();
    for (start, first, output) in &edges {
        let mut path = vec![start.clone()];
        let mut current = first.clone();
        while let Some((_, next, _)) = edges.iter().find(|(old, _, _)| *old == current) {
            if current == *start {
                break;
            }
            if path.contains(&current) || path.len() > edges.len() {
                path.clear();
                break;
            }
            path.push(current.clone());
            current = next.clone();
        }
        if current != *start || path.is_empty() || path.len() < 2 {
            continue;
        }
        let mut members = path.clone();
        members.sort();
        if reported.contains(&members) {
            continue;
        }
        reported.push(members);
        path.push(start.clone());
        errors.push(syn::Error::new_spanned(
            output,
            format!(
                "these upcasting rules go round in a circle ({}); upgrading would never settle",
                path.join(" -> ")
            ),
        ));
    }
}

/// The kind's required arguments, and each domain or name well-formed.
fn check_arguments(component: &Component, errors: &mut Errors) {
    let kind = component.kind;
    let args = &component.args;
    let missing = |what: &str| {
        syn::Error::new(
            Span::call_site(),
            format!(
                "`#[{}]` needs {what}: `{}`",
                kind.attribute(),
                kind.example()
            ),
        )
    };
    let domain = |value: &Option<LitStr>, what: &str, label: &str, errors: &mut Errors| match value
    {
        None => errors.push(missing(what)),
        Some(value) => {
            if let Err(error) = check_domain(value, label) {
                errors.push(error);
            }
        }
    };
    let list = |value: &Option<DomainList>, what: &str, errors: &mut Errors| match value {
        None => errors.push(missing(what)),
        Some(list) => check_list(list, errors),
    };
    match kind {
        Kind::Aggregate => {
            domain(&args.domain, "the domain it serves", "domain", errors);
            if args.state.is_none() {
                errors.push(missing("the state type"));
            }
        }
        Kind::Upcaster => domain(
            &args.domain,
            "the domain whose history it upgrades",
            "domain",
            errors,
        ),
        Kind::Saga => {
            domain(&args.name, "its name", "name", errors);
            domain(
                &args.source,
                "the domain whose events it consumes (`source`)",
                "domain",
                errors,
            );
            match (&args.target, &args.targets) {
                (None, None) => errors.push(missing(
                    "the domain it sends commands to (`target`, or `targets = [...]`)",
                )),
                (Some(target), Some(targets)) => {
                    let mut error = syn::Error::new(
                        targets.span,
                        "give either `target` or `targets`, not both",
                    );
                    error.combine(syn::Error::new(target.span(), "`target` is here"));
                    errors.push(error);
                }
                (Some(target), None) => {
                    if let Err(error) = check_domain(target, "domain") {
                        errors.push(error);
                    }
                }
                (None, Some(targets)) => check_list(targets, errors),
            }
        }
        Kind::ProcessManager => {
            domain(
                &args.name,
                "its name (the domain of its own events)",
                "name",
                errors,
            );
            list(
                &args.sources,
                "the domains whose events it consumes (`sources = [...]`)",
                errors,
            );
            list(
                &args.targets,
                "the domains it sends commands to (`targets = [...]`)",
                errors,
            );
            if args.state.is_none() {
                errors.push(missing("the state its own events build (`state = Type`)"));
            }
        }
        Kind::Projector => {
            domain(&args.name, "its name", "name", errors);
            list(
                &args.domains,
                "the domains whose events it consumes (`domains = [...]`)",
                errors,
            );
        }
    }
}

fn check_list(list: &DomainList, errors: &mut Errors) {
    if list.items.is_empty() {
        errors.push(syn::Error::new(list.span, "the list of domains is empty"));
    }
    let mut seen: HashMap<String, &LitStr> = HashMap::new();
    for item in &list.items {
        if let Err(error) = check_domain(item, "domain") {
            errors.push(error);
        }
        if let Some(first) = seen.insert(item.value(), item) {
            let mut error = syn::Error::new(
                item.span(),
                format!("domain `{}` is listed twice", item.value()),
            );
            error.combine(syn::Error::new(first.span(), "the first time is here"));
            errors.push(error);
        }
    }
}

/// Applies Angzarr's domain rule (names of sagas, process managers and
/// projectors follow it too), naming what breaks it.
pub fn check_domain(domain: &LitStr, label: &str) -> syn::Result<()> {
    let value = domain.value();
    let fail = |message: String| Err(syn::Error::new(domain.span(), message));
    let Some(first) = value.chars().next() else {
        return fail(format!("the {label} cannot be empty"));
    };
    if value.chars().count() > MAX_DOMAIN_LEN {
        return fail(format!(
            "{label} `{value}` is {} characters long; the maximum is {MAX_DOMAIN_LEN}",
            value.chars().count()
        ));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return fail(format!(
            "{label} `{value}` must start with a lowercase letter or `_` (Angzarr's rule: [a-z_][a-z0-9_-]*)"
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return fail(format!(
            "{label} `{value}` contains {bad:?}; allowed are a-z, 0-9, `_` and `-`"
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

pub fn type_key(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}
