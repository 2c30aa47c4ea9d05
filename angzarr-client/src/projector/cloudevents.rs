//! CloudEvents: events a projector publishes for the outside world.
//!
//! A projector whose handlers return [`CloudEvent`]s answers
//! `projection = Any(angzarr.CloudEventsResponse)`. Attributes left empty
//! get the protocol's defaults, filled by the runtime from the event being
//! projected:
//!
//! | attribute | default |
//! |---|---|
//! | `id` | `{domain}:{root hex}:{sequence}` (`:{n}` appended for the n-th further event of the same page) |
//! | `type` | the projected event's message name, e.g. `examples.PlayerJoined` |
//! | `source` | `angzarr/{domain}` |
//! | `subject` | the root, in hex |
//! | extension `correlationid` | the correlation id, when there is one |
//!
//! With the `json` feature, [`to_json`] renders one as CloudEvents 1.0
//! structured JSON, `data` in the proto3 JSON mapping of its message.

use std::collections::BTreeMap;

use angzarr_proto::{Any, AnyExt, Cover};
use prost::Name;

/// A CloudEvent under construction: its data (a protobuf message) and the
/// attributes the handler chooses; the rest are defaulted.
///
/// ```
/// use angzarr_client::CloudEvent;
/// use angzarr_client::proto::NoOp;
///
/// let event = CloudEvent::new(&NoOp::default())
///     .with_type("com.example.placeholder")
///     .with_extension("tenant", "acme");
/// assert_eq!(event.data().map(|data| data.type_url.as_str()), Some("type.googleapis.com/angzarr.NoOp"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudEvent {
    data: Option<Any>,
    r#type: Option<String>,
    id: Option<String>,
    source: Option<String>,
    subject: Option<String>,
    extensions: BTreeMap<String, String>,
}

impl CloudEvent {
    /// A CloudEvent carrying `data`.
    pub fn new<M: Name>(data: &M) -> Self {
        CloudEvent::from_any(Any::pack(data))
    }

    /// A CloudEvent carrying an already packed message.
    pub fn from_any(data: Any) -> Self {
        CloudEvent {
            data: Some(data),
            ..CloudEvent::default()
        }
    }

    /// A CloudEvent without data.
    pub fn empty() -> Self {
        CloudEvent::default()
    }

    /// Sets `type` (default: the projected event's message name).
    pub fn with_type(mut self, r#type: impl Into<String>) -> Self {
        self.r#type = Some(r#type.into());
        self
    }

    /// Sets `id` (default: `{domain}:{root hex}:{sequence}`).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets `source` (default: `angzarr/{domain}`).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets `subject` (default: the root in hex).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds an extension attribute (lower-case letters and digits, per the
    /// CloudEvents specification; [`to_json`] refuses other names).
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.insert(name.into(), value.into());
        self
    }

    /// The packed data, if any.
    pub fn data(&self) -> Option<&Any> {
        self.data.as_ref()
    }

    /// The event with every empty attribute defaulted from the projected
    /// event: `position` is the index of this CloudEvent among those the same
    /// page produced.
    pub(crate) fn complete(
        self,
        cover: &Cover,
        sequence: Option<u32>,
        projected: &Any,
        position: usize,
    ) -> angzarr_proto::CloudEvent {
        let root = cover
            .root
            .as_ref()
            .map(|root| root.to_hex())
            .unwrap_or_default();
        let id = self.id.filter(|id| !id.is_empty()).unwrap_or_else(|| {
            let sequence = sequence.map_or_else(String::new, |s| s.to_string());
            match position {
                0 => format!("{}:{root}:{sequence}", cover.domain),
                n => format!("{}:{root}:{sequence}:{n}", cover.domain),
            }
        });
        let mut extensions: std::collections::HashMap<String, String> =
            self.extensions.into_iter().collect();
        if !cover.correlation_id.is_empty() {
            extensions
                .entry("correlationid".to_owned())
                .or_insert_with(|| cover.correlation_id.clone());
        }
        angzarr_proto::CloudEvent {
            r#type: self
                .r#type
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| projected.type_name().to_owned()),
            data: self.data,
            extensions,
            id: Some(id),
            source: Some(
                self.source
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("angzarr/{}", cover.domain)),
            ),
            subject: Some(self.subject.filter(|s| !s.is_empty()).unwrap_or(root)),
        }
    }
}

#[cfg(feature = "json")]
pub use json::{to_json, to_json_string, CloudEventError};

/// Descriptor pools: where [`to_json`] finds the data's message types (the
/// `prost-reflect` crate).
#[cfg(feature = "json")]
pub use prost_reflect::DescriptorPool;

