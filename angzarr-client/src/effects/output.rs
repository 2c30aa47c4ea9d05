//! What saga and process-manager handlers may return, and how each shape
//! lands in [`Effects`].
//!
//! Three layers, as for aggregates' events: one item ([`Reaction`]), a
//! collection of items ([`Reactions`]), and what a handler returns
//! ([`HandlerReactions`]: either of those, or a `Result` of them). The kind
//! parameter keeps process events out of sagas: a saga returning a bare
//! event does not compile.

use prost::Name;

use super::{Command, Effects, Fact};
use crate::{Event, IntoEvent, Rejection};

/// Markers for the kind a [`Reaction`] is returned from.
pub mod kind {
    /// Returned by a saga handler.
    #[derive(Debug)]
    pub enum Saga {}
    /// Returned by a process-manager handler.
    #[derive(Debug)]
    pub enum ProcessManager {}
}

/// One thing a handler of kind `K` asks for: a [`Command`], a [`Fact`], a
/// [`SagaOutput`] or [`PmOutput`], or (process managers only) an event of the
/// process manager's own history.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from this handler",
    label = "not a command, a fact or an output of this kind",
    note = "a saga returns `Command`s and `Fact`s (or a `SagaOutput`); a process manager may also return its own events (prost messages) or a `PmOutput`"
)]
pub trait Reaction<K> {
    /// Adds itself to `effects`.
    fn react(self, effects: &mut Effects);
}

/// Zero or more [`Reaction`]s, in order: a `Vec`, an `Option`, an array, a
/// tuple of up to eight, or `()` for nothing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from this handler",
    note = "return one command or fact, a tuple, `Vec`, `Option` or array of them, `()`, or a `Result` of these with a `Rejection`"
)]
pub trait Reactions<K> {
    /// Adds each item to `effects`, in order.
    fn react_all(self, effects: &mut Effects);
}

/// What a saga or process-manager handler may return: one [`Reaction`],
/// several ([`Reactions`]), or a `Result` of either whose error converts into
/// a [`Rejection`].
///
/// `Shape` only tells the implementations apart; it is always inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from this handler",
    label = "this type cannot become commands or facts",
    note = "return a `Command`, a `Fact`, a tuple, `Vec` or `Option` of them, a `SagaOutput` / `PmOutput`, or a `Result` of these with a `Rejection` error"
)]
pub trait HandlerReactions<K, Shape> {
    /// Adds what was asked for to `effects`, or returns the rejection.
    fn into_effects(self, effects: &mut Effects) -> Result<(), Rejection>;
}

impl<K, C: Name> Reaction<K> for Command<C> {
    fn react(self, effects: &mut Effects) {
        effects.commands.push(self.pack());
    }
}

impl<K, E: Name> Reaction<K> for Fact<E> {
    fn react(self, effects: &mut Effects) {
        effects.facts.push(self.pack());
    }
}

/// `()` is prost's `google.protobuf.Empty`: as a process event it records
/// nothing, so `()` means "nothing" for process managers as for sagas.
impl<M: Name + 'static> Reaction<kind::ProcessManager> for M {
    fn react(self, effects: &mut Effects) {
        if !super::is_empty_message::<M>() {
            effects.events.push(self.into_event());
        }
    }
}

impl Reaction<kind::ProcessManager> for Event {
    fn react(self, effects: &mut Effects) {
        effects.events.push(self.into_event());
    }
}

impl<K, T: Reaction<K>> Reactions<K> for Vec<T> {
    fn react_all(self, effects: &mut Effects) {
        for item in self {
            item.react(effects);
        }
    }
}

impl<K, T: Reaction<K>> Reactions<K> for Option<T> {
    fn react_all(self, effects: &mut Effects) {
        if let Some(item) = self {
            item.react(effects);
        }
    }
}

impl<K, T: Reaction<K>, const N: usize> Reactions<K> for [T; N] {
    fn react_all(self, effects: &mut Effects) {
        for item in self {
            item.react(effects);
        }
    }
}

impl Reactions<kind::Saga> for () {
    fn react_all(self, _: &mut Effects) {}
}

macro_rules! tuple_reactions {
    ($($name:ident)+) => {
        impl<K, $($name: Reaction<K>),+> Reactions<K> for ($($name,)+) {
            #[allow(non_snake_case)]
            fn react_all(self, effects: &mut Effects) {
                let ($($name,)+) = self;
                $($name.react(effects);)+
            }
        }
    };
}

tuple_reactions!(A);
tuple_reactions!(A B);
tuple_reactions!(A B C);
tuple_reactions!(A B C D);
tuple_reactions!(A B C D E);
tuple_reactions!(A B C D E F);
tuple_reactions!(A B C D E F G);
tuple_reactions!(A B C D E F G H);

/// Shapes of [`HandlerReactions`]; never named by users.
#[doc(hidden)]
pub mod shape {
    /// One reaction.
    pub enum Single {}
    /// Several reactions.
    pub enum Many {}
    /// An `Option` of several reactions (`Option<(Event, Command<C>)>`).
    pub enum Optional {}
    /// A `Result` of one of the other shapes.
    pub struct Fallible<S>(std::marker::PhantomData<S>);
}

impl<K, T: Reaction<K>> HandlerReactions<K, shape::Single> for T {
    fn into_effects(self, effects: &mut Effects) -> Result<(), Rejection> {
        self.react(effects);
        Ok(())
    }
}

