//! What handlers return: events, packed for the wire by the runtime.

use angzarr_proto::{Any, AnyExt};
use prost::Name;

use crate::{ComponentError, Rejection};

/// A type-erased event: any protobuf message, already packed.
///
/// Use it where one handler returns events of several types in a `Vec`:
///
/// ```
/// use angzarr_client::Event;
/// use angzarr_client::proto::NoOp;
///
/// let events: Vec<Event> = vec![NoOp::default().into(), Event::new(&NoOp::default())];
/// assert_eq!(events[0].type_name(), "angzarr.NoOp");
/// ```
#[derive(Clone, PartialEq)]
pub struct Event {
    packed: Any,
}

impl Event {
    /// Packs `message` with its type URL.
    pub fn new<M: Name>(message: &M) -> Self {
        Event {
            packed: Any::pack(message),
        }
    }

    /// Wraps an already packed message as it is. (`Event::from(any)` would
    /// pack the `Any` itself, as a `google.protobuf.Any` event.)
    pub fn from_any(packed: Any) -> Self {
        Event { packed }
    }

    /// The full name of the message inside (e.g. `examples.PlayerRegistered`).
    pub fn type_name(&self) -> &str {
        self.packed.type_name()
    }

    /// The packed message.
    pub fn as_any(&self) -> &Any {
        &self.packed
    }

    /// The packed message, by value.
    pub fn into_any(self) -> Any {
        self.packed
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("type_url", &self.packed.type_url)
            .field("bytes", &self.packed.value.len())
            .finish()
    }
}

impl<M: Name> From<M> for Event {
    fn from(message: M) -> Self {
        Event::new(&message)
    }
}

/// One value that becomes one event: a protobuf message with a name, or an [`Event`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot become an event",
    label = "not a protobuf message with a name",
    note = "events are prost messages implementing `prost::Name` (prost-build's `enable_type_names()` generates it), or `angzarr_client::Event`"
)]
pub trait IntoEvent {
    /// Packs the value.
    fn into_event(self) -> Any;

    /// Packs the value and hands it to `sink` with the typed value when
    /// there is one (so that the runtime can apply it without decoding it
    /// again).
    #[doc(hidden)]
    fn into_event_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError>
    where
        Self: Sized,
    {
        sink(None, self.into_event())
    }
}

/// Where produced events go, typed (when known) and packed.
#[doc(hidden)]
pub type Sink<'s> = dyn FnMut(Option<&dyn std::any::Any>, Any) -> Result<(), ComponentError> + 's;

impl<M: Name + 'static> IntoEvent for M {
    fn into_event(self) -> Any {
        Any::pack(&self)
    }

    fn into_event_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        let packed = Any::pack(&self);
        sink(Some(&self), packed)
    }
}

impl IntoEvent for Event {
    fn into_event(self) -> Any {
        self.packed
    }
}

/// A value that becomes zero or more events, in order: a `Vec` or `Option`
/// of events, a tuple of up to eight events, or [`One`] event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot become a list of events",
    note = "return one event, a tuple of events, a `Vec` or `Option` of events, or a `Result` of these with a `Rejection`"
)]
pub trait IntoEvents {
    /// Appends the events to `out`.
    fn into_events(self, out: &mut Vec<Any>);

    /// Hands each event to `sink`, typed where known, in order.
    #[doc(hidden)]
    fn into_events_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError>
    where
        Self: Sized,
    {
        let mut out = Vec::new();
        self.into_events(&mut out);
        out.into_iter().try_for_each(|event| sink(None, event))
    }
}

/// Exactly one event.
#[derive(Debug, Clone, PartialEq)]
pub struct One<E>(pub E);

impl<E: IntoEvent> IntoEvents for One<E> {
    fn into_events(self, out: &mut Vec<Any>) {
        out.push(self.0.into_event());
    }

    fn into_events_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.0.into_event_with(sink)
    }
}

impl<E: IntoEvent> IntoEvents for Vec<E> {
    fn into_events(self, out: &mut Vec<Any>) {
        out.extend(self.into_iter().map(IntoEvent::into_event));
    }

    fn into_events_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.into_iter()
            .try_for_each(|event| event.into_event_with(sink))
    }
}

