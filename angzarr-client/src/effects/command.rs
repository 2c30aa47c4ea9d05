//! A command for another aggregate, addressed by root (and domain, when the
//! sender targets several).

use std::borrow::Cow;

use angzarr_proto::{Any, AnyExt};

/// A command a saga or process manager sends to another aggregate.
///
/// The target domain is the component's target when it declares one; a
/// component with several targets names it with [`to`](Self::to) or
/// [`in_domain`](Self::in_domain), and the runtime refuses a domain the
/// component does not declare. The cover's correlation id and edition, and
/// the page's deferred header, are filled in by the runtime.
///
/// ```
/// use angzarr_client::Command;
/// use angzarr_client::proto::NoOp;
///
/// let root = uuid::Uuid::from_u128(7);
/// let command = Command::new(root, NoOp::default());
/// assert_eq!(command.root(), root);
/// assert_eq!(command.domain(), None);
/// assert_eq!(Command::to("player", root, NoOp::default()).domain(), Some("player"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Command<C> {
    domain: Option<Cow<'static, str>>,
    root: uuid::Uuid,
    message: C,
}

impl<C> Command<C> {
    /// `message` for the aggregate `root` of the component's target domain.
    pub fn new(root: uuid::Uuid, message: C) -> Self {
        Command {
            domain: None,
            root,
            message,
        }
    }

    /// `message` for the aggregate `root` of `domain`.
    pub fn to(domain: impl Into<Cow<'static, str>>, root: uuid::Uuid, message: C) -> Self {
        Command::new(root, message).in_domain(domain)
    }

    /// The same command, for `domain`.
    pub fn in_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The target domain, if named.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The target aggregate's root.
    pub fn root(&self) -> uuid::Uuid {
        self.root
    }

    /// The command message.
    pub fn message(&self) -> &C {
        &self.message
    }
}

impl<C: prost::Name> Command<C> {
    /// The command with its message packed.
    pub fn pack(self) -> PackedCommand {
        PackedCommand {
            domain: self.domain,
            root: self.root,
            command: Any::pack(&self.message),
        }
    }
}

/// A [`Command`] with its message packed, as [`Effects`](crate::Effects) holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedCommand {
    /// The target domain, if named.
    pub domain: Option<Cow<'static, str>>,
    /// The target aggregate's root.
    pub root: uuid::Uuid,
    /// The packed command.
    pub command: Any,
}