#[cfg(feature = "json")]
mod json {
    use angzarr_proto::AnyExt;
    use prost_reflect::{DescriptorPool, DynamicMessage};
    use serde_json::{Map, Value};

    /// Why a CloudEvent cannot be rendered as JSON.
    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    #[non_exhaustive]
    pub enum CloudEventError {
        /// A required attribute (`id`, `source`, `type`) is empty.
        #[error("the CloudEvent has no `{0}`")]
        MissingAttribute(&'static str),
        /// An extension's name breaks the specification's rules.
        #[error("extension `{name}` is not a valid CloudEvents attribute name: {reason}")]
        InvalidExtension {
            /// The name.
            name: String,
            /// What is wrong with it.
            reason: &'static str,
        },
        /// The data's message type is not in the descriptor pool.
        #[error("the data's type `{0}` is not in the descriptor pool")]
        UnknownType(String),
        /// The data does not decode as its type.
        #[error("the data does not decode as `{type_name}`: {reason}")]
        UndecodableData {
            /// The data's message type.
            type_name: String,
            /// What the decoder reported.
            reason: String,
        },
        /// The data could not be rendered as JSON.
        #[error("the data of type `{type_name}` cannot be rendered as JSON: {reason}")]
        Render {
            /// The data's message type.
            type_name: String,
            /// What the renderer reported.
            reason: String,
        },
    }

    const RESERVED: &[&str] = &[
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "data",
        "data_base64",
    ];

