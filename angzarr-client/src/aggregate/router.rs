//! The function-based style: an aggregate assembled from plain functions and
//! closures instead of an annotated impl block. Same runtime, same server,
//! same test fixture as `#[aggregate]`.

use std::borrow::Cow;
use std::future::{ready, Future};

use angzarr_proto::{Any, AnyExt, RejectionNotification};

use super::{Aggregate, CommandContext, SnapshotPolicy};
use crate::decode::{decode_command, decode_event_bytes, decode_state};
use crate::event::HandlerOutput;
use crate::{ComponentError, MessageName, Rejection, RejectionRoute, Upcaster};

type CommandFn<S> =
    Box<dyn Fn(&Any, &S, CommandContext<'_>) -> Result<Vec<Any>, ComponentError> + Send + Sync>;
type ApplyFn<S> = Box<dyn Fn(&mut S, &[u8]) -> Result<(), ComponentError> + Send + Sync>;
type CompensateFn<S> = Box<
    dyn Fn(&RejectionNotification, &S, CommandContext<'_>) -> Result<Vec<Any>, ComponentError>
        + Send
        + Sync,
>;
type SnapshotFns<S> = (fn(&S) -> Any, fn(&Any) -> Result<S, ComponentError>);
type UpcastFn = Box<dyn for<'e> Fn(&'e Any) -> Result<Cow<'e, Any>, ComponentError> + Send + Sync>;
type UpcastsFn = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// An aggregate built from functions: a handler per command type, an applier
/// per event type.
///
/// ```
/// use angzarr_client::{require_exists, CommandRouter, Rejection};
/// use angzarr_client::proto::{Cover, NoOp};
///
/// #[derive(Default)]
/// struct Counter {
///     count: u32,
/// }
///
/// // Command and event types are inferred from the functions' parameters.
/// fn handle(cmd: Cover, state: &Counter) -> Result<NoOp, Rejection> {
///     require_exists(!cmd.domain.is_empty(), "domain is required")?;
///     Ok(NoOp { original_sequence: state.count, ..Default::default() })
/// }
///
/// let router = CommandRouter::new("counter", Counter::default)
///     .on(handle)
///     .apply(|state: &mut Counter, _event: &NoOp| state.count += 1);
/// # let _ = router;
/// ```
pub struct CommandRouter<S> {
    domain: String,
    name: String,
    new_state: Box<dyn Fn() -> S + Send + Sync>,
    commands: Vec<MessageName>,
    handlers: Vec<CommandFn<S>>,
    events: Vec<MessageName>,
    appliers: Vec<ApplyFn<S>>,
    rejections: Vec<RejectionRoute>,
    compensators: Vec<CompensateFn<S>>,
    snapshots: Option<SnapshotFns<S>>,
    snapshot_policy: SnapshotPolicy<S>,
    upcaster: Option<(UpcastFn, UpcastsFn)>,
}

impl<S: Send + Sync + 'static> CommandRouter<S> {
    /// A router for `domain` whose empty state comes from `new_state`.
    pub fn new(
        domain: impl Into<String>,
        new_state: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        let domain = domain.into();
        CommandRouter {
            name: format!("CommandRouter({domain})"),
            domain,
            new_state: Box::new(new_state),
            commands: Vec::new(),
            handlers: Vec::new(),
            events: Vec::new(),
            appliers: Vec::new(),
            rejections: Vec::new(),
            compensators: Vec::new(),
            snapshots: None,
            snapshot_policy: SnapshotPolicy::default(),
            upcaster: None,
        }
    }

    /// Names the aggregate in messages and logs (default `CommandRouter(<domain>)`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Handles commands of type `C` with `handler(command, state)`.
    ///
    /// # Panics
    ///
    /// If `C` already has a handler: a router is assembled once, at start-up,
    /// and a duplicate is a programming error.
    pub fn on<C, R, Shape>(self, handler: impl Fn(C, &S) -> R + Send + Sync + 'static) -> Self
    where
        C: prost::Name + Default + 'static,
        R: HandlerOutput<Shape>,
    {
        self.on_with_context(move |command: C, state: &S, _: &CommandContext<'_>| {
            handler(command, state)
        })
    }

    /// Handles commands of type `C` with `handler(command, state, context)`.
    ///
    /// # Panics
    ///
    /// If `C` already has a handler.
    pub fn on_with_context<C, R, Shape>(
        mut self,
        handler: impl Fn(C, &S, &CommandContext<'_>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        C: prost::Name + Default + 'static,
        R: HandlerOutput<Shape>,
    {
        let name = MessageName::of::<C>();
        assert!(
            !self.commands.contains(&name),
            "{}: command {name} already has a handler",
            self.name
        );
        self.commands.push(name);
        self.handlers.push(Box::new(move |command, state, context| {
            let command = decode_command::<C>(command)?;
            Ok(handler(command, state, &context).into_output()?)
        }));
        self
    }

    /// Applies events of type `E` to state with `applier(state, event)`.
    ///
    /// # Panics
    ///
    /// If `E` already has an applier.
    pub fn apply<E>(self, applier: impl Fn(&mut S, &E) + Send + Sync + 'static) -> Self
    where
        E: prost::Name + Default + 'static,
    {
        self.try_apply(move |state, event: &E| {
            applier(state, event);
            Ok(())
        })
    }

    /// Applies events of type `E` with `applier(state, event)`, which may
    /// refuse an event it cannot apply (a corrupt stored value): the command
    /// being decided is then refused with that rejection.
    ///
    /// ```
    /// use angzarr_client::prelude::*;
    /// use angzarr_client::testing::prelude::*;
    /// use angzarr_client::proto::{Cover, Edition};
    ///
    /// let names = CommandRouter::new("names", Vec::<String>::new)
    ///     .on(|_: Cover, _: &Vec<String>| Edition::default())
    ///     .try_apply(|names: &mut Vec<String>, event: &Edition| {
    ///         if event.name.contains(' ') {
    ///             return Err(Rejection::invalid_argument(format!("cannot apply: {:?}", event.name)));
    ///         }
    ///         names.push(event.name.clone());
    ///         Ok(())
    ///     });
    /// AggregateTest::new(names)
    ///     .given(Edition { name: "not a name".into(), ..Default::default() })
    ///     .when(Cover::default())
    ///     .then_error(tonic::Code::InvalidArgument, |error| {
    ///         assert!(error.to_string().contains("cannot apply: \"not a name\""), "{error}")
    ///     });
    /// ```
    ///
    /// # Panics
    ///
    /// If `E` already has an applier.
    pub fn try_apply<E>(
        mut self,
        applier: impl Fn(&mut S, &E) -> Result<(), Rejection> + Send + Sync + 'static,
    ) -> Self
    where
        E: prost::Name + Default + 'static,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.events.contains(&name),
            "{}: event {name} already has an applier",
            self.name
        );
        self.events.push(name);
        self.appliers.push(Box::new(move |state, value| {
            Ok(applier(state, &decode_event_bytes::<E>(value)?)?)
        }));
        self
    }

    /// Compensates for commands of type `C` rejected by `domain`, with
    /// `handler(notification, state)`.
    ///
    /// # Panics
    ///
    /// If that domain and command already have a compensation handler.
    pub fn on_rejected<C, R, Shape>(
        mut self,
        domain: &'static str,
        handler: impl Fn(&RejectionNotification, &S) -> R + Send + Sync + 'static,
    ) -> Self
    where
        C: prost::Name,
        R: HandlerOutput<Shape>,
    {
        let route = RejectionRoute {
            domain,
            command: MessageName::of::<C>(),
        };
        assert!(
            !self.rejections.contains(&route),
            "{}: rejections of {} by {domain} already have a handler",
            self.name,
            route.command
        );
        self.rejections.push(route);
        self.compensators
            .push(Box::new(move |notification, state, _| {
                Ok(handler(notification, state).into_output()?)
            }));
        self
    }
}

impl<S: Send + Sync + 'static> CommandRouter<S> {
    /// Upgrades old events in the history with `upcaster`'s rules before
    /// they are applied (for history that reaches the aggregate without a
    /// coordinator-side upcast).
    pub fn with_upcaster(mut self, upcaster: impl Upcaster) -> Self {
        let upcaster = std::sync::Arc::new(upcaster);
        let rules = std::sync::Arc::clone(&upcaster);
        self.upcaster = Some((
            Box::new(move |event| crate::upcaster::runtime::upcast_event(&*upcaster, event)),
            Box::new(move |type_url| rules.route(type_url).is_some()),
        ));
        self
    }
}

