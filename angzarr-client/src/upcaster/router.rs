//! The function-based style for upcasters.

use angzarr_proto::Any;

use super::{UpcastOutput, Upcaster};
use crate::decode::decode_event;
use crate::{ComponentError, MessageName};

type RuleFn = Box<dyn Fn(&Any) -> Result<Any, ComponentError> + Send + Sync>;

/// An upcaster built from functions: one rule per old event type.
///
/// ```
/// use angzarr_client::UpcasterRouter;
/// use angzarr_client::proto::{Cover, NoOp};
///
/// // Old and new types are inferred from the rule.
/// let upcaster = UpcasterRouter::new("player")
///     .on(|old: NoOp| Cover { domain: old.reason, ..Default::default() });
/// # let _ = upcaster;
/// ```
pub struct UpcasterRouter {
    name: String,
    domain: String,
    sources: Vec<MessageName>,
    rules: Vec<RuleFn>,
}

impl UpcasterRouter {
    /// An upcaster of `domain`'s history.
    pub fn new(domain: impl Into<String>) -> Self {
        let domain = domain.into();
        UpcasterRouter {
            name: format!("UpcasterRouter({domain})"),
            domain,
            sources: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// Names the upcaster in messages and logs.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Upgrades events of type `Old` with `rule(old)`.
    ///
    /// # Panics
    ///
    /// If `Old` already has a rule.
    pub fn on<Old, R, Shape>(mut self, rule: impl Fn(Old) -> R + Send + Sync + 'static) -> Self
    where
        Old: prost::Name + Default + 'static,
        R: UpcastOutput<Shape>,
    {
        let name = MessageName::of::<Old>();
        assert!(
            !self.sources.contains(&name),
            "{}: event {name} already has an upcasting rule",
            self.name
        );
        self.sources.push(name);
        self.rules.push(Box::new(move |event| {
            Ok(rule(decode_event::<Old>(event)?).into_upcast()?)
        }));
        self
    }
}

impl Upcaster for UpcasterRouter {
    fn name(&self) -> &str {
        &self.name
    }

    fn domain(&self) -> &str {
        &self.domain
    }

    fn sources(&self) -> &[MessageName] {
        &self.sources
    }

    fn upcast(&self, route: usize, event: &Any) -> Result<Any, ComponentError> {
        match self.rules.get(route) {
            Some(rule) => rule(event),
            None => Err(ComponentError::internal(format!(
                "{} has no rule {route}",
                self.name
            ))),
        }
    }
}