impl<E: IntoEvent> IntoEvents for Option<E> {
    fn into_events(self, out: &mut Vec<Any>) {
        out.extend(self.map(IntoEvent::into_event));
    }

    fn into_events_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.map_or(Ok(()), |event| event.into_event_with(sink))
    }
}

macro_rules! tuple_into_events {
    ($($name:ident)+) => {
        impl<$($name: IntoEvent),+> IntoEvents for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_events(self, out: &mut Vec<Any>) {
                let ($($name,)+) = self;
                $(out.push($name.into_event());)+
            }

            #[allow(non_snake_case)]
            fn into_events_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
                let ($($name,)+) = self;
                $($name.into_event_with(sink)?;)+
                Ok(())
            }
        }
    };
}

tuple_into_events!(A);
tuple_into_events!(A B);
tuple_into_events!(A B C);
tuple_into_events!(A B C D);
tuple_into_events!(A B C D E);
tuple_into_events!(A B C D E F);
tuple_into_events!(A B C D E F G);
tuple_into_events!(A B C D E F G H);

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Cover, NoOp};

    fn collect(events: impl IntoEvents) -> Vec<String> {
        let mut out = Vec::new();
        events.into_events(&mut out);
        out.into_iter().map(|any| any.type_url).collect()
    }

    #[test]
    fn shapes_become_ordered_events() {
        assert_eq!(
            collect(One(NoOp::default())),
            ["type.googleapis.com/angzarr.NoOp"]
        );
        assert_eq!(
            collect((Cover::default(), NoOp::default())),
            [
                "type.googleapis.com/angzarr.Cover",
                "type.googleapis.com/angzarr.NoOp"
            ]
        );
        assert_eq!(collect(None::<NoOp>).len(), 0);
        let mixed: Vec<Event> = vec![Cover::default().into(), NoOp::default().into()];
        assert_eq!(collect(mixed).len(), 2);
    }
}

/// What a command handler may return: one event, several (see
/// [`IntoEvents`]), or a `Result` of either whose error converts into a
/// [`Rejection`].
///
/// The `Shape` parameter only tells the implementations apart; it is always
/// inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a command handler",
    label = "this type cannot become events",
    note = "return one event (a prost message implementing `prost::Name`), a tuple, `Vec` or `Option` of events, or a `Result` of these with a `Rejection` error"
)]
pub trait HandlerOutput<Shape> {
    /// The events, packed in order, or the rejection.
    fn into_output(self) -> Result<Vec<Any>, Rejection>;

    /// Hands each event to `sink`, typed where known, in order; or the
    /// rejection.
    #[doc(hidden)]
    fn into_output_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError>
    where
        Self: Sized,
    {
        self.into_output()?
            .into_iter()
            .try_for_each(|event| sink(None, event))
    }
}

/// Shapes of [`HandlerOutput`]; never named by users.
#[doc(hidden)]
pub mod shape {
    /// One event.
    pub enum Single {}
    /// Several events.
    pub enum Many {}
    /// A `Result` of one of the other shapes.
    pub struct Fallible<S>(std::marker::PhantomData<S>);
}

impl<E: IntoEvent> HandlerOutput<shape::Single> for E {
    fn into_output(self) -> Result<Vec<Any>, Rejection> {
        Ok(vec![self.into_event()])
    }

    fn into_output_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.into_event_with(sink)
    }
}

impl<T: IntoEvents> HandlerOutput<shape::Many> for T {
    fn into_output(self) -> Result<Vec<Any>, Rejection> {
        let mut out = Vec::new();
        self.into_events(&mut out);
        Ok(out)
    }

    fn into_output_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.into_events_with(sink)
    }
}

impl<T, R, S> HandlerOutput<shape::Fallible<S>> for Result<T, R>
where
    T: HandlerOutput<S>,
    R: Into<Rejection>,
{
    fn into_output(self) -> Result<Vec<Any>, Rejection> {
        self.map_err(Into::into)?.into_output()
    }

    fn into_output_with(self, sink: &mut Sink<'_>) -> Result<(), ComponentError> {
        self.map_err(|rejection| ComponentError::from(rejection.into()))?
            .into_output_with(sink)
    }
}