impl<S> CommandRouter<S>
where
    S: prost::Name + Default + Send + Sync + 'static,
{
    /// Keeps snapshots: the state (a protobuf message) is restored from the
    /// history's snapshot and returned as one every
    /// [`DEFAULT_SNAPSHOT_INTERVAL`](crate::DEFAULT_SNAPSHOT_INTERVAL) events
    /// ([`SnapshotPolicy::default`]).
    pub fn with_snapshots(mut self) -> Self {
        self.snapshots = Some((|state| Any::pack(state), decode_state::<S>));
        self
    }

    /// Keeps snapshots, returned when `policy` says:
    /// `with_snapshot_policy(SnapshotPolicy::every(100))`, or a predicate on
    /// the state and the last event's sequence.
    ///
    /// ```
    /// use angzarr_client::{CommandRouter, SnapshotPolicy};
    /// use angzarr_client::proto::Cover;
    ///
    /// let router = CommandRouter::new("counter", Cover::default)
    ///     .with_snapshot_policy(SnapshotPolicy::every(100));
    /// # let _ = router;
    /// ```
    pub fn with_snapshot_policy(mut self, policy: SnapshotPolicy<S>) -> Self {
        self.snapshot_policy = policy;
        self.with_snapshots()
    }
}

impl<S: Send + Sync + 'static> Aggregate for CommandRouter<S> {
    type State = S;

    fn name(&self) -> &str {
        &self.name
    }

    fn domain(&self) -> &str {
        &self.domain
    }

    fn new_state(&self) -> S {
        (self.new_state)()
    }

    fn commands(&self) -> &[MessageName] {
        &self.commands
    }

    fn events(&self) -> &[MessageName] {
        &self.events
    }

    fn apply(&self, state: &mut S, event: &Any) -> Result<bool, ComponentError> {
        self.apply_encoded(state, &event.type_url, &event.value)
    }

    fn apply_encoded(
        &self,
        state: &mut S,
        type_url: &str,
        value: &[u8],
    ) -> Result<bool, ComponentError> {
        match MessageName::find(&self.events, type_url) {
            Some(index) => (self.appliers[index])(state, value).map(|()| true),
            None => Ok(false),
        }
    }

    fn upcasts(&self, type_url: &str) -> bool {
        self.upcaster
            .as_ref()
            .is_some_and(|(_, upcasts)| upcasts(type_url))
    }

    fn synchronous(&self) -> bool {
        true
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        command: &'a Any,
        state: &'a S,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, ComponentError>> + Send + 'a {
        ready(match self.handlers.get(route) {
            Some(handler) => handler(command, state, context),
            None => Err(ComponentError::internal(format!(
                "{} has no command route {route}",
                self.name
            ))),
        })
    }

    fn rejections(&self) -> &[RejectionRoute] {
        &self.rejections
    }

    fn compensate<'a>(
        &'a self,
        route: usize,
        notification: &'a RejectionNotification,
        state: &'a S,
        context: CommandContext<'a>,
    ) -> impl Future<Output = Result<Vec<Any>, ComponentError>> + Send + 'a {
        ready(match self.compensators.get(route) {
            Some(handler) => handler(notification, state, context),
            None => Err(ComponentError::internal(format!(
                "{} has no compensation route {route}",
                self.name
            ))),
        })
    }

    fn snapshot(&self, state: &S) -> Option<Any> {
        self.snapshots.map(|(pack, _)| pack(state))
    }

    fn snapshot_due(&self, state: &S, first: u32, last: u32) -> bool {
        self.snapshot_policy.is_due(state, first, last)
    }

    fn upcast<'e>(&self, event: &'e Any) -> Result<Cow<'e, Any>, ComponentError> {
        match &self.upcaster {
            Some((upcast, _)) => upcast(event),
            None => Ok(Cow::Borrowed(event)),
        }
    }

    fn restore(&self, snapshot: &Any) -> Option<Result<S, ComponentError>> {
        self.snapshots.map(|(_, unpack)| unpack(snapshot))
    }
}
