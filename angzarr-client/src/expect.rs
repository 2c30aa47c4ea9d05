//! Assertions shared by the fixtures of sagas and process managers: what was
//! sent to whom. Failures render every command or fact, so a wrong answer
//! reads as a diff.

use std::fmt::Write as _;

use angzarr_proto::{AnyExt, CommandBook, Cover, EventBook};
use prost::Name;

/// Expects exactly one command, of type `C`, and hands its cover and message to `check`.
#[track_caller]
pub(crate) fn one_command<C: Name + Default>(
    commands: &[CommandBook],
    check: impl FnOnce(&Cover, &C),
) {
    match commands {
        [book] => {
            let cover = book.cover.clone().unwrap_or_default();
            let command = book.first_page().and_then(|page| page.command());
            match command.map(|command| command.unpack::<C>()) {
                Some(Ok(message)) => check(&cover, &message),
                Some(Err(error)) => panic!("expected one `{}` command: {error}", C::full_name()),
                None => panic!(
                    "expected one `{}` command, the page holds none",
                    C::full_name()
                ),
            }
        }
        _ => panic!(
            "expected exactly one `{}` command, got {}:\n{}",
            C::full_name(),
            commands.len(),
            describe_commands(commands)
        ),
    }
}

/// Expects exactly `count` commands.
#[track_caller]
pub(crate) fn command_count(commands: &[CommandBook], count: usize) {
    if commands.len() != count {
        panic!(
            "expected {count} command(s), got {}:\n{}",
            commands.len(),
            describe_commands(commands)
        );
    }
}

/// Expects exactly one fact, of type `E`, and hands its cover and event to `check`.
#[track_caller]
pub(crate) fn one_fact<E: Name + Default>(facts: &[EventBook], check: impl FnOnce(&Cover, &E)) {
    match facts {
        [book] => {
            let cover = book.cover.clone().unwrap_or_default();
            match book.pages.first().map(|page| page.event_as::<E>()) {
                Some(Ok(event)) => check(&cover, &event),
                Some(Err(error)) => panic!("expected one `{}` fact: {error}", E::full_name()),
                None => panic!("expected one `{}` fact, the book is empty", E::full_name()),
            }
        }
        _ => panic!(
            "expected exactly one `{}` fact, got {}:\n{}",
            E::full_name(),
            facts.len(),
            describe_facts(facts)
        ),
    }
}

/// One line per command: where it goes and what it is.
pub(crate) fn describe_commands(commands: &[CommandBook]) -> String {
    let mut out = String::new();
    for (index, book) in commands.iter().enumerate() {
        let command = book
            .first_page()
            .and_then(|page| page.command())
            .map_or("(no payload)", |command| command.type_name());
        let _ = writeln!(
            out,
            "  {index}: {command} -> {}",
            describe_cover(book.cover.as_ref())
        );
    }
    if commands.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// One line per fact: where it goes and what it is.
pub(crate) fn describe_facts(facts: &[EventBook]) -> String {
    let mut out = String::new();
    for (index, book) in facts.iter().enumerate() {
        let event = book
            .pages
            .first()
            .and_then(|page| page.event())
            .map_or("(no payload)", |event| event.type_name());
        let _ = writeln!(
            out,
            "  {index}: {event} -> {}",
            describe_cover(book.cover.as_ref())
        );
    }
    if facts.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

fn describe_cover(cover: Option<&Cover>) -> String {
    match cover {
        Some(cover) => format!(
            "{}/{}",
            cover.domain,
            cover
                .root
                .as_ref()
                .map_or_else(|| "(no root)".to_owned(), |root| root.to_hex())
        ),
        None => "(no cover)".to_owned(),
    }
}

/// Expects a rejection with exactly this message.
#[track_caller]
pub(crate) fn rejected<T>(
    result: &Result<T, crate::ComponentError>,
    message: &str,
    describe: impl FnOnce(&T) -> String,
) {
    match result {
        Err(error) => match error.rejection() {
            Some(rejection) if rejection.message() == message => {}
            Some(rejection) => panic!(
                "expected the rejection {message:?}, got the {:?} rejection {:?}",
                rejection.kind(),
                rejection.message()
            ),
            None => panic!(
                "expected the rejection {message:?}, got the {:?} error: {error}",
                error.code()
            ),
        },
        Ok(answer) => panic!(
            "expected the rejection {message:?}, got an answer:\n{}",
            describe(answer)
        ),
    }
}

/// Expects a failure with this gRPC code, and hands it to `check`.
#[track_caller]
pub(crate) fn error<T>(
    result: &Result<T, crate::ComponentError>,
    code: tonic::Code,
    check: impl FnOnce(&crate::ComponentError),
    describe: impl FnOnce(&T) -> String,
) {
    match result {
        Err(error) if error.code() == code => check(error),
        Err(error) => panic!(
            "expected a {code:?} error, got the {:?} error: {error}",
            error.code()
        ),
        Ok(answer) => panic!(
            "expected a {code:?} error, got an answer:\n{}",
            describe(answer)
        ),
    }
}

/// The answer of an outcome that must have succeeded.
#[track_caller]
pub(crate) fn answered<T>(result: &Result<T, crate::ComponentError>) -> &T {
    match result {
        Ok(answer) => answer,
        Err(error) => panic!("expected an answer, but the call failed: {error}"),
    }
}
