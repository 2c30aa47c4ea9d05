//! What a `#[prepares]` handler returns: the aggregates whose next sequences
//! handling the trigger needs.

use angzarr_proto::Cover;

use crate::Rejection;

/// The destinations a `#[prepares]` handler names: one [`Cover`]
/// (`Cover::new(domain, root)`), an `Option`, a `Vec` or an array of them,
/// or a `Result` of these with a [`Rejection`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the destinations of a trigger",
    label = "not a list of covers",
    note = "return `Cover::new(domain, root)`, or an `Option`, `Vec` or array of covers, or a `Result` of these with a `Rejection`"
)]
pub trait IntoDestinations {
    /// The covers, in order, or the rejection.
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection>;
}

impl IntoDestinations for Cover {
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection> {
        Ok(vec![self])
    }
}

impl IntoDestinations for Vec<Cover> {
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection> {
        Ok(self)
    }
}

impl IntoDestinations for Option<Cover> {
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection> {
        Ok(self.into_iter().collect())
    }
}

impl<const N: usize> IntoDestinations for [Cover; N] {
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection> {
        Ok(self.into())
    }
}

impl<T: IntoDestinations, R: Into<Rejection>> IntoDestinations for Result<T, R> {
    fn into_destinations(self) -> Result<Vec<Cover>, Rejection> {
        self.map_err(Into::into)?.into_destinations()
    }
}
