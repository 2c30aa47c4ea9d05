//! What a binary contains: every `#[aggregate]` registers its domain,
//! commands, events and handler names at compile time.

use crate::MessageName;

/// One aggregate compiled into this binary, as `#[aggregate]` registered it.
#[derive(Debug)]
pub struct AggregateTopology {
    /// The aggregate's type name, e.g. `Player`.
    pub name: &'static str,
    /// Its domain, e.g. `player`.
    pub domain: &'static str,
    /// Commands handled, with the handling method's name.
    pub commands: &'static [(MessageName, &'static str)],
    /// Events applied, with the applying method's name.
    pub events: &'static [(MessageName, &'static str)],
    /// Rejected commands compensated for: the rejecting domain, the command and
    /// the handling method's name.
    pub rejections: &'static [(&'static str, MessageName, &'static str)],
}

inventory::collect!(AggregateTopology);

/// Every aggregate registered in this binary, sorted by domain, then name.
///
/// ```
/// for aggregate in angzarr_client::topology() {
///     println!("{} ({}): {} commands", aggregate.name, aggregate.domain, aggregate.commands.len());
/// }
/// ```
pub fn topology() -> Vec<&'static AggregateTopology> {
    let mut all: Vec<_> = inventory::iter::<AggregateTopology>.into_iter().collect();
    all.sort_by_key(|aggregate| (aggregate.domain, aggregate.name));
    all
}
