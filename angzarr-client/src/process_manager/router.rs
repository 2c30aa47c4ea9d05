//! The function-based style for process managers.

use std::borrow::Cow;
use std::future::{ready, Future};

use angzarr_proto::{Any, Cover, RejectionNotification};

use super::{IntoDestinations, PmContext, ProcessManager};
use crate::decode::{decode_event, decode_state};
use crate::effects::kind;
use crate::{ComponentError, Effects, HandlerReactions, MessageName, RejectionRoute};

type HandleFn<S> =
    Box<dyn Fn(&Any, &S, &PmContext<'_>, &mut Effects) -> Result<(), ComponentError> + Send + Sync>;
type PrepareFn<S> = Box<dyn Fn(&Any, &S) -> Result<Vec<Cover>, ComponentError> + Send + Sync>;
type ApplyFn<S> = Box<dyn Fn(&mut S, &Any) -> Result<(), ComponentError> + Send + Sync>;
type CompensateFn<S> = Box<
    dyn Fn(&RejectionNotification, &S, &PmContext<'_>, &mut Effects) -> Result<(), ComponentError>
        + Send
        + Sync,
>;
type SnapshotFns<S> = (fn(&S) -> Any, fn(&Any) -> Result<S, ComponentError>);

/// A process manager built from functions.
///
/// ```
/// use angzarr_client::{Command, ProcessManagerRouter, PmOutput};
/// use angzarr_client::proto::{Cover, Edition, NoOp};
///
/// #[derive(Default)]
/// struct Progress {
///     steps: u32,
/// }
///
/// let pm = ProcessManagerRouter::new("checkout", Progress::default)
///     .source("order")
///     .target("payment")
///     .prepare(|_: Edition, _: &Progress| Cover::new("payment", uuid::Uuid::from_u128(1)))
///     .on(|_: Edition, state: &Progress| {
///         PmOutput::new()
///             .event(Cover { domain: format!("step {}", state.steps + 1), ..Default::default() })
///             .command(Command::new(uuid::Uuid::from_u128(1), NoOp::default()))
///     })
///     .apply(|state: &mut Progress, _: &Cover| state.steps += 1);
/// # let _ = pm;
/// ```
pub struct ProcessManagerRouter<S> {
    name: String,
    sources: Vec<Cow<'static, str>>,
    targets: Vec<Cow<'static, str>>,
    new_state: Box<dyn Fn() -> S + Send + Sync>,
    triggers: Vec<MessageName>,
    handlers: Vec<HandleFn<S>>,
    prepared: Vec<MessageName>,
    preparers: Vec<PrepareFn<S>>,
    events: Vec<MessageName>,
    appliers: Vec<ApplyFn<S>>,
    rejections: Vec<RejectionRoute>,
    compensators: Vec<CompensateFn<S>>,
    snapshots: Option<SnapshotFns<S>>,
}

impl<S: Send + Sync + 'static> ProcessManagerRouter<S> {
    /// A process manager named `name` (also the domain of its own events)
    /// whose empty state comes from `new_state`.
    pub fn new(name: impl Into<String>, new_state: impl Fn() -> S + Send + Sync + 'static) -> Self {
        ProcessManagerRouter {
            name: name.into(),
            sources: Vec::new(),
            targets: Vec::new(),
            new_state: Box::new(new_state),
            triggers: Vec::new(),
            handlers: Vec::new(),
            prepared: Vec::new(),
            preparers: Vec::new(),
            events: Vec::new(),
            appliers: Vec::new(),
            rejections: Vec::new(),
            compensators: Vec::new(),
            snapshots: None,
        }
    }

    /// Adds a domain whose events it consumes.
    pub fn source(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.sources.push(domain.into());
        self
    }

    /// Adds a domain it sends commands and facts to.
    pub fn target(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.targets.push(domain.into());
        self
    }

    /// Names the destinations of triggers of type `E` with `preparer(event, state)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a preparer.
    pub fn prepare<E, D>(mut self, preparer: impl Fn(E, &S) -> D + Send + Sync + 'static) -> Self
    where
        E: prost::Name + Default + 'static,
        D: IntoDestinations,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.prepared.contains(&name),
            "process manager {}: event {name} already has a preparer",
            self.name
        );
        self.prepared.push(name);
        self.preparers.push(Box::new(move |event, state| {
            Ok(preparer(decode_event::<E>(event)?, state).into_destinations()?)
        }));
        self
    }

    /// Handles triggers of type `E` with `handler(event, state)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a handler.
    pub fn on<E, R, Shape>(self, handler: impl Fn(E, &S) -> R + Send + Sync + 'static) -> Self
    where
        E: prost::Name + Default + 'static,
        R: HandlerReactions<kind::ProcessManager, Shape>,
    {
        self.on_with_context(move |event: E, state: &S, _: &PmContext<'_>| handler(event, state))
    }

    /// Handles triggers of type `E` with `handler(event, state, context)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a handler.
    pub fn on_with_context<E, R, Shape>(
        mut self,
        handler: impl Fn(E, &S, &PmContext<'_>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        E: prost::Name + Default + 'static,
        R: HandlerReactions<kind::ProcessManager, Shape>,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.triggers.contains(&name),
            "process manager {}: event {name} already has a handler",
            self.name
        );
        self.triggers.push(name);
        self.handlers
            .push(Box::new(move |event, state, context, effects| {
                let event = decode_event::<E>(event)?;
                Ok(handler(event, state, context).into_effects(effects)?)
            }));
        self
    }

    /// Applies its own events of type `E` with `applier(state, event)`.
    ///
    /// # Panics
    ///
    /// If `E` already has an applier.
    pub fn apply<E>(mut self, applier: impl Fn(&mut S, &E) + Send + Sync + 'static) -> Self
    where
        E: prost::Name + Default + 'static,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.events.contains(&name),
            "process manager {}: event {name} already has an applier",
            self.name
        );
        self.events.push(name);
        self.appliers.push(Box::new(move |state, event| {
            applier(state, &decode_event::<E>(event)?);
            Ok(())
        }));
        self
    }

    /// Reacts to commands of type `C` that `domain` rejected, with
    /// `handler(notification, state, context)`.
    ///
    /// # Panics
    ///
    /// If that domain and command already have a handler.
    pub fn on_rejected<C, R, Shape>(
        mut self,
        domain: &'static str,
        handler: impl Fn(&RejectionNotification, &S, &PmContext<'_>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        C: prost::Name,
        R: HandlerReactions<kind::ProcessManager, Shape>,
    {
        let route = RejectionRoute {
            domain,
            command: MessageName::of::<C>(),
        };
        assert!(
            !self.rejections.contains(&route),
            "process manager {}: rejections of {} by {domain} already have a handler",
            self.name,
            route.command
        );
        self.rejections.push(route);
        self.compensators
            .push(Box::new(move |notification, state, context, effects| {
                Ok(handler(notification, state, context).into_effects(effects)?)
            }));
        self
    }
}

impl<S> ProcessManagerRouter<S>
where
    S: prost::Name + Default + Send + Sync + 'static,
{
    /// Keeps snapshots: the state (a protobuf message) is returned with its
    /// events and restored from the history's snapshot.
    pub fn with_snapshots(mut self) -> Self {
        self.snapshots = Some((
            |state| <Any as angzarr_proto::AnyExt>::pack(state),
            decode_state::<S>,
        ));
        self
    }
}

impl<S: Send + Sync + 'static> ProcessManager for ProcessManagerRouter<S> {
    type State = S;

    fn name(&self) -> &str {
        &self.name
    }

    fn sources(&self) -> &[Cow<'static, str>] {
        &self.sources
    }

    fn targets(&self) -> &[Cow<'static, str>] {
        &self.targets
    }

    fn new_state(&self) -> S {
        (self.new_state)()
    }

    fn triggers(&self) -> &[MessageName] {
        &self.triggers
    }

    fn prepared(&self) -> &[MessageName] {
        &self.prepared
    }

    fn prepare(&self, route: usize, event: &Any, state: &S) -> Result<Vec<Cover>, ComponentError> {
        match self.preparers.get(route) {
            Some(preparer) => preparer(event, state),
            None => Err(missing_route(&self.name, "preparation", route)),
        }
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        state: &'a S,
        context: PmContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        ready(match self.handlers.get(route) {
            Some(handler) => handler(event, state, &context, effects),
            None => Err(missing_route(&self.name, "trigger", route)),
        })
    }

    fn events(&self) -> &[MessageName] {
        &self.events
    }

    fn apply(&self, state: &mut S, event: &Any) -> Result<bool, ComponentError> {
        match MessageName::find(&self.events, &event.type_url) {
            Some(index) => (self.appliers[index])(state, event).map(|()| true),
            None => Ok(false),
        }
    }

    fn rejections(&self) -> &[RejectionRoute] {
        &self.rejections
    }

    fn compensate<'a>(
        &'a self,
        route: usize,
        notification: &'a RejectionNotification,
        state: &'a S,
        context: PmContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        ready(match self.compensators.get(route) {
            Some(handler) => handler(notification, state, &context, effects),
            None => Err(missing_route(&self.name, "rejection", route)),
        })
    }

    fn snapshot(&self, state: &S) -> Option<Any> {
        self.snapshots.map(|(pack, _)| pack(state))
    }

    fn restore(&self, snapshot: &Any) -> Option<Result<S, ComponentError>> {
        self.snapshots.map(|(_, unpack)| unpack(snapshot))
    }
}

fn missing_route(name: &str, what: &str, route: usize) -> ComponentError {
    ComponentError::internal(format!(
        "process manager {name} has no {what} route {route}"
    ))
}
