//! What angzarr-local knows of the system: each domain's aggregate and
//! upcaster, and the consumers of published books (sagas, process managers,
//! projectors) with what they subscribe to.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use angzarr_client::ComponentKind;
use angzarr_proto::{type_url, EventBook};

use crate::component::{
    AggregateLogic, ProcessManagerLogic, ProjectorLogic, SagaLogic, UpcasterLogic,
};

/// A domain a consumer listens to, optionally only for some event types
/// (`table:PlayerJoined,PlayerLeft`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The domain.
    pub domain: String,
    /// Event type names (`PlayerJoined` or `examples.PlayerJoined`); empty
    /// for every type.
    pub types: Vec<String>,
}

impl Subscription {
    /// Every event of `domain`.
    pub fn domain(domain: impl Into<String>) -> Self {
        Subscription {
            domain: domain.into(),
            types: Vec::new(),
        }
    }

    /// Parses `domain` or `domain:Type1,Type2`.
    ///
    /// ```
    /// use angzarr_local::Subscription;
    ///
    /// let all = Subscription::parse("table").unwrap();
    /// assert!(all.types.is_empty());
    /// let some = Subscription::parse("table:PlayerJoined,PlayerLeft").unwrap();
    /// assert_eq!(some.types, ["PlayerJoined", "PlayerLeft"]);
    /// assert!(Subscription::parse(":PlayerJoined").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let (domain, types) = match text.split_once(':') {
            Some((domain, types)) => (domain.trim(), Some(types)),
            None => (text.trim(), None),
        };
        crate::validate::domain(domain)
            .map_err(|status| format!("subscription {text:?}: {}", status.message()))?;
        let types: Vec<String> = types
            .map(|types| {
                types
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Subscription {
            domain: domain.to_owned(),
            types,
        })
    }

    /// Parses a list separated by `;` (`table;hand:HandEnded`), the format
    /// of Angzarr's configuration.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        text.split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Subscription::parse)
            .collect()
    }

    /// Parses what a component listens to as the command line and the
    /// topology file write it: Angzarr's `;`-separated list when there is a
    /// `;` (`player;table:PlayerSeated,SeatingRejected`), else one domain
    /// with types (`table:PlayerSeated,SeatingRejected`), else domains
    /// separated by `,` (`player,table`).
    ///
    /// ```
    /// use angzarr_local::Subscription;
    ///
    /// assert_eq!(Subscription::parse_listed("player,table").unwrap().len(), 2);
    /// assert_eq!(Subscription::parse_listed("table:A,B").unwrap()[0].types, ["A", "B"]);
    /// assert_eq!(Subscription::parse_listed("player;table:A,B").unwrap().len(), 2);
    /// assert!(Subscription::parse_listed(" ").is_err());
    /// ```
    pub fn parse_listed(text: &str) -> Result<Vec<Self>, String> {
        let listed = if text.contains(';') {
            Subscription::parse_list(text)?
        } else if text.contains(':') {
            vec![Subscription::parse(text)?]
        } else {
            text.split(',')
                .map(str::trim)
                .filter(|domain| !domain.is_empty())
                .map(Subscription::parse)
                .collect::<Result<_, _>>()?
        };
        if listed.is_empty() {
            return Err(format!("{text:?} names no domain"));
        }
        Ok(listed)
    }

    /// Whether `book` is for this subscription: its domain, and when types
    /// are named, at least one page of one of them.
    pub fn matches(&self, book: &EventBook) -> bool {
        if book.domain() != self.domain {
            return false;
        }
        self.types.is_empty()
            || book
                .pages
                .iter()
                .filter_map(|page| page.event())
                .any(|event| {
                    self.types.iter().any(|name| {
                        let full = type_url::type_name(&event.type_url);
                        full == name || full.rsplit('.').next() == Some(name.as_str())
                    })
                })
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.domain)?;
        if !self.types.is_empty() {
            write!(f, ":{}", self.types.join(","))?;
        }
        Ok(())
    }
}

/// How a consumer is called.
#[derive(Clone)]
pub(crate) enum ConsumerLogic {
    Saga(Arc<dyn SagaLogic>),
    ProcessManager(Arc<dyn ProcessManagerLogic>),
    Projector(Arc<dyn ProjectorLogic>),
}

