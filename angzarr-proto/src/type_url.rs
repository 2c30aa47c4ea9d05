//! Type URLs: how a packed [`Any`](crate::Any) names the message it holds.
//!
//! Angzarr emits `type.googleapis.com/<package>.<Message>`, while the framework
//! itself may use `type.angzarr.io/<package>.<Message>`. There is one rule for
//! matching, used everywhere in this project: compare the part after the last
//! `/` with the message's full name. A URL without a `/` is a bare full name.
//!
//! ```
//! use angzarr_proto::{type_url, Cover};
//!
//! assert_eq!(type_url::type_name("type.googleapis.com/angzarr.Cover"), "angzarr.Cover");
//! assert!(type_url::matches::<Cover>("type.googleapis.com/angzarr.Cover"));
//! assert!(type_url::matches::<Cover>("type.angzarr.io/angzarr.Cover"));
//! assert!(!type_url::matches::<Cover>("type.googleapis.com/other.Cover"));
//! ```

use prost::Name;

/// The prefix this project emits: `type.googleapis.com/`.
pub const GOOGLE_PREFIX: &str = "type.googleapis.com/";

/// The prefix the Angzarr framework may use for its own messages: `type.angzarr.io/`.
pub const ANGZARR_PREFIX: &str = "type.angzarr.io/";

/// The type URL this project emits for `M`: `type.googleapis.com/<full name>`.
pub fn of<M: Name>() -> String {
    if M::PACKAGE.is_empty() {
        format!("{GOOGLE_PREFIX}{}", M::NAME)
    } else {
        format!("{GOOGLE_PREFIX}{}.{}", M::PACKAGE, M::NAME)
    }
}

/// The full message name a type URL refers to: what follows its last `/`.
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit_once('/').map_or(type_url, |(_, name)| name)
}

/// Whether `type_url` names the message `M`, by the one matching rule.
///
/// Allocation-free: the full name is compared piecewise against
/// [`Name::PACKAGE`] and [`Name::NAME`], so this is cheap on hot paths.
pub fn matches<M: Name>(type_url: &str) -> bool {
    is_full_name(type_name(type_url), M::PACKAGE, M::NAME)
}

/// Whether `type_url` names the message whose full name is `full_name`.
pub fn matches_name(type_url: &str, full_name: &str) -> bool {
    type_name(type_url) == full_name
}

/// Whether `candidate` equals `package.name` (or `name` when the package is empty).
fn is_full_name(candidate: &str, package: &str, name: &str) -> bool {
    if package.is_empty() {
        return candidate == name;
    }
    candidate.len() == package.len() + 1 + name.len()
        && candidate.starts_with(package)
        && candidate.as_bytes()[package.len()] == b'.'
        && candidate.ends_with(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cover, NoOp};

    #[test]
    fn emits_the_google_prefix() {
        assert_eq!(of::<Cover>(), "type.googleapis.com/angzarr.Cover");
    }

    #[test]
    fn both_prefixes_and_bare_names_match() {
        assert!(matches::<NoOp>("type.googleapis.com/angzarr.NoOp"));
        assert!(matches::<NoOp>("type.angzarr.io/angzarr.NoOp"));
        assert!(matches::<NoOp>("angzarr.NoOp"));
        assert!(matches::<NoOp>("a/b/c/angzarr.NoOp"));
    }

    #[test]
    fn wrong_type_urls_do_not_match() {
        for url in [
            "",
            "/",
            "type.googleapis.com/",
            "type.googleapis.com/NoOp",
            "type.googleapis.com/angzarr.NoOpX",
            "type.googleapis.com/xangzarr.NoOp",
            "type.googleapis.com/angzarr_NoOp",
            "type.googleapis.com/angzarr.NoOp/",
            "type.googleapis.com/examples.NoOp",
            "angzarr.NoOp.Nested",
        ] {
            assert!(!matches::<NoOp>(url), "{url:?} must not match angzarr.NoOp");
        }
    }

    #[test]
    fn type_name_takes_what_follows_the_last_slash() {
        assert_eq!(type_name("a/b/pkg.Msg"), "pkg.Msg");
        assert_eq!(type_name("pkg.Msg"), "pkg.Msg");
        assert_eq!(type_name("type.googleapis.com/"), "");
        assert!(matches_name("type.angzarr.io/pkg.Msg", "pkg.Msg"));
        assert!(!matches_name("type.angzarr.io/pkg.Msg", "pkg.Other"));
    }

    #[test]
    fn empty_package_compares_the_bare_name() {
        assert!(is_full_name("Msg", "", "Msg"));
        assert!(!is_full_name(".Msg", "", "Msg"));
    }
}
