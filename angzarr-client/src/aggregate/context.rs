//! What a handler may know about the command besides its payload.

use angzarr_proto::{Cover, Notification, DEFAULT_EDITION};

/// The command's circumstances: who it is for, which conversation it belongs
/// to, and where the aggregate's history stands.
///
/// Take it as a `&CommandContext` parameter of a `#[handles]` method:
///
/// ```
/// # use angzarr_client::CommandContext;
/// fn describe(ctx: &CommandContext) -> String {
///     format!("{}/{} at {}", ctx.domain(), ctx.root(), ctx.next_sequence())
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CommandContext<'a> {
    cover: Option<&'a Cover>,
    root: uuid::Uuid,
    next_sequence: u32,
    notification: Option<&'a Notification>,
}

impl<'a> CommandContext<'a> {
    /// A context for a command addressed by `cover`, with the aggregate's
    /// history ending before `next_sequence`.
    pub fn new(cover: Option<&'a Cover>, next_sequence: u32) -> Self {
        let root = cover
            .and_then(|cover| cover.root_uuid().ok())
            .unwrap_or_default();
        CommandContext {
            cover,
            root,
            next_sequence,
            notification: None,
        }
    }

    /// The same context, answering `notification` (what a `#[rejected]`
    /// handler is called for).
    pub fn with_notification(mut self, notification: &'a Notification) -> Self {
        self.notification = Some(notification);
        self
    }

    /// In a `#[rejected]` handler, the notification being answered: its
    /// `RejectionNotification` payload and the metadata a coordinator adds
    /// ([`compensation::metadata`](crate::compensation::metadata): who
    /// issued the refused command, and the event that led to it).
    ///
    /// ```
    /// # use angzarr_client::CommandContext;
    /// fn issuer(ctx: &CommandContext) -> Option<String> {
    ///     let metadata = &ctx.notification()?.metadata;
    ///     Some(format!("{} {}", metadata.get("issuer_type")?, metadata.get("issuer_name")?))
    /// }
    /// ```
    pub fn notification(&self) -> Option<&'a Notification> {
        self.notification
    }

    /// The command's cover as sent, if it had one.
    pub fn cover(&self) -> Option<&'a Cover> {
        self.cover
    }

    /// The aggregate's domain.
    pub fn domain(&self) -> &'a str {
        self.cover.map_or("", |cover| cover.domain.as_str())
    }

    /// The aggregate root (the nil UUID if the cover carried none or a malformed one).
    pub fn root(&self) -> uuid::Uuid {
        self.root
    }

    /// The correlation id tying this command to the request that caused it.
    pub fn correlation_id(&self) -> &'a str {
        self.cover.map_or("", |cover| cover.correlation_id.as_str())
    }

    /// The edition (timeline) the command runs on; `angzarr` for the main one.
    pub fn edition(&self) -> &'a str {
        self.cover.map_or(DEFAULT_EDITION, Cover::edition_name)
    }

    /// The sequence the first event this command produces will get.
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
    }

    /// Whether the aggregate has no history yet.
    pub fn is_new(&self) -> bool {
        self.next_sequence == 0
    }
}