    /// Renders `event` as a CloudEvents 1.0 structured-mode JSON object:
    /// `specversion`, `id`, `source`, `type`, `subject`, `datacontenttype`
    /// (`application/json` when there is data), `dataschema` (the data's type
    /// URL), `data` as the proto3 JSON mapping of its message (found in
    /// `pool` by the type URL's name), and every extension as a top-level
    /// string attribute.
    ///
    /// ```
    /// use angzarr_client::cloudevents::{to_json, DescriptorPool};
    /// use angzarr_client::proto::{AnyExt, Any, CloudEvent, NoOp, FILE_DESCRIPTOR_SET};
    ///
    /// let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap();
    /// let event = CloudEvent {
    ///     r#type: "examples.TableCreated".into(),
    ///     id: Some("table:00ff:0".into()),
    ///     source: Some("angzarr/table".into()),
    ///     subject: Some("00ff".into()),
    ///     data: Some(Any::pack(&NoOp { reason: "set up".into(), ..Default::default() })),
    ///     extensions: [("correlationid".to_owned(), "c-1".to_owned())].into(),
    /// };
    /// let json = to_json(&event, &pool).unwrap();
    /// assert_eq!(json["specversion"], "1.0");
    /// assert_eq!(json["data"]["reason"], "set up");
    /// assert_eq!(json["correlationid"], "c-1");
    /// ```
    pub fn to_json(
        event: &angzarr_proto::CloudEvent,
        pool: &DescriptorPool,
    ) -> Result<Value, CloudEventError> {
        let required = |value: Option<&str>, name: &'static str| match value {
            Some(value) if !value.is_empty() => Ok(Value::String(value.to_owned())),
            _ => Err(CloudEventError::MissingAttribute(name)),
        };
        let mut object = Map::new();
        object.insert("specversion".into(), Value::String("1.0".into()));
        object.insert("id".into(), required(event.id.as_deref(), "id")?);
        object.insert(
            "source".into(),
            required(event.source.as_deref(), "source")?,
        );
        object.insert("type".into(), required(Some(&event.r#type), "type")?);
        if let Some(subject) = event.subject.as_deref().filter(|s| !s.is_empty()) {
            object.insert("subject".into(), Value::String(subject.to_owned()));
        }
        let mut names: Vec<&String> = event.extensions.keys().collect();
        names.sort();
        for name in names {
            check_extension(name)?;
            object.insert(name.clone(), Value::String(event.extensions[name].clone()));
        }
        if let Some(data) = &event.data {
            let type_name = data.type_name();
            let descriptor = pool
                .get_message_by_name(type_name)
                .ok_or_else(|| CloudEventError::UnknownType(type_name.to_owned()))?;
            let message =
                DynamicMessage::decode(descriptor, data.value.as_slice()).map_err(|error| {
                    CloudEventError::UndecodableData {
                        type_name: type_name.to_owned(),
                        reason: error.to_string(),
                    }
                })?;
            let rendered =
                serde_json::to_value(&message).map_err(|error| CloudEventError::Render {
                    type_name: type_name.to_owned(),
                    reason: error.to_string(),
                })?;
            object.insert(
                "datacontenttype".into(),
                Value::String("application/json".into()),
            );
            object.insert("dataschema".into(), Value::String(data.type_url.clone()));
            object.insert("data".into(), rendered);
        }
        Ok(Value::Object(object))
    }

    /// [`to_json`], as text.
    pub fn to_json_string(
        event: &angzarr_proto::CloudEvent,
        pool: &DescriptorPool,
    ) -> Result<String, CloudEventError> {
        Ok(to_json(event, pool)?.to_string())
    }

    fn check_extension(name: &str) -> Result<(), CloudEventError> {
        let invalid = |reason| CloudEventError::InvalidExtension {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(invalid("only lower-case letters and digits are allowed"));
        }
        if RESERVED.contains(&name) {
            return Err(invalid("it is a context attribute of the specification"));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use angzarr_proto::{Any, NoOp};

        fn event() -> angzarr_proto::CloudEvent {
            angzarr_proto::CloudEvent {
                r#type: "t".into(),
                id: Some("i".into()),
                source: Some("s".into()),
                ..Default::default()
            }
        }

        #[test]
        fn bad_events_are_named() {
            let pool = DescriptorPool::decode(angzarr_proto::FILE_DESCRIPTOR_SET).unwrap();
            let mut no_id = event();
            no_id.id = None;
            assert_eq!(
                to_json(&no_id, &pool).unwrap_err().to_string(),
                "the CloudEvent has no `id`"
            );
            let mut bad = event();
            bad.extensions.insert("Tenant".into(), "x".into());
            assert_eq!(
                to_json(&bad, &pool).unwrap_err().to_string(),
                "extension `Tenant` is not a valid CloudEvents attribute name: only lower-case letters and digits are allowed"
            );
            let mut reserved = event();
            reserved.extensions.insert("data".into(), "x".into());
            assert!(to_json(&reserved, &pool).is_err());
            let mut unknown = event();
            unknown.data = Some(Any {
                type_url: "type.googleapis.com/nowhere.Thing".into(),
                value: vec![],
            });
            assert_eq!(
                to_json(&unknown, &pool).unwrap_err().to_string(),
                "the data's type `nowhere.Thing` is not in the descriptor pool"
            );
            let mut corrupt = event();
            corrupt.data = Some(Any {
                type_url: "type.googleapis.com/angzarr.NoOp".into(),
                value: vec![0xff, 0xff],
            });
            assert!(matches!(
                to_json(&corrupt, &pool),
                Err(CloudEventError::UndecodableData { .. })
            ));
        }

        #[test]
        fn data_uses_the_proto3_json_mapping() {
            let pool = DescriptorPool::decode(angzarr_proto::FILE_DESCRIPTOR_SET).unwrap();
            let mut with_data = event();
            with_data.data = Some(<Any as angzarr_proto::AnyExt>::pack(&NoOp {
                original_sequence: 3,
                cascade_id: "c".into(),
                reason: String::new(),
            }));
            let json = to_json(&with_data, &pool).unwrap();
            assert_eq!(json["data"]["originalSequence"], 3);
            assert_eq!(json["data"]["cascadeId"], "c");
            assert!(json["data"].get("reason").is_none(), "defaults are omitted");
            assert_eq!(json["datacontenttype"], "application/json");
            assert_eq!(json["dataschema"], "type.googleapis.com/angzarr.NoOp");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::NoOp;

    #[test]
    fn empty_attributes_get_the_protocol_defaults() {
        let cover = Cover::new("table", uuid::Uuid::from_u128(0xff)).with_correlation_id("c-9");
        let projected = Any::pack(&NoOp::default());
        let first = CloudEvent::new(&NoOp::default()).complete(&cover, Some(4), &projected, 0);
        let root = "000000000000000000000000000000ff";
        assert_eq!(first.id.as_deref(), Some(&*format!("table:{root}:4")));
        assert_eq!(first.r#type, "angzarr.NoOp");
        assert_eq!(first.source.as_deref(), Some("angzarr/table"));
        assert_eq!(first.subject.as_deref(), Some(root));
        assert_eq!(
            first.extensions.get("correlationid").map(String::as_str),
            Some("c-9")
        );
        let second = CloudEvent::empty().complete(&cover, Some(4), &projected, 1);
        assert_eq!(second.id.as_deref(), Some(&*format!("table:{root}:4:1")));

        let chosen = CloudEvent::empty()
            .with_id("x")
            .with_type("y")
            .with_source("z")
            .with_subject("w")
            .with_extension("correlationid", "mine")
            .complete(&cover, Some(4), &projected, 0);
        assert_eq!(
            (
                chosen.id.as_deref(),
                chosen.r#type.as_str(),
                chosen.source.as_deref(),
                chosen.subject.as_deref()
            ),
            (Some("x"), "y", Some("z"), Some("w"))
        );
        assert_eq!(
            chosen.extensions.get("correlationid").map(String::as_str),
            Some("mine")
        );
    }
}
