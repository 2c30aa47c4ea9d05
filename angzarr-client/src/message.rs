//! Message names known at compile time, and the one rule for matching them
//! against type URLs: what every kind of component dispatches on.

use angzarr_proto::type_url;

/// The full name of a protobuf message type, known at compile time.
///
/// Dispatch compares a type URL against these piecewise, so a lookup neither
/// allocates nor builds strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageName {
    package: &'static str,
    name: &'static str,
}

impl MessageName {
    /// The message `name` of protobuf package `package` (`""` for none).
    pub const fn new(package: &'static str, name: &'static str) -> Self {
        MessageName { package, name }
    }

    /// The name of message type `M`.
    pub const fn of<M: prost::Name>() -> Self {
        MessageName {
            package: M::PACKAGE,
            name: M::NAME,
        }
    }

    /// The protobuf package (`examples`).
    pub const fn package(&self) -> &'static str {
        self.package
    }

    /// The message name within the package (`RegisterPlayer`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether `type_url` names this message, by the one matching rule of
    /// [`angzarr_proto::type_url`] (compared from the URL's end, without
    /// scanning for its `/`).
    #[inline]
    pub fn matches(&self, type_url: &str) -> bool {
        type_url::matches_parts(type_url, self.package, self.name)
    }

    /// Whether `full_name` (a type URL's part after its last `/`) is this
    /// message's full name.
    #[inline]
    pub fn is_named(&self, full_name: &str) -> bool {
        if self.package.is_empty() {
            return full_name == self.name;
        }
        full_name.len() == self.package.len() + 1 + self.name.len()
            && full_name.ends_with(self.name)
            && full_name.starts_with(self.package)
            && full_name.as_bytes()[self.package.len()] == b'.'
    }

    /// Position of the first name in `table` that `type_url` matches, each
    /// entry compared against the URL's end.
    #[inline]
    pub fn find(table: &[MessageName], type_url: &str) -> Option<usize> {
        table.iter().position(|name| name.matches(type_url))
    }

    /// Position of the first name in `table` equal to `full_name` (a type
    /// URL's part after its last `/`).
    #[inline]
    pub fn find_named(table: &[MessageName], full_name: &str) -> Option<usize> {
        table.iter().position(|name| name.is_named(full_name))
    }
}

impl std::fmt::Display for MessageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.package.is_empty() {
            f.write_str(self.name)
        } else {
            write!(f, "{}.{}", self.package, self.name)
        }
    }
}

/// A compensation route: the rejected command (by its domain and type) that a
/// `#[rejected]` handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RejectionRoute {
    /// Domain of the aggregate that rejected the command.
    pub domain: &'static str,
    /// Type of the rejected command.
    pub command: MessageName,
}
