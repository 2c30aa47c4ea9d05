//! What a binary contains: every component declared with a macro registers
//! its kind, name, domains and messages at compile time, and [`topology`]
//! lists them, as data or as a Mermaid diagram of the system.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::{ComponentKind, MessageName};

/// One component compiled into this binary, as its macro registered it.
#[derive(Debug)]
pub struct ComponentTopology {
    /// Its kind.
    pub kind: ComponentKind,
    /// Its name: an aggregate's or upcaster's type name, another kind's
    /// declared name.
    pub name: &'static str,
    /// The domain it owns: an aggregate's or upcaster's domain, a process
    /// manager's own (its name); empty for sagas and projectors.
    pub domain: &'static str,
    /// Domains whose events it consumes (sagas, process managers, projectors).
    pub sources: &'static [&'static str],
    /// Domains it sends commands and facts to (sagas, process managers).
    pub targets: &'static [&'static str],
    /// Messages handled (an aggregate's commands, other kinds' events), with
    /// the handling method's name.
    pub handles: &'static [(MessageName, &'static str)],
    /// Events applied to state, with the applying method's name.
    pub applies: &'static [(MessageName, &'static str)],
    /// Triggers whose destinations a process manager prepares, with the method.
    pub prepares: &'static [(MessageName, &'static str)],
    /// Rejected commands reacted to: the rejecting domain, the command and
    /// the method.
    pub rejections: &'static [(&'static str, MessageName, &'static str)],
    /// Old event types an upcaster upgrades, with the rule's method.
    pub upcasts: &'static [(MessageName, &'static str)],
}

inventory::collect!(ComponentTopology);

/// Every component registered in this binary.
#[derive(Debug, Clone)]
pub struct Topology {
    components: Vec<&'static ComponentTopology>,
}

/// Every component registered in this binary, sorted by kind, then domain,
/// then name.
///
/// ```
/// let system = angzarr_client::topology();
/// for component in system.components() {
///     println!("{} {}: {} handler(s)", component.kind, component.name, component.handles.len());
/// }
/// println!("{}", system.to_mermaid());
/// ```
pub fn topology() -> Topology {
    let mut components: Vec<_> = inventory::iter::<ComponentTopology>.into_iter().collect();
    components.sort_by_key(|component| (component.kind, component.domain, component.name));
    Topology { components }
}

impl Topology {
    /// The components, sorted by kind, domain and name.
    pub fn components(&self) -> &[&'static ComponentTopology] {
        &self.components
    }

    /// The components of one kind.
    pub fn of_kind(
        &self,
        kind: ComponentKind,
    ) -> impl Iterator<Item = &'static ComponentTopology> + '_ {
        self.components
            .iter()
            .copied()
            .filter(move |component| component.kind == kind)
    }

    /// The system as a Mermaid flowchart: a node per domain (its aggregate,
    /// when the binary has it) and per other component; events flow from
    /// domains into sagas, process managers and projectors (labelled with
    /// the events handled), commands from sagas and process managers into
    /// their target domains, and upcasters attach to their domain.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        let mut domains: BTreeSet<&str> = BTreeSet::new();
        for component in &self.components {
            if matches!(
                component.kind,
                ComponentKind::Aggregate | ComponentKind::Upcaster
            ) {
                domains.insert(component.domain);
            }
            domains.extend(component.sources.iter().copied());
            domains.extend(component.targets.iter().copied());
        }
        for domain in &domains {
            let aggregate = self
                .of_kind(ComponentKind::Aggregate)
                .find(|aggregate| aggregate.domain == *domain);
            let label = match aggregate {
                Some(aggregate) => format!("{domain}<br/>aggregate {}", aggregate.name),
                None => (*domain).to_owned(),
            };
            let _ = writeln!(out, "    {}[\"{}\"]", node_id("domain", domain), label);
        }
        for component in &self.components {
            let id = node_id(kind_prefix(component.kind), component.name);
            match component.kind {
                ComponentKind::Aggregate => continue,
                ComponentKind::Saga => {
                    let _ = writeln!(out, "    {id}{{{{\"saga {}\"}}}}", component.name);
                }
                ComponentKind::ProcessManager => {
                    let _ = writeln!(out, "    {id}([\"process manager {}\"])", component.name);
                }
                ComponentKind::Projector => {
                    let _ = writeln!(out, "    {id}[/\"projector {}\"/]", component.name);
                }
                ComponentKind::Upcaster => {
                    let _ = writeln!(out, "    {id}>\"upcaster {}\"]", component.name);
                    let _ = writeln!(
                        out,
                        "    {id} -. upcasts .-> {}",
                        node_id("domain", component.domain)
                    );
                    continue;
                }
            }
            for source in component.sources {
                let events: Vec<&str> = component
                    .handles
                    .iter()
                    .map(|(message, _)| message.name())
                    .collect();
                let label = if events.is_empty() {
                    "events".to_owned()
                } else {
                    events.join(", ")
                };
                let _ = writeln!(out, "    {} -->|{}| {id}", node_id("domain", source), label);
            }
            for target in component.targets {
                let _ = writeln!(out, "    {id} -->|commands| {}", node_id("domain", target));
            }
        }
        out
    }
}

fn kind_prefix(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Aggregate => "aggregate",
        ComponentKind::Saga => "saga",
        ComponentKind::ProcessManager => "pm",
        ComponentKind::Projector => "projector",
        ComponentKind::Upcaster => "upcaster",
    }
}

/// A Mermaid node id: the prefix and the name with everything but letters
/// and digits replaced by `_`.
fn node_id(prefix: &str, name: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 1 + name.len());
    id.push_str(prefix);
    id.push('_');
    id.extend(
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    static SAGA: ComponentTopology = ComponentTopology {
        kind: ComponentKind::Saga,
        name: "saga-table-player",
        domain: "",
        sources: &["table"],
        targets: &["player"],
        handles: &[(MessageName::new("examples", "PlayerLeft"), "release")],
        applies: &[],
        prepares: &[],
        rejections: &[],
        upcasts: &[],
    };

    #[test]
    fn mermaid_draws_flows_between_domains() {
        let system = Topology {
            components: vec![&SAGA],
        };
        let drawn = system.to_mermaid();
        assert!(drawn.starts_with("flowchart LR\n"), "{drawn}");
        assert!(drawn.contains("domain_table[\"table\"]"), "{drawn}");
        assert!(
            drawn.contains("saga_saga_table_player{{\"saga saga-table-player\"}}"),
            "{drawn}"
        );
        assert!(
            drawn.contains("domain_table -->|PlayerLeft| saga_saga_table_player"),
            "{drawn}"
        );
        assert!(
            drawn.contains("saga_saga_table_player -->|commands| domain_player"),
            "{drawn}"
        );
    }
}
