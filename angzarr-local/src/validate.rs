//! Request validation, with the real coordinator's rules and messages.

use angzarr_client::coded;
use angzarr_proto::{CommandBook, CommandRequest, Cover};
use tonic::Status;

/// Longest domain name.
pub const MAX_DOMAIN_LEN: usize = 64;
/// Longest correlation id.
pub const MAX_CORRELATION_ID_LEN: usize = 128;
/// Most pages in one command book.
pub const MAX_COMMAND_PAGES: usize = 100;
/// Largest command payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Longest edition name.
pub const MAX_EDITION_LEN: usize = 64;

/// A validated command: its book, domain and root.
pub struct ValidCommand<'a> {
    /// The command book.
    pub book: &'a CommandBook,
    /// The cover (present).
    pub cover: &'a Cover,
    /// The aggregate root.
    pub root: uuid::Uuid,
}

/// Checks a CommandRequest in the real coordinator's order.
pub fn command_request(request: &CommandRequest) -> Result<ValidCommand<'_>, Status> {
    let book = request.command.as_ref().ok_or_else(|| {
        coded(
            coded::MISSING_COMMAND_BOOK,
            "CommandRequest must have a command",
        )
    })?;
    command_book(book)
}

/// Checks a CommandBook: cover, root, domain, correlation id, pages, payload sizes.
pub fn command_book(book: &CommandBook) -> Result<ValidCommand<'_>, Status> {
    let cover = book
        .cover
        .as_ref()
        .ok_or_else(|| coded(coded::MISSING_COVER, "CommandBook must have a cover"))?;
    let root = root(cover)?;
    domain(&cover.domain)?;
    correlation_id(&cover.correlation_id)?;
    edition(cover)?;
    if book.pages.len() > MAX_COMMAND_PAGES {
        return Err(coded(
            coded::TOO_MANY_PAGES,
            format!(
                "command book exceeds maximum pages (max: {MAX_COMMAND_PAGES}, got: {})",
                book.pages.len()
            ),
        ));
    }
    for (index, page) in book.pages.iter().enumerate() {
        if let Some(command) = page.command() {
            if command.value.len() > MAX_PAYLOAD_BYTES {
                return Err(coded(coded::PAYLOAD_TOO_LARGE, format!(
                    "page payload exceeds maximum size at page {index} (max: {MAX_PAYLOAD_BYTES} bytes, got: {} bytes)",
                    command.value.len()
                )));
            }
        }
    }
    if book.pages.is_empty() {
        return Err(coded(
            coded::MISSING_COMMAND_PAGE,
            "command book has no pages",
        ));
    }
    Ok(ValidCommand { book, cover, root })
}

/// The cover's root: present and 16 bytes.
pub fn root(cover: &Cover) -> Result<uuid::Uuid, Status> {
    let root = cover
        .root
        .as_ref()
        .ok_or_else(|| coded(coded::INVALID_ROOT, "Cover must have a root UUID"))?;
    uuid::Uuid::from_slice(&root.value).map_err(|_| {
        coded(
            coded::INVALID_ROOT,
            format!(
                "Invalid UUID: invalid length: expected 16 bytes, found {}",
                root.value.len()
            ),
        )
    })
}

/// Angzarr's domain rule: `[a-z_][a-z0-9_-]*`, at most 64 characters.
pub fn domain(domain: &str) -> Result<(), Status> {
    let Some(first) = domain.chars().next() else {
        return Err(coded(coded::INVALID_DOMAIN, "domain name cannot be empty"));
    };
    let length = domain.chars().count();
    if length > MAX_DOMAIN_LEN {
        return Err(coded(
            coded::INVALID_DOMAIN,
            format!("domain name exceeds maximum length (max: {MAX_DOMAIN_LEN}, got: {length})"),
        ));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(coded(
            coded::INVALID_DOMAIN,
            "domain name must start with lowercase letter",
        ));
    }
    if !domain
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(coded(
            coded::INVALID_DOMAIN,
            "domain name contains invalid characters (allowed: a-z, 0-9, _, -)",
        ));
    }
    Ok(())
}

