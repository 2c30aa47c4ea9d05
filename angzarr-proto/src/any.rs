use prost::Name;

use prost_types::Any;

use crate::type_url;

/// Packing and unpacking [`Any`] by message type, with the project's one
/// type URL matching rule (see [`type_url`]).
///
/// ```
/// use angzarr_proto::{Any, AnyExt, Cover, NoOp};
///
/// let packed = Any::pack(&NoOp { reason: "placeholder".into(), ..Default::default() });
/// assert_eq!(packed.type_url, "type.googleapis.com/angzarr.NoOp");
/// assert!(packed.is::<NoOp>());
/// assert_eq!(packed.unpack::<NoOp>().unwrap().reason, "placeholder");
///
/// let err = packed.unpack::<Cover>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "expected a packed `angzarr.Cover`, found type URL `type.googleapis.com/angzarr.NoOp`"
/// );
/// ```
pub trait AnyExt: sealed::Sealed {
    /// Encodes `message` with the type URL `type.googleapis.com/<full name>`
    /// (whatever [`Name::type_url`] says, so hand-written `Name` impls pack
    /// the same way as generated ones).
    fn pack<M: Name>(message: &M) -> Self;

    /// Decodes the payload as `M`, if the type URL names `M`.
    fn unpack<M: Name + Default>(&self) -> Result<M, UnpackError>;

    /// Decodes the payload as `M` when the type URL names `M`: `Ok(None)`
    /// for another type, an error only for bytes that do not decode. What
    /// code reading a stream of mixed events wants.
    ///
    /// ```
    /// use angzarr_proto::{Any, AnyExt, Cover, NoOp};
    ///
    /// let packed = Any::pack(&NoOp::default());
    /// assert_eq!(packed.unpack_if::<NoOp>().unwrap(), Some(NoOp::default()));
    /// assert_eq!(packed.unpack_if::<Cover>().unwrap(), None);
    /// let corrupt = Any { value: vec![0xff], ..packed };
    /// assert!(corrupt.unpack_if::<NoOp>().is_err());
    /// ```
    fn unpack_if<M: Name + Default>(&self) -> Result<Option<M>, UnpackError>;

    /// Whether the type URL names `M`.
    fn is<M: Name>(&self) -> bool;

    /// The full message name the type URL refers to (what follows its last `/`).
    fn type_name(&self) -> &str;
}

impl AnyExt for Any {
    fn pack<M: Name>(message: &M) -> Self {
        Any {
            type_url: type_url::of::<M>(),
            value: message.encode_to_vec(),
        }
    }

    fn unpack<M: Name + Default>(&self) -> Result<M, UnpackError> {
        if !self.is::<M>() {
            return Err(UnpackError::TypeMismatch {
                expected: M::full_name(),
                found: self.type_url.clone(),
            });
        }
        M::decode(self.value.as_slice()).map_err(|source| UnpackError::Decode {
            type_name: M::full_name(),
            source,
        })
    }

    fn unpack_if<M: Name + Default>(&self) -> Result<Option<M>, UnpackError> {
        if self.is::<M>() {
            self.unpack().map(Some)
        } else {
            Ok(None)
        }
    }

    fn is<M: Name>(&self) -> bool {
        type_url::matches::<M>(&self.type_url)
    }

    fn type_name(&self) -> &str {
        type_url::type_name(&self.type_url)
    }
}

/// Why an [`Any`] could not be unpacked as the requested message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnpackError {
    /// The type URL names another message.
    #[error("expected a packed `{expected}`, found type URL `{found}`")]
    TypeMismatch {
        /// Full name of the requested message.
        expected: String,
        /// The type URL that was found.
        found: String,
    },
    /// The type URL matched, but the bytes are not a valid encoding of it.
    #[error("payload of type `{type_name}` does not decode: {source}")]
    Decode {
        /// Full name of the requested message.
        type_name: String,
        /// What the decoder reported.
        #[source]
        source: prost::DecodeError,
    },
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for prost_types::Any {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cover, NoOp};

    #[test]
    fn round_trips_with_either_prefix() {
        let noop = NoOp {
            original_sequence: 7,
            ..Default::default()
        };
        let mut packed = Any::pack(&noop);
        assert_eq!(packed.unpack::<NoOp>(), Ok(noop.clone()));
        packed.type_url = "type.angzarr.io/angzarr.NoOp".into();
        assert_eq!(packed.unpack::<NoOp>(), Ok(noop));
        assert_eq!(packed.type_name(), "angzarr.NoOp");
    }

    #[test]
    fn wrong_type_url_is_a_type_mismatch() {
        let packed = Any::pack(&NoOp::default());
        assert_eq!(
            packed.unpack::<Cover>(),
            Err(UnpackError::TypeMismatch {
                expected: "angzarr.Cover".into(),
                found: "type.googleapis.com/angzarr.NoOp".into(),
            })
        );
        assert!(!packed.is::<Cover>());
    }

    #[test]
    fn corrupt_bytes_are_a_decode_error_naming_the_type() {
        let packed = Any {
            type_url: "type.googleapis.com/angzarr.NoOp".into(),
            // Field 1 as a varint whose continuation never ends.
            value: vec![0x08, 0xff, 0xff],
        };
        let err = packed.unpack::<NoOp>().unwrap_err();
        assert!(
            matches!(&err, UnpackError::Decode { type_name, .. } if type_name == "angzarr.NoOp")
        );
        assert!(err
            .to_string()
            .starts_with("payload of type `angzarr.NoOp` does not decode"));
    }
}
