//! Aggregate identities: the wire [`Uuid`] and [`uuid::Uuid`].
//!
//! On the wire a root is a `UUID` message holding exactly 16 bytes. Converting
//! from `uuid::Uuid` cannot fail; converting back rejects any other length with
//! an error naming the length found.
//!
//! ```
//! use angzarr_proto::Uuid;
//!
//! let id = uuid::Uuid::from_u128(0x1234);
//! let wire = Uuid::from(id);
//! assert_eq!(wire.value.len(), 16);
//! assert_eq!(wire.to_uuid(), Ok(id));
//!
//! let short = Uuid { value: vec![1, 2, 3, 4, 5] };
//! assert_eq!(
//!     short.to_uuid().unwrap_err().to_string(),
//!     "invalid UUID: expected 16 bytes, found 5"
//! );
//! ```

use std::fmt;

use crate::Uuid;

/// Why bytes are not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUuid {
    /// A root was required but none was set.
    #[error("missing UUID: the cover has no root")]
    Missing,
    /// The wire value does not hold exactly 16 bytes.
    #[error("invalid UUID: expected 16 bytes, found {found}")]
    Length {
        /// How many bytes there were.
        found: usize,
    },
}

impl Uuid {
    /// A fresh random (version 4) UUID.
    pub fn new_v4() -> Self {
        uuid::Uuid::new_v4().into()
    }

    /// The UUID these bytes hold, if there are exactly 16 of them.
    pub fn to_uuid(&self) -> Result<uuid::Uuid, InvalidUuid> {
        uuid::Uuid::from_slice(&self.value).map_err(|_| InvalidUuid::Length {
            found: self.value.len(),
        })
    }

    /// The bytes as lowercase hex, whatever their length (for logs and keys).
    pub fn to_hex(&self) -> String {
        hex(&self.value)
    }
}

impl From<uuid::Uuid> for Uuid {
    fn from(id: uuid::Uuid) -> Self {
        Uuid {
            value: id.as_bytes().to_vec(),
        }
    }
}

impl TryFrom<&Uuid> for uuid::Uuid {
    type Error = InvalidUuid;

    fn try_from(wire: &Uuid) -> Result<Self, Self::Error> {
        wire.to_uuid()
    }
}

impl TryFrom<Uuid> for uuid::Uuid {
    type Error = InvalidUuid;

    fn try_from(wire: Uuid) -> Result<Self, Self::Error> {
        wire.to_uuid()
    }
}

/// Hyphenated form for 16 bytes (`67e55044-10b1-426f-9247-bb680e5fe0c8`), hex otherwise.
impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_uuid() {
            Ok(id) => fmt::Display::fmt(&id.hyphenated(), f),
            Err(_) => f.write_str(&self.to_hex()),
        }
    }
}

/// Lowercase hex of arbitrary bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(uuid::Uuid::try_from(Uuid::from(id)), Ok(id));
        assert_eq!(Uuid::new_v4().value.len(), 16);
    }

    #[test]
    fn rejects_every_length_but_16() {
        for len in [0, 1, 5, 15, 17, 32] {
            let wire = Uuid {
                value: vec![0; len],
            };
            assert_eq!(wire.to_uuid(), Err(InvalidUuid::Length { found: len }));
            assert_eq!(
                uuid::Uuid::try_from(&wire).unwrap_err().to_string(),
                format!("invalid UUID: expected 16 bytes, found {len}")
            );
        }
    }

    #[test]
    fn displays_hyphenated_or_hex() {
        let id = uuid::Uuid::from_u128(0x67e55044_10b1_426f_9247_bb680e5fe0c8);
        assert_eq!(
            Uuid::from(id).to_string(),
            "67e55044-10b1-426f-9247-bb680e5fe0c8"
        );
        assert_eq!(
            Uuid {
                value: vec![0xab, 0x01]
            }
            .to_string(),
            "ab01"
        );
        assert_eq!(hex(&[]), "");
    }
}
