//! The function-based style for projectors.

use std::borrow::Cow;
use std::future::{ready, Future};

use angzarr_proto::Any;

use super::{Projected, ProjectionContext, Projector, ProjectorOutput};
use crate::decode::decode_event;
use crate::{ComponentError, MessageName};

type EventFn = Box<
    dyn Fn(&Any, &ProjectionContext<'_>, &mut Projected) -> Result<(), ComponentError>
        + Send
        + Sync,
>;

/// A projector built from functions: one handler per event type.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use angzarr_client::ProjectorRouter;
/// use angzarr_client::proto::Edition;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let projector = ProjectorRouter::new("audit-log", ["player", "table"])
///     .on(move |event: Edition| log.lock().unwrap().push(event.name));
/// # let _ = projector;
/// ```
pub struct ProjectorRouter {
    name: String,
    domains: Vec<Cow<'static, str>>,
    events: Vec<MessageName>,
    handlers: Vec<EventFn>,
}

impl ProjectorRouter {
    /// A projector named `name` consuming events of `domains`.
    pub fn new<D: Into<Cow<'static, str>>>(
        name: impl Into<String>,
        domains: impl IntoIterator<Item = D>,
    ) -> Self {
        ProjectorRouter {
            name: name.into(),
            domains: domains.into_iter().map(Into::into).collect(),
            events: Vec::new(),
            handlers: Vec::new(),
        }
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
        R: ProjectorOutput<Shape>,
    {
        self.on_with_context(move |event: E, _: &ProjectionContext<'_>| handler(event))
    }

    /// Handles events of type `E` with `handler(event, context)`.
    ///
    /// # Panics
    ///
    /// If `E` already has a handler.
    pub fn on_with_context<E, R, Shape>(
        mut self,
        handler: impl Fn(E, &ProjectionContext<'_>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        E: prost::Name + Default + 'static,
        R: ProjectorOutput<Shape>,
    {
        let name = MessageName::of::<E>();
        assert!(
            !self.events.contains(&name),
            "projector {}: event {name} already has a handler",
            self.name
        );
        self.events.push(name);
        self.handlers.push(Box::new(move |event, context, out| {
            let event = decode_event::<E>(event)?;
            Ok(handler(event, context).into_projected(out)?)
        }));
        self
    }
}

impl Projector for ProjectorRouter {
    fn name(&self) -> &str {
        &self.name
    }

    fn domains(&self) -> &[Cow<'static, str>] {
        &self.domains
    }

    fn events(&self) -> &[MessageName] {
        &self.events
    }

    fn handle<'a>(
        &'a self,
        route: usize,
        event: &'a Any,
        context: ProjectionContext<'a>,
        out: &'a mut Projected,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send + 'a {
        ready(match self.handlers.get(route) {
            Some(handler) => handler(event, &context, out),
            None => Err(ComponentError::internal(format!(
                "projector {} has no route {route}",
                self.name
            ))),
        })
    }
}
