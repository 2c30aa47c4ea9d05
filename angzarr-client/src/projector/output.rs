//! What projector handlers may return, and how it becomes the projection.

use angzarr_proto::{Any, AnyExt};
use prost::Name;

use super::CloudEvent;
use crate::Rejection;

/// What one or more handler calls produced for one book.
///
/// The projection of a book is the last message a handler returned; a
/// projector whose handlers return [`CloudEvent`]s answers them all,
/// together, as an `angzarr.CloudEventsResponse`. Returning both kinds for
/// one book is an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projected {
    /// The projection message, if a handler returned one.
    pub projection: Option<Any>,
    /// CloudEvents returned, in order.
    pub cloud_events: Vec<CloudEvent>,
}

impl Projected {
    /// Nothing produced.
    pub fn new() -> Self {
        Projected::default()
    }
}

/// What a projector handler may return: nothing (`()`, which is
/// `google.protobuf.Empty`), a projection message,
/// a [`CloudEvent`] or a `Vec` of them, an `Option` of these, or a `Result`
/// of these with an error that converts into a [`Rejection`].
///
/// `Shape` only tells the implementations apart; it is always inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a projector handler",
    label = "not a projection",
    note = "return `()`, a prost message implementing `prost::Name`, a `CloudEvent` or `Vec<CloudEvent>`, an `Option` of these, or a `Result` of these with a `Rejection`"
)]
pub trait ProjectorOutput<Shape> {
    /// Adds what was produced to `out`, or returns the rejection.
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection>;
}

/// Shapes of [`ProjectorOutput`]; never named by users.
#[doc(hidden)]
pub mod shape {
    /// A projection message.
    pub enum Message {}
    /// One CloudEvent.
    pub enum Cloud {}
    /// Several CloudEvents.
    pub enum Clouds {}
    /// An `Option` of another shape.
    pub struct Maybe<S>(std::marker::PhantomData<S>);
    /// A `Result` of another shape.
    pub struct Fallible<S>(std::marker::PhantomData<S>);
}

/// `()` is prost's `google.protobuf.Empty`, so "nothing" and "an empty
/// message" are one implementation: an empty message projects nothing.
impl<M: Name> ProjectorOutput<shape::Message> for M {
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection> {
        if !crate::effects::is_empty_message::<M>() {
            out.projection = Some(Any::pack(&self));
        }
        Ok(())
    }
}

impl ProjectorOutput<shape::Cloud> for CloudEvent {
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection> {
        out.cloud_events.push(self);
        Ok(())
    }
}

impl ProjectorOutput<shape::Clouds> for Vec<CloudEvent> {
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection> {
        out.cloud_events.extend(self);
        Ok(())
    }
}

impl<T: ProjectorOutput<S>, S> ProjectorOutput<shape::Maybe<S>> for Option<T> {
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection> {
        match self {
            Some(inner) => inner.into_projected(out),
            None => Ok(()),
        }
    }
}

impl<T, R, S> ProjectorOutput<shape::Fallible<S>> for Result<T, R>
where
    T: ProjectorOutput<S>,
    R: Into<Rejection>,
{
    fn into_projected(self, out: &mut Projected) -> Result<(), Rejection> {
        self.map_err(Into::into)?.into_projected(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::{Cover, NoOp};

    fn project<S>(output: impl ProjectorOutput<S>) -> Result<Projected, Rejection> {
        let mut out = Projected::new();
        output.into_projected(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_shape_lands() {
        assert_eq!(project(()).unwrap(), Projected::new());
        assert!(project(Cover::default()).unwrap().projection.is_some());
        assert!(project(None::<Cover>).unwrap().projection.is_none());
        assert_eq!(
            project(vec![CloudEvent::new(&NoOp::default()), CloudEvent::empty()])
                .unwrap()
                .cloud_events
                .len(),
            2
        );
        let refused: Result<(), Rejection> = Err(Rejection::invalid_argument("bad"));
        assert_eq!(project(refused).unwrap_err().message(), "bad");
    }
}
