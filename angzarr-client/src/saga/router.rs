//! The function-based style for sagas: handlers registered per event type.

use std::borrow::Cow;
use std::future::{ready, Future};

use angzarr_proto::Any;

use super::{Saga, SagaContext};
use crate::decode::decode_event;
use crate::effects::kind;
use crate::{ComponentError, Effects, HandlerReactions, MessageName};

type EventFn =
    Box<dyn Fn(&Any, &SagaContext<'_>, &mut Effects) -> Result<(), ComponentError> + Send + Sync>;

/// A saga built from functions: one handler per event type.
///
/// ```
/// use angzarr_client::{Command, SagaRouter};
/// use angzarr_client::proto::{Cover, Edition};
///
/// // Event types are inferred from the handlers' parameters.
/// let saga = SagaRouter::new("saga-audit", "player")
///     .target("audit")
///     .on(|event: Edition| Command::new(uuid::Uuid::from_u128(1), Cover {
///         domain: format!("seen {}", event.name),
///         ..Default::default()
///     }));
/// # let _ = saga;
/// ```
pub struct SagaRouter {
    name: String,
    source: String,
    targets: Vec<Cow<'static, str>>,
    events: Vec<MessageName>,
    handlers: Vec<EventFn>,
}

impl SagaRouter {
    /// A saga named `name` consuming events of `source`.
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Self {
        SagaRouter {
            name: name.into(),
            source: source.into(),
            targets: Vec::new(),
            events: Vec::new(),
            handlers: Vec::new(),
        }
    }

    /// Adds a domain the saga sends commands and facts to.
    pub fn target(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.targets.push(domain.into());
        self
    }

    /// Handles events of type `E` with `handler(event)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a handler: a router is assembled once, at start-up,
    /// and a duplicate is a programming error.
    pub fn on<E, R, Shape>(self, handler: impl Fn(E) -> R + Send + Sync + 'static) -> Self
    where
        E: prost::Name + Default + 'static,
        R: HandlerReactions<kind::Saga, Shape>,
    {
        self.on_with_context(move |event: E, _: &SagaContext<'_>| handler(event))
    }

    /// Handles events of type `E` with `handler(event, context)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a handler.
    pub fn on_with_context<E, R, Shape>(
        mut self,
        handler: impl Fn(E, &SagaContext<'_>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        E: prost::Name + Default + 'static,
        R: HandlerReactions<kind::Saga, Shape>,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.events.contains(&name),
            "saga {}: event {name} already has a handler",
            self.name
        );
        self.events.push(name);
        self.handlers.push(Box::new(move |event, context, effects| {
            let event = decode_event::<E>(event)?;
            Ok(handler(event, context).into_effects(effects)?)
        }));
        self
    }
}

impl Saga for SagaRouter {
    fn name(&self) -> &str {
        &self.name
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn targets(&self) -> &[Cow<'static, str>] {
        &self.targets
    }

    fn events(&self) -> &[MessageName] {
        &self.events
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        context: SagaContext<'a>,
        effects: &'a mut Effects,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        ready(match self.handlers.get(route) {
            Some(handler) => handler(event, &context, effects),
            None => Err(ComponentError::internal(format!(
                "saga {} has no route {route}",
                self.name
            ))),
        })
    }
}
