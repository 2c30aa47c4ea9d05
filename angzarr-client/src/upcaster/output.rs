//! What an `#[upcasts]` rule returns.

use angzarr_proto::Any;

use crate::{IntoEvent, Rejection};

/// What an upcasting rule may return: the upgraded event (a prost message
/// or an [`Event`](crate::Event)), or a `Result` of it whose error converts
/// into a [`Rejection`].
///
/// `Shape` only tells the implementations apart; it is always inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an upcasting rule",
    label = "not an event",
    note = "an `#[upcasts]` rule returns the upgraded event (a prost message implementing `prost::Name`), or a `Result` of it with a `Rejection`"
)]
pub trait UpcastOutput<Shape> {
    /// The upgraded event, packed, or the rejection.
    fn into_upcast(self) -> Result<Any, Rejection>;
}

/// Shapes of [`UpcastOutput`]; never named by users.
#[doc(hidden)]
pub mod shape {
    /// The event itself.
    pub enum Event {}
    /// A `Result` of the event.
    pub struct Fallible<S>(std::marker::PhantomData<S>);
}

impl<E: IntoEvent> UpcastOutput<shape::Event> for E {
    fn into_upcast(self) -> Result<Any, Rejection> {
        Ok(self.into_event())
    }
}

impl<T, R, S> UpcastOutput<shape::Fallible<S>> for Result<T, R>
where
    T: UpcastOutput<S>,
    R: Into<Rejection>,
{
    fn into_upcast(self) -> Result<Any, Rejection> {
        self.map_err(Into::into)?.into_upcast()
    }
}
