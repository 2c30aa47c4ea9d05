//! What a coordinator tells the aggregate whose event caused a command that
//! was then refused: a [`CompensationContext`] captures the refusal once and
//! builds every message of the compensation flow from it.

use std::collections::HashMap;

use angzarr_proto::{
    command_page, page_header, time, type_url, AngzarrDeferredSequence, Any, AnyExt, CommandBook,
    CommandPage, Cover, MergeStrategy, Notification, PageHeader, RejectionNotification,
};

use crate::ComponentKind;

/// The metadata keys a compensation [`Notification`] carries beside its
/// `RejectionNotification` payload: who issued the refused command, and the
/// event that led to it (the protocol's `RejectionNotification` has fields
/// for the command and the reason only).
pub mod metadata {
    /// `saga` or `process_manager`.
    pub const ISSUER_TYPE: &str = "issuer_type";
    /// The saga's or process manager's name.
    pub const ISSUER_NAME: &str = "issuer_name";
    /// The domain of the aggregate whose event led to the command.
    pub const SOURCE_DOMAIN: &str = "source_domain";
    /// That aggregate's root, hyphenated.
    pub const SOURCE_ROOT: &str = "source_root";
    /// The sequence of that aggregate's event.
    pub const SOURCE_SEQUENCE: &str = "source_sequence";
}

/// A refused command and everything needed to tell its source about it.
///
/// Built from the refused command as a saga or process manager emitted it:
/// its deferred header (`angzarr_deferred {source, source_seq}`) names the
/// aggregate and the event that led to it; its cover carries the
/// correlation id.
///
/// ```
/// use angzarr_client::proto::{Any, AnyExt, CommandBook, CommandPage, Cover, NoOp};
/// use angzarr_client::{CompensationContext, ComponentKind};
///
/// let source = Cover::new("orders", uuid::Uuid::from_u128(7)).with_correlation_id("flow-1");
/// let mut page = CommandPage::new(0, Any::pack(&NoOp::default()));
/// page.header = Some(CompensationContext::deferred_header(&source, 5));
/// let refused = CommandBook {
///     cover: Some(Cover::new("inventory", uuid::Uuid::from_u128(9)).with_correlation_id("flow-1")),
///     pages: vec![page],
/// };
///
/// let context = CompensationContext::new(refused, "out of stock", ComponentKind::Saga, "fulfil");
/// assert_eq!(context.source().map(|cover| cover.domain.as_str()), Some("orders"));
/// assert_eq!(context.source_sequence(), Some(5));
/// assert_eq!(context.correlation_id(), "flow-1");
/// assert_eq!(context.rejection_notification().rejection_reason, "out of stock");
///
/// let book = context.command_book().unwrap();
/// assert_eq!(book.cover.unwrap().domain, "orders");
/// assert_eq!(context.notification().metadata["issuer_name"], "fulfil");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CompensationContext {
    rejected: Option<CommandBook>,
    reason: String,
    issuer: ComponentKind,
    issuer_name: String,
    source: Option<Cover>,
    source_sequence: Option<u32>,
}

impl CompensationContext {
    /// The refusal of `rejected`, which the `issuer` called `issuer_name`
    /// emitted, for `reason` (the target's message, kept exactly).
    pub fn new(
        rejected: CommandBook,
        reason: impl Into<String>,
        issuer: ComponentKind,
        issuer_name: impl Into<String>,
    ) -> Self {
        let deferred = rejected
            .first_page()
            .and_then(|page| page.header.as_ref())
            .and_then(|header| match &header.sequence_type {
                Some(page_header::SequenceType::AngzarrDeferred(deferred)) => Some(deferred),
                _ => None,
            });
        CompensationContext {
            source: deferred.and_then(|deferred| deferred.source.clone()),
            source_sequence: deferred.map(|deferred| deferred.source_seq),
            rejected: Some(rejected),
            reason: reason.into(),
            issuer,
            issuer_name: issuer_name.into(),
        }
    }

    /// A failure of the `issuer` itself while handling `source`'s event at
    /// `sequence`: no command to name, only the reason.
    pub fn failure(
        source: Cover,
        sequence: Option<u32>,
        reason: impl Into<String>,
        issuer: ComponentKind,
        issuer_name: impl Into<String>,
    ) -> Self {
        CompensationContext {
            rejected: None,
            reason: reason.into(),
            issuer,
            issuer_name: issuer_name.into(),
            source: Some(source),
            source_sequence: sequence,
        }
    }

    /// The same context, told that the command's source is `source` (a
    /// coordinator knows it even when the command carries no deferred
    /// header).
    pub fn with_source(mut self, source: Cover) -> Self {
        self.source = Some(source);
        self
    }

