//! The aggregate contract: what `#[aggregate]` and [`CommandRouter`](crate::CommandRouter)
//! implement, and what the runtime, the server and the test fixture call.

use std::future::Future;

use angzarr_proto::{type_url, Any, RejectionNotification};

use crate::{AggregateError, CommandContext};

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
    /// [`angzarr_proto::type_url`].
    pub fn matches(&self, type_url: &str) -> bool {
        self.is_named(type_url::type_name(type_url))
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

    /// Position of the first name in `table` that `type_url` matches. The
    /// type URL is split once, then compared entry by entry (length first).
    pub fn find(table: &[MessageName], type_url: &str) -> Option<usize> {
        let full_name = type_url::type_name(type_url);
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

/// An event-sourced aggregate: decides commands from state rebuilt by
/// applying its events.
///
/// Implemented by `#[aggregate]` (the rich domain model) and by
/// [`CommandRouter`](crate::CommandRouter) (plain functions); served by
/// [`AggregateService`](crate::AggregateService) and tested with
/// [`AggregateTest`](crate::testing::AggregateTest). Both go through
/// [`runtime`](crate::runtime), so they behave identically.
pub trait Aggregate: Send + Sync + 'static {
    /// The state that events are applied to.
    type State: Send + Sync + 'static;

    /// A name for messages and logs, e.g. the type name `Player`.
    fn name(&self) -> &str;

    /// The domain (aggregate type) this aggregate serves, e.g. `player`.
    fn domain(&self) -> &str;

    /// The state of an aggregate with no history.
    fn new_state(&self) -> Self::State;

    /// Command types handled, in route order.
    fn commands(&self) -> &[MessageName];

    /// Event types applied to state.
    fn events(&self) -> &[MessageName];

    /// The route of a command type URL, if this aggregate handles it.
    fn route(&self, type_url: &str) -> Option<usize> {
        MessageName::find(self.commands(), type_url)
    }

    /// Applies one event to `state`. Returns `Ok(false)`, leaving the state
    /// untouched, for event types this aggregate does not know.
    fn apply(&self, state: &mut Self::State, event: &Any) -> Result<bool, AggregateError>;

    /// Runs the handler of `route` (from [`route`](Self::route)) and returns the
    /// events it produced, packed, in order.
    fn handle<'a>(
        &'a self,
        route: usize,
        command: &'a Any,
        state: &'a Self::State,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, AggregateError>> + Send + 'a;

    /// Rejected commands this aggregate compensates for, in route order.
    fn rejections(&self) -> &[RejectionRoute] {
        &[]
    }

    /// Runs the compensation handler of `route` (an index into
    /// [`rejections`](Self::rejections)).
    fn compensate<'a>(
        &'a self,
        route: usize,
        notification: &'a RejectionNotification,
        state: &'a Self::State,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, AggregateError>> + Send + 'a {
        let _ = (notification, state, context);
        let error = AggregateError::Internal(format!(
            "aggregate {} has no compensation route {route}",
            self.name()
        ));
        std::future::ready(Err(error))
    }

    /// The state as a snapshot, for aggregates whose state is a protobuf message.
    fn snapshot(&self, state: &Self::State) -> Option<Any> {
        let _ = state;
        None
    }

    /// The state held by a snapshot; `None` if this aggregate keeps no snapshots.
    fn restore(&self, snapshot: &Any) -> Option<Result<Self::State, AggregateError>> {
        let _ = snapshot;
        None
    }

    /// A readable rendering of one of this aggregate's events (its `Debug`),
    /// for test failure messages.
    fn describe_event(&self, event: &Any) -> Option<String> {
        let _ = event;
        None
    }
}
