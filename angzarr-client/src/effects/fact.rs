//! A fact: an event recorded on another aggregate as something that
//! happened, not a request it may refuse.

use std::borrow::Cow;

use angzarr_proto::{Any, AnyExt};

/// An event a saga or process manager records on another aggregate through
/// the coordinator's fact path (`HandleEvent`): the aggregate cannot refuse
/// it, and the coordinator stores it once per external id.
///
/// Without [`with_external_id`](Self::with_external_id) the runtime derives
/// a deterministic id from the component, the source aggregate and its
/// sequence, and the fact's position, so that redelivering the same source
/// book records the fact once.
///
/// ```
/// use angzarr_client::Fact;
/// use angzarr_client::proto::NoOp;
///
/// let fact = Fact::to("audit", uuid::Uuid::from_u128(1), NoOp::default())
///     .with_external_id("payment-77")
///     .with_description("card payment settled");
/// assert_eq!(fact.external_id(), Some("payment-77"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fact<E> {
    domain: Option<Cow<'static, str>>,
    root: uuid::Uuid,
    event: E,
    external_id: Option<String>,
    description: String,
}

impl<E> Fact<E> {
    /// `event` for the aggregate `root` of the component's target domain.
    pub fn new(root: uuid::Uuid, event: E) -> Self {
        Fact {
            domain: None,
            root,
            event,
            external_id: None,
            description: String::new(),
        }
    }

    /// `event` for the aggregate `root` of `domain`.
    pub fn to(domain: impl Into<Cow<'static, str>>, root: uuid::Uuid, event: E) -> Self {
        Fact::new(root, event).in_domain(domain)
    }

    /// The same fact, for `domain`.
    pub fn in_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The same fact with this external id (the coordinator stores one fact
    /// per id and aggregate).
    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The same fact with a description for people reading the history.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
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

    /// The event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The external id, if given.
    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

impl<E: prost::Name> Fact<E> {
    /// The fact with its event packed.
    pub fn pack(self) -> PackedFact {
        PackedFact {
            domain: self.domain,
            root: self.root,
            event: Any::pack(&self.event),
            external_id: self.external_id,
            description: self.description,
        }
    }
}

/// A [`Fact`] with its event packed, as [`Effects`](crate::Effects) holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedFact {
    /// The target domain, if named.
    pub domain: Option<Cow<'static, str>>,
    /// The target aggregate's root.
    pub root: uuid::Uuid,
    /// The packed event.
    pub event: Any,
    /// The external id, if given (else derived by the runtime).
    pub external_id: Option<String>,
    /// A description for people reading the history.
    pub description: String,
}
