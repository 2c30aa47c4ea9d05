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
    // Built by hand: every packed event pays for this, and the formatting
    // machinery costs several times the copy.
    let mut url = String::with_capacity(GOOGLE_PREFIX.len() + M::PACKAGE.len() + 1 + M::NAME.len());
    url.push_str(GOOGLE_PREFIX);
    if !M::PACKAGE.is_empty() {
        url.push_str(M::PACKAGE);
        url.push('.');
    }
    url.push_str(M::NAME);
    url
}

/// The full message name a type URL refers to: what follows its last `/`.
pub fn type_name(type_url: &str) -> &str {
    // Scanning back from the end touches only the name, which is short;
    // every dispatch calls this once per page.
    match type_url.bytes().rposition(|byte| byte == b'/') {
        Some(slash) => &type_url[slash + 1..],
        None => type_url,
    }
}

/// Whether `type_url` names the message `M`, by the one matching rule.
///
/// Allocation-free: the full name is compared piecewise against
/// [`Name::PACKAGE`] and [`Name::NAME`], so this is cheap on hot paths.
pub fn matches<M: Name>(type_url: &str) -> bool {
    matches_parts(type_url, M::PACKAGE, M::NAME)
}

/// Whether `type_url` names the message whose full name is `full_name`.
pub fn matches_name(type_url: &str, full_name: &str) -> bool {
    type_name(type_url) == full_name
}

/// Whether `type_url` (or a bare full name) names the message `name` of
/// protobuf package `package` (empty for none): its part after the last `/`
/// is `package.name`.
///
/// The URL is compared from its end, so nothing is scanned for the `/`:
/// dispatch tables call this for every entry of every page.
#[inline]
pub fn matches_parts(type_url: &str, package: &str, name: &str) -> bool {
    let url = type_url.as_bytes();
    let full = if package.is_empty() {
        name.len()
    } else {
        package.len() + 1 + name.len()
    };
    let Some(start) = url.len().checked_sub(full) else {
        return false;
    };
    // Names differ mostly at their end, packages rarely: compare the name first.
    url.ends_with(name.as_bytes())
        && (start == 0 || url[start - 1] == b'/')
        && (package.is_empty()
            || (url[start + package.len()] == b'.'
                && &url[start..start + package.len()] == package.as_bytes()))
}

/// Whether the full name `type_url` refers to ends with `suffix` on a name
/// boundary: `OrderCreated` and `v1.OrderCreated` both match
/// `type.googleapis.com/myapp.events.v1.OrderCreated`, `1.OrderCreated` and
/// `ordercreated` do not. For reading events whose package a reader does not
/// know (another language's, another version's); dispatch compares full
/// names ([`matches()`]).
///
/// ```
/// use angzarr_proto::type_url::name_ends_with;
///
/// let url = "type.googleapis.com/myapp.events.v1.OrderCreated";
/// assert!(name_ends_with(url, "OrderCreated"));
/// assert!(name_ends_with(url, "v1.OrderCreated"));
/// assert!(name_ends_with(url, "myapp.events.v1.OrderCreated"));
/// assert!(!name_ends_with(url, "v2.OrderCreated"));
/// assert!(!name_ends_with(url, "rderCreated"));
/// assert!(!name_ends_with(url, "ordercreated"));
/// ```
pub fn name_ends_with(type_url: &str, suffix: &str) -> bool {
    let name = type_name(type_url);
    !suffix.is_empty()
        && name.ends_with(suffix)
        && (name.len() == suffix.len() || name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cover, NoOp};

    #[test]
    fn matching_compares_the_part_after_the_last_slash() {
        let cases = [
            ("type.googleapis.com/angzarr.NoOp", true),
            ("type.angzarr.io/angzarr.NoOp", true),
            ("angzarr.NoOp", true),
            ("a/b/angzarr.NoOp", true),
            ("type.googleapis.com/xangzarr.NoOp", false),
            ("type.googleapis.com/angzarr.XNoOp", false),
            ("type.googleapis.com/angzarr_NoOp", false),
            ("type.googleapis.com/other.angzarr.NoOp", false),
            ("angzarr.NoOp/", false),
            ("NoOp", false),
            ("", false),
        ];
        for (url, expected) in cases {
            assert_eq!(matches::<NoOp>(url), expected, "{url}");
            assert_eq!(matches_name(url, "angzarr.NoOp"), expected, "{url}");
        }
        assert!(matches_parts("type.googleapis.com/Bare", "", "Bare"));
        assert!(!matches_parts("type.googleapis.com/x.Bare", "", "Bare"));
    }

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
        assert!(matches_parts("Msg", "", "Msg"));
        assert!(!matches_parts(".Msg", "", "Msg"));
    }
}
