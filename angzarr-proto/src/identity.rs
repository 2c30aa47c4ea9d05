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

/// The namespace of [`compute_root`]: the OID namespace of RFC 4122.
pub const ROOT_NAMESPACE: uuid::Uuid = uuid::Uuid::NAMESPACE_OID;

/// The deterministic root of the aggregate that `business_key` names in
/// `domain`: a version 5 UUID in the OID namespace over the text
/// `"angzarr" + domain + business_key`, the formula of Angzarr's other SDKs,
/// so every language, service and restart derives the same root.
///
/// ```
/// use angzarr_proto::identity::compute_root;
///
/// let alice = compute_root("player", "alice");
/// assert_eq!(alice, compute_root("player", "alice"));
/// assert_ne!(alice, compute_root("table", "alice"));
/// assert_eq!(alice.get_version_num(), 5);
/// ```
pub fn compute_root(domain: &str, business_key: &str) -> uuid::Uuid {
    let mut name = String::with_capacity("angzarr".len() + domain.len() + business_key.len());
    name.push_str("angzarr");
    name.push_str(domain);
    name.push_str(business_key);
    uuid::Uuid::new_v5(&ROOT_NAMESPACE, name.as_bytes())
}

/// [`compute_root`] as the wire [`Uuid`], ready for a cover.
pub fn compute_root_proto(domain: &str, business_key: &str) -> Uuid {
    compute_root(domain, business_key).into()
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

    /// Values computed by Python's `uuid.uuid5(uuid.NAMESPACE_OID,
    /// "angzarr" + domain + key)`, the seed SDK's formula.
    #[test]
    fn compute_root_matches_the_seed_formula() {
        for (domain, key, expected) in [
            ("player", "alice", "bd0feec0-8ef4-5b55-b58d-3ca64fd9c857"),
            ("table", "main-1", "8c4aa8ea-23d5-56ea-be47-9479d8f358a0"),
            (
                "orders",
                "order-001",
                "62df42d9-ccb5-5c1d-8676-2ac1ff852a15",
            ),
            ("", "", "eadf12b6-bcf7-5938-a34f-0300d769cbef"),
            (
                "player",
                "\u{dc}n\u{ef}code \u{2660}",
                "e26346f6-1ee0-507e-ab5c-4bd76e5b95e4",
            ),
        ] {
            assert_eq!(
                compute_root(domain, key).to_string(),
                expected,
                "{domain:?} {key:?}"
            );
            assert_eq!(compute_root_proto(domain, key).to_string(), expected);
        }
    }

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