/// A saga, process manager or projector, and what it listens to.
pub(crate) struct Consumer {
    /// Its place in the registry.
    pub index: usize,
    pub name: String,
    pub subscriptions: Vec<Subscription>,
    pub logic: ConsumerLogic,
    /// The key of its outbox position: `{kind}:{name}`.
    pub position_key: String,
}

impl Consumer {
    pub fn kind(&self) -> ComponentKind {
        match self.logic {
            ConsumerLogic::Saga(_) => ComponentKind::Saga,
            ConsumerLogic::ProcessManager(_) => ComponentKind::ProcessManager,
            ConsumerLogic::Projector(_) => ComponentKind::Projector,
        }
    }

    pub fn describe(&self) -> String {
        match &self.logic {
            ConsumerLogic::Saga(logic) => logic.describe(),
            ConsumerLogic::ProcessManager(logic) => logic.describe(),
            ConsumerLogic::Projector(logic) => logic.describe(),
        }
    }

    /// Whether this consumer takes `book`: projectors skip framework (`_`)
    /// domains they do not name; process managers take only books with a
    /// correlation id.
    pub fn wants(&self, book: &EventBook) -> bool {
        if book.pages.is_empty() {
            return false;
        }
        match self.logic {
            ConsumerLogic::ProcessManager(_) if book.correlation_id().is_empty() => false,
            _ => self.subscriptions.iter().any(|s| s.matches(book)),
        }
    }
}

/// Every component, by kind.
#[derive(Default)]
pub(crate) struct Registry {
    pub aggregates: BTreeMap<String, Arc<dyn AggregateLogic>>,
    pub upcasters: BTreeMap<String, Arc<dyn UpcasterLogic>>,
    pub consumers: Vec<Arc<Consumer>>,
    /// Domains with at least one consumer: only their books are published.
    pub consumed: HashSet<String>,
}

impl Registry {
    pub fn add_consumer(
        &mut self,
        name: String,
        subscriptions: Vec<Subscription>,
        logic: ConsumerLogic,
    ) -> &Consumer {
        for subscription in &subscriptions {
            self.consumed.insert(subscription.domain.clone());
        }
        let index = self.consumers.len();
        let kind = match logic {
            ConsumerLogic::Saga(_) => ComponentKind::Saga,
            ConsumerLogic::ProcessManager(_) => ComponentKind::ProcessManager,
            ConsumerLogic::Projector(_) => ComponentKind::Projector,
        };
        let position_key = format!("{}:{name}", kind.default_service_name());
        self.consumers.push(Arc::new(Consumer {
            index,
            name,
            subscriptions,
            logic,
            position_key,
        }));
        &self.consumers[index]
    }

    /// The consumer of `kind` named `name`, if registered.
    pub fn consumer(&self, kind: ComponentKind, name: &str) -> Option<&Arc<Consumer>> {
        self.consumers
            .iter()
            .find(|consumer| consumer.kind() == kind && consumer.name == name)
    }

    pub fn is_consumed(&self, domain: &str) -> bool {
        self.consumed.contains(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Any, AnyExt, Cover, EventPage, NoOp};

    fn book(domain: &str) -> EventBook {
        EventBook {
            cover: Some(Cover::new(domain, uuid::Uuid::nil())),
            pages: vec![EventPage::new(0, Any::pack(&NoOp::default()))],
            ..Default::default()
        }
    }

    #[test]
    fn subscriptions_match_domains_and_types() {
        let any = Subscription::parse("table").unwrap();
        assert!(any.matches(&book("table")));
        assert!(!any.matches(&book("player")));
        let typed = Subscription::parse("table:NoOp").unwrap();
        assert!(typed.matches(&book("table")));
        let qualified = Subscription::parse("table:angzarr.NoOp").unwrap();
        assert!(qualified.matches(&book("table")));
        let other = Subscription::parse("table:PlayerJoined").unwrap();
        assert!(!other.matches(&book("table")));
        assert_eq!(other.to_string(), "table:PlayerJoined");
        assert_eq!(
            Subscription::parse_list("table; hand:HandEnded")
                .unwrap()
                .len(),
            2
        );
        assert!(Subscription::parse("Table").is_err());
    }
}