    /// The header a saga's or process manager's command page carries: the
    /// target's coordinator picks the sequence, and a refusal finds its way
    /// back to `source`'s event at `sequence`.
    pub fn deferred_header(source: &Cover, sequence: u32) -> PageHeader {
        PageHeader {
            sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                AngzarrDeferredSequence {
                    source: Some(source.clone()),
                    source_seq: sequence,
                },
            )),
        }
    }

    /// The refused command, as it was sent.
    pub fn rejected_command(&self) -> Option<&CommandBook> {
        self.rejected.as_ref()
    }

    /// Why it was refused.
    pub fn rejection_reason(&self) -> &str {
        &self.reason
    }

    /// The kind of component that issued the command.
    pub fn issuer(&self) -> ComponentKind {
        self.issuer
    }

    /// Its name.
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// The aggregate whose event led to the command, when known.
    pub fn source(&self) -> Option<&Cover> {
        self.source.as_ref()
    }

    /// The sequence of that event, when known.
    pub fn source_sequence(&self) -> Option<u32> {
        self.source_sequence
    }

    /// The workflow's correlation id: the refused command's, else the
    /// source's.
    pub fn correlation_id(&self) -> &str {
        self.rejected
            .as_ref()
            .and_then(|book| book.cover.as_ref())
            .map(|cover| cover.correlation_id.as_str())
            .filter(|id| !id.is_empty())
            .or_else(|| {
                self.source
                    .as_ref()
                    .map(|cover| cover.correlation_id.as_str())
            })
            .unwrap_or_default()
    }

    /// The protocol's `RejectionNotification`: the command and the reason.
    pub fn rejection_notification(&self) -> RejectionNotification {
        RejectionNotification {
            rejected_command: self.rejected.clone(),
            rejection_reason: self.reason.clone(),
        }
    }

    /// The `Notification` wrapping it: the refused command's cover, the
    /// time it was sent, and the issuer and source as [`metadata`].
    pub fn notification(&self) -> Notification {
        let mut entries = HashMap::from([
            (
                metadata::ISSUER_TYPE.to_owned(),
                issuer_type(self.issuer).to_owned(),
            ),
            (metadata::ISSUER_NAME.to_owned(), self.issuer_name.clone()),
        ]);
        if let Some(source) = &self.source {
            entries.insert(metadata::SOURCE_DOMAIN.to_owned(), source.domain.clone());
            if let Ok(root) = source.root_uuid() {
                entries.insert(metadata::SOURCE_ROOT.to_owned(), root.to_string());
            }
        }
        if let Some(sequence) = self.source_sequence {
            entries.insert(metadata::SOURCE_SEQUENCE.to_owned(), sequence.to_string());
        }
        Notification {
            cover: self.rejected.as_ref().and_then(|book| book.cover.clone()),
            payload: Some(Any::pack(&self.rejection_notification())),
            sent_at: Some(time::now()),
            metadata: entries,
        }
    }

    /// The notification packed as the protocol sends it:
    /// `type.angzarr.io/angzarr.Notification`.
    pub fn notification_any(&self) -> Any {
        let mut packed = Any::pack(&self.notification());
        packed.type_url = format!("{}angzarr.Notification", type_url::ANGZARR_PREFIX);
        packed
    }

    /// The command book that carries the notification to the source
    /// aggregate (`HandleCompensation`): its cover is the source's, its one
    /// page deferred (the source's coordinator picks the sequence) with
    /// merge strategy COMMUTATIVE. `None` when the source is unknown.
    pub fn command_book(&self) -> Option<CommandBook> {
        let source = self.source.clone()?;
        let header = PageHeader {
            sequence_type: Some(page_header::SequenceType::AngzarrDeferred(
                AngzarrDeferredSequence {
                    source: self.rejected.as_ref().and_then(|book| book.cover.clone()),
                    source_seq: 0,
                },
            )),
        };
        Some(CommandBook {
            cover: Some(source),
            pages: vec![CommandPage {
                header: Some(header),
                merge_strategy: MergeStrategy::MergeCommutative.into(),
                payload: Some(command_page::Payload::Command(self.notification_any())),
            }],
        })
    }
}

/// How the metadata names a kind of issuer.
fn issuer_type(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Saga => "saga",
        ComponentKind::ProcessManager => "process_manager",
        ComponentKind::Aggregate => "aggregate",
        ComponentKind::Projector => "projector",
        ComponentKind::Upcaster => "upcaster",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::NoOp;

    fn refused(source: &Cover) -> CommandBook {
        let mut page = CommandPage::new(0, Any::pack(&NoOp::default()));
        page.header = Some(CompensationContext::deferred_header(source, 3));
        CommandBook {
            cover: Some(Cover::new("inventory", uuid::Uuid::from_u128(2)).with_correlation_id("c")),
            pages: vec![page],
        }
    }

    #[test]
    fn the_source_comes_from_the_deferred_header() {
        let source = Cover::new("orders", uuid::Uuid::from_u128(1));
        let context =
            CompensationContext::new(refused(&source), "no", ComponentKind::ProcessManager, "pm");
        assert_eq!(context.source(), Some(&source));
        assert_eq!(context.source_sequence(), Some(3));
        let notification = context.notification();
        assert_eq!(
            notification.metadata[metadata::ISSUER_TYPE],
            "process_manager"
        );
        assert_eq!(notification.metadata[metadata::SOURCE_SEQUENCE], "3");
        assert_eq!(
            notification.metadata[metadata::SOURCE_ROOT],
            uuid::Uuid::from_u128(1).to_string()
        );
        let packed = context.notification_any();
        assert_eq!(packed.type_url, "type.angzarr.io/angzarr.Notification");
        let book = context.command_book().expect("a source");
        assert_eq!(book.cover.as_ref(), Some(&source));
        assert_eq!(book.merge_strategy(), MergeStrategy::MergeCommutative);
    }

    #[test]
    fn without_a_deferred_header_the_source_is_unknown_until_given() {
        let mut book = refused(&Cover::default());
        book.pages[0].header = None;
        let context = CompensationContext::new(book, "no", ComponentKind::Saga, "s");
        assert!(context.source().is_none() && context.command_book().is_none());
        let source = Cover::new("orders", uuid::Uuid::from_u128(1));
        assert!(context.with_source(source).command_book().is_some());
    }
}
