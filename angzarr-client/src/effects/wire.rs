//! From [`Effects`](super::Effects) to the protocol's books: covers that
//! carry the source's correlation id and edition, command pages with the
//! deferred header the target's coordinator stamps, facts with an external id.

use std::borrow::Cow;

use angzarr_proto::{
    event_page, page_header, AngzarrDeferredSequence, CommandBook, CommandPage, Cover, Edition,
    EventBook, EventPage, ExternalDeferredSequence, PageHeader, DEFAULT_EDITION,
};

use super::{PackedCommand, PackedFact};
use crate::{ComponentError, ComponentKind};

/// Where effects come from: the component, what it may target, and the
/// source that commands are deferred to.
pub(crate) struct Origin<'a> {
    pub kind: ComponentKind,
    pub component: &'a str,
    pub targets: &'a [Cow<'static, str>],
    /// The cover deferred headers name as their source (the source book's
    /// for a saga, the process manager's own for a process manager).
    pub source: &'a Cover,
    /// The highest sequence of that source.
    pub source_seq: u32,
    /// The book that triggered the call, and its highest sequence: default
    /// fact ids derive from it, so a redelivered book repeats them.
    pub trigger: &'a Cover,
    pub trigger_seq: u32,
}

impl Origin<'_> {
    /// The edition everything emitted travels on: the source's, else the
    /// main timeline by name.
    fn edition(&self) -> Edition {
        match &self.source.edition {
            Some(edition) if !edition.name.is_empty() => edition.clone(),
            _ => Edition {
                name: DEFAULT_EDITION.to_owned(),
                divergences: Vec::new(),
            },
        }
    }

    fn cover(&self, domain: String, root: uuid::Uuid) -> Cover {
        Cover {
            domain,
            root: Some(root.into()),
            correlation_id: self.source.correlation_id.clone(),
            edition: Some(self.edition()),
        }
    }

    /// The domain an emitted command or fact goes to: the one it names, which
    /// must be a declared target, else the only declared target.
    fn target(&self, named: Option<&str>, what: &str) -> Result<String, ComponentError> {
        let declared = || {
            self.targets
                .iter()
                .map(|target| target.as_ref())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match named {
            Some(domain) if self.targets.iter().any(|target| target == domain) => {
                Ok(domain.to_owned())
            }
            Some(domain) => Err(ComponentError::internal(format!(
                "{} {} emitted a {what} for domain `{domain}`, which is not among its targets ({})",
                self.kind,
                self.component,
                declared()
            ))),
            None => match self.targets {
                [only] => Ok(only.to_string()),
                [] => Err(ComponentError::internal(format!(
                    "{} {} emitted a {what} but declares no target domain",
                    self.kind, self.component
                ))),
                _ => Err(ComponentError::internal(format!(
                    "{} {} has several targets ({}); name the {what}'s domain with `in_domain`",
                    self.kind,
                    self.component,
                    declared()
                ))),
            },
        }
    }

    /// One command book per command, each page deferred to the source.
    pub fn command_books(
        &self,
        commands: Vec<PackedCommand>,
    ) -> Result<Vec<CommandBook>, ComponentError> {
        let mut books = Vec::with_capacity(commands.len());
        self.add_command_books(commands, &mut books)?;
        Ok(books)
    }

    /// [`command_books`](Self::command_books), added to `books`.
    pub fn add_command_books(
        &self,
        commands: impl IntoIterator<Item = PackedCommand>,
        books: &mut Vec<CommandBook>,
    ) -> Result<(), ComponentError> {
        for command in commands {
            let domain = self.target(command.domain.as_deref(), "command")?;
            books.push(CommandBook {
                cover: Some(self.cover(domain, command.root)),
                pages: vec![CommandPage {
                    header: Some(PageHeader {
                        sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                            AngzarrDeferredSequence {
                                source: Some(self.source.clone()),
                                source_seq: self.source_seq,
                            },
                        )),
                    }),
                    merge_strategy: 0,
                    payload: Some(angzarr_proto::command_page::Payload::Command(
                        command.command,
                    )),
                }],
            });
        }
        Ok(())
    }

    /// One event book per fact, its page marked with the fact's external id.
    pub fn fact_books(&self, facts: Vec<PackedFact>) -> Result<Vec<EventBook>, ComponentError> {
        let created_at = angzarr_proto::time::now();
        facts
            .into_iter()
            .enumerate()
            .map(|(index, fact)| {
                let domain = self.target(fact.domain.as_deref(), "fact")?;
                let external_id = fact
                    .external_id
                    .unwrap_or_else(|| self.default_fact_id(index));
                Ok(EventBook {
                    cover: Some(self.cover(domain, fact.root)),
                    snapshot: None,
                    pages: vec![EventPage {
                        header: Some(PageHeader {
                            sequence_type: Some(page_header::SequenceType::ExternalDeferred(
                                ExternalDeferredSequence {
                                    external_id,
                                    description: fact.description,
                                },
                            )),
                        }),
                        created_at: Some(created_at),
                        payload: Some(event_page::Payload::Event(fact.event)),
                        no_commit: false,
                        cascade_id: None,
                    }],
                    next_sequence: 0,
                })
            })
            .collect()
    }

    /// `{component}:{trigger domain}:{trigger root hex}:{trigger sequence}:{index}`.
    fn default_fact_id(&self, index: usize) -> String {
        let root = self
            .trigger
            .root
            .as_ref()
            .map(|root| root.to_hex())
            .unwrap_or_default();
        format!(
            "{}:{}:{}:{}:{index}",
            self.component, self.trigger.domain, root, self.trigger_seq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Any, AnyExt, NoOp};

    fn origin<'a>(source: &'a Cover, targets: &'a [Cow<'static, str>]) -> Origin<'a> {
        Origin {
            kind: ComponentKind::Saga,
            component: "saga-table-player",
            targets,
            source,
            source_seq: 4,
            trigger: source,
            trigger_seq: 4,
        }
    }

    fn command(domain: Option<&'static str>) -> PackedCommand {
        PackedCommand {
            domain: domain.map(Cow::Borrowed),
            root: uuid::Uuid::from_u128(2),
            command: Any::pack(&NoOp::default()),
        }
    }

    #[test]
    fn commands_carry_the_source_and_its_correlation() {
        let source = Cover::new("table", uuid::Uuid::from_u128(1)).with_correlation_id("c-1");
        let targets = [Cow::Borrowed("player")];
        let books = origin(&source, &targets)
            .command_books(vec![command(None)])
            .unwrap();
        let cover = books[0].cover.as_ref().unwrap();
        assert_eq!(cover.domain, "player");
        assert_eq!(cover.correlation_id, "c-1");
        assert_eq!(cover.edition_name(), "angzarr");
        assert!(cover.edition.is_some(), "the edition is named explicitly");
        match &books[0].pages[0].header.as_ref().unwrap().sequence_type {
            Some(page_header::SequenceType::AngzarrDeferred(deferred)) => {
                assert_eq!(deferred.source.as_ref(), Some(&source));
                assert_eq!(deferred.source_seq, 4);
            }
            other => panic!("expected a deferred header, got {other:?}"),
        }
    }

    #[test]
    fn the_domain_must_be_a_declared_target() {
        let source = Cover::new("table", uuid::Uuid::from_u128(1)).with_edition("what-if");
        let targets = [Cow::Borrowed("player"), Cow::Borrowed("table")];
        let origin = origin(&source, &targets);
        let named = origin.command_books(vec![command(Some("table"))]).unwrap();
        assert_eq!(named[0].cover.as_ref().unwrap().edition_name(), "what-if");
        assert_eq!(
            origin
                .command_books(vec![command(None)])
                .unwrap_err()
                .to_string(),
            "internal error: saga saga-table-player has several targets (player, table); \
             name the command's domain with `in_domain`"
        );
        assert_eq!(
            origin
                .command_books(vec![command(Some("hand"))])
                .unwrap_err()
                .to_string(),
            "internal error: saga saga-table-player emitted a command for domain `hand`, \
             which is not among its targets (player, table)"
        );
    }

    #[test]
    fn facts_get_a_deterministic_external_id() {
        let source = Cover::new("table", uuid::Uuid::from_u128(1));
        let targets = [Cow::Borrowed("player")];
        let fact = |id: Option<&str>| PackedFact {
            domain: None,
            root: uuid::Uuid::from_u128(3),
            event: Any::pack(&NoOp::default()),
            external_id: id.map(str::to_owned),
            description: "d".into(),
        };
        let books = origin(&source, &targets)
            .fact_books(vec![fact(None), fact(Some("given"))])
            .unwrap();
        let id = |book: &EventBook| match &book.pages[0].header.as_ref().unwrap().sequence_type {
            Some(page_header::SequenceType::ExternalDeferred(external)) => {
                external.external_id.clone()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            id(&books[0]),
            "saga-table-player:table:00000000000000000000000000000001:4:0"
        );
        assert_eq!(id(&books[1]), "given");
    }
}