/// Edition names follow the domain rule (`[a-z_][a-z0-9_-]*`, at most 64
/// characters); an empty name means the main timeline. Divergences must
/// name valid domains.
pub fn edition(cover: &Cover) -> Result<(), Status> {
    let Some(edition) = &cover.edition else {
        return Ok(());
    };
    let name = edition.name.as_str();
    if name.is_empty() {
        return Ok(());
    }
    let length = name.chars().count();
    if length > MAX_EDITION_LEN {
        return Err(coded(
            coded::INVALID_EDITION,
            format!("edition name exceeds maximum length (max: {MAX_EDITION_LEN}, got: {length})"),
        ));
    }
    let first = name.chars().next().unwrap_or('_');
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(coded(
            coded::INVALID_EDITION,
            "edition name must start with lowercase letter",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(coded(
            coded::INVALID_EDITION,
            "edition name contains invalid characters (allowed: a-z, 0-9, _, -)",
        ));
    }
    for divergence in &edition.divergences {
        domain(&divergence.domain).map_err(|status| {
            coded(
                coded::INVALID_EDITION,
                format!("edition divergence: {}", status.message()),
            )
        })?;
    }
    Ok(())
}

/// Correlation ids: `[A-Za-z0-9_-]`, at most 128 characters (empty is allowed).
pub fn correlation_id(correlation_id: &str) -> Result<(), Status> {
    let length = correlation_id.chars().count();
    if length > MAX_CORRELATION_ID_LEN {
        return Err(coded(
            coded::INVALID_CORRELATION_ID,
            format!(
            "correlation_id exceeds maximum length (max: {MAX_CORRELATION_ID_LEN}, got: {length})"
        ),
        ));
    }
    if !correlation_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(coded(
            coded::INVALID_CORRELATION_ID,
            "correlation_id contains invalid characters (allowed: a-zA-Z0-9_-)",
        ));
    }
    Ok(())
}

/// INVALID_ARGUMENT for a request angzarr-local cannot take as it is,
/// coded [`INVALID_REQUEST`](coded::INVALID_REQUEST).
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    coded(coded::INVALID_REQUEST, message)
}

/// INVALID_ARGUMENT with the framework's `code` for what is wrong.
pub(crate) fn coded(code: &str, message: impl Into<String>) -> Status {
    coded::with_error_code(Status::invalid_argument(message), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_messages_match_the_coordinator() {
        let message = |d: &str| domain(d).unwrap_err().message().to_owned();
        assert_eq!(message(""), "domain name cannot be empty");
        assert_eq!(
            message("Player"),
            "domain name must start with lowercase letter"
        );
        assert_eq!(
            message("1player"),
            "domain name must start with lowercase letter"
        );
        assert_eq!(
            message("pla yer"),
            "domain name contains invalid characters (allowed: a-z, 0-9, _, -)"
        );
        assert_eq!(
            message(&"p".repeat(65)),
            "domain name exceeds maximum length (max: 64, got: 65)"
        );
        assert!(domain("_player-2").is_ok());
    }

    #[test]
    fn edition_names_follow_the_domain_rule() {
        let message = |name: &str| {
            edition(&Cover::new("player", uuid::Uuid::nil()).with_edition(name))
                .unwrap_err()
                .message()
                .to_owned()
        };
        assert_eq!(
            message("What If"),
            "edition name must start with lowercase letter"
        );
        assert_eq!(
            message("what if"),
            "edition name contains invalid characters (allowed: a-z, 0-9, _, -)"
        );
        assert_eq!(
            message(&"e".repeat(65)),
            "edition name exceeds maximum length (max: 64, got: 65)"
        );
        assert!(edition(&Cover::new("player", uuid::Uuid::nil()).with_edition("what-if")).is_ok());
        assert!(edition(&Cover::new("player", uuid::Uuid::nil())).is_ok());
    }

    #[test]
    fn correlation_messages_match_the_coordinator() {
        assert_eq!(
            correlation_id("a b").unwrap_err().message(),
            "correlation_id contains invalid characters (allowed: a-zA-Z0-9_-)"
        );
        assert_eq!(
            correlation_id(&"c".repeat(129)).unwrap_err().message(),
            "correlation_id exceeds maximum length (max: 128, got: 129)"
        );
        assert!(correlation_id("").is_ok());
    }
}