impl<K, T: Reactions<K>> HandlerReactions<K, shape::Many> for T {
    fn into_effects(self, effects: &mut Effects) -> Result<(), Rejection> {
        self.react_all(effects);
        Ok(())
    }
}

impl<K, T: Reactions<K>> HandlerReactions<K, shape::Optional> for Option<T> {
    fn into_effects(self, effects: &mut Effects) -> Result<(), Rejection> {
        if let Some(all) = self {
            all.react_all(effects);
        }
        Ok(())
    }
}

impl<K, T, R, S> HandlerReactions<K, shape::Fallible<S>> for Result<T, R>
where
    T: HandlerReactions<K, S>,
    R: Into<Rejection>,
{
    fn into_effects(self, effects: &mut Effects) -> Result<(), Rejection> {
        self.map_err(Into::into)?.into_effects(effects)
    }
}

/// Commands and facts of different types from one saga handler.
///
/// ```
/// use angzarr_client::{Command, Fact, SagaOutput};
/// use angzarr_client::proto::{Cover, NoOp};
///
/// let root = uuid::Uuid::from_u128(1);
/// let output = SagaOutput::new()
///     .command(Command::new(root, NoOp::default()))
///     .command(Command::new(root, Cover::default()))
///     .fact(Fact::new(root, NoOp::default()));
/// assert_eq!(output.effects().commands.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SagaOutput {
    effects: Effects,
}

impl SagaOutput {
    /// Nothing yet.
    pub fn new() -> Self {
        SagaOutput::default()
    }

    /// Adds a command.
    pub fn command<C: Name>(mut self, command: Command<C>) -> Self {
        self.effects.commands.push(command.pack());
        self
    }

    /// Adds a fact.
    pub fn fact<E: Name>(mut self, fact: Fact<E>) -> Self {
        self.effects.facts.push(fact.pack());
        self
    }

    /// What was added so far.
    pub fn effects(&self) -> &Effects {
        &self.effects
    }
}

impl Reaction<kind::Saga> for SagaOutput {
    fn react(self, effects: &mut Effects) {
        effects.extend(self.effects);
    }
}

/// Events of the process manager's own history, commands and facts from one
/// process-manager handler.
///
/// ```
/// use angzarr_client::{Command, PmOutput};
/// use angzarr_client::proto::NoOp;
///
/// let output = PmOutput::new()
///     .event(NoOp::default())
///     .command(Command::to("table", uuid::Uuid::from_u128(9), NoOp::default()));
/// assert_eq!(output.effects().events.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PmOutput {
    effects: Effects,
}

impl PmOutput {
    /// Nothing yet.
    pub fn new() -> Self {
        PmOutput::default()
    }

    /// Adds an event to the process manager's own history.
    pub fn event(mut self, event: impl IntoEvent) -> Self {
        self.effects.events.push(event.into_event());
        self
    }

    /// Adds a command.
    pub fn command<C: Name>(mut self, command: Command<C>) -> Self {
        self.effects.commands.push(command.pack());
        self
    }

    /// Adds a fact.
    pub fn fact<E: Name>(mut self, fact: Fact<E>) -> Self {
        self.effects.facts.push(fact.pack());
        self
    }

    /// What was added so far.
    pub fn effects(&self) -> &Effects {
        &self.effects
    }
}

impl Reaction<kind::ProcessManager> for PmOutput {
    fn react(self, effects: &mut Effects) {
        effects.extend(self.effects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Cover, NoOp};

    fn collect<K, S>(output: impl HandlerReactions<K, S>) -> Result<Effects, Rejection> {
        let mut effects = Effects::new();
        output.into_effects(&mut effects)?;
        Ok(effects)
    }

    fn root() -> uuid::Uuid {
        uuid::Uuid::from_u128(5)
    }

    #[test]
    fn every_shape_lands_in_order() {
        let one = collect::<kind::Saga, _>(Command::new(root(), NoOp::default())).unwrap();
        assert_eq!(one.commands.len(), 1);

        let several = collect::<kind::Saga, _>(vec![
            Command::new(root(), NoOp::default()),
            Command::new(root(), NoOp::default()),
        ])
        .unwrap();
        assert_eq!(several.commands.len(), 2);

        let mixed = collect::<kind::Saga, _>((
            Command::new(root(), Cover::default()),
            Fact::new(root(), NoOp::default()),
        ))
        .unwrap();
        assert_eq!((mixed.commands.len(), mixed.facts.len()), (1, 1));

        let optional_pair = collect::<kind::ProcessManager, _>(Some((
            NoOp::default(),
            Command::new(root(), NoOp::default()),
        )))
        .unwrap();
        assert_eq!(
            (optional_pair.events.len(), optional_pair.commands.len()),
            (1, 1)
        );

        let nothing = collect::<kind::Saga, _>(None::<Command<NoOp>>).unwrap();
        assert!(nothing.is_empty());
        assert!(collect::<kind::Saga, _>(()).unwrap().is_empty());
        assert!(collect::<kind::ProcessManager, _>(()).unwrap().is_empty());

        let process = collect::<kind::ProcessManager, _>((
            NoOp::default(),
            Command::new(root(), NoOp::default()),
        ))
        .unwrap();
        assert_eq!((process.events.len(), process.commands.len()), (1, 1));
    }

    #[test]
    fn a_rejection_passes_through() {
        let refused: Result<Command<NoOp>, Rejection> = Err(Rejection::precondition("no"));
        assert_eq!(
            collect::<kind::Saga, _>(refused).unwrap_err().message(),
            "no"
        );
    }
}
